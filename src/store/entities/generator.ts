import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  type Relation,
} from 'typeorm';
import { PluginRow } from './plugin';

/**
 * A generator offered by a plugin, or a trained prompt used as a generator
 * (iterative control). Rows are never deleted while prompts refer to them:
 * an uninstalled plugin's generators become unavailable instead.
 */
@Entity('generators')
export class GeneratorRow {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index({ unique: true }) @Column({ type: 'text' }) name!: string;
  @Column({ type: 'text' }) title!: string;
  @Column({ type: 'text', nullable: true }) description!: string | null;
  @Column({ type: 'int', name: 'latent_dim' }) latentDim!: number;
  @Column({ type: 'int' }) width!: number;
  @Column({ type: 'int' }) height!: number;
  @Column({ type: 'int' }) channels!: number;
  @Column({ type: 'uuid', name: 'plugin_id', nullable: true }) pluginId!: string | null;
  @ManyToOne(() => PluginRow, { nullable: true, onDelete: 'SET NULL' })
  @JoinColumn({ name: 'plugin_id' })
  plugin?: Relation<PluginRow> | null;
  /** Set when this generator is a trained prompt (G∘f). */
  @Column({ type: 'uuid', name: 'base_prompt_id', nullable: true }) basePromptId!: string | null;
  @Column({ type: 'boolean', default: true }) available!: boolean;
  @CreateDateColumn({ type: 'timestamptz', name: 'created_at' }) createdAt!: Date;
}
