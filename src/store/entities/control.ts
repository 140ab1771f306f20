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

/** A control (an energy) offered by a plugin. */
@Entity('controls')
export class ControlRow {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index({ unique: true }) @Column({ type: 'text' }) name!: string;
  @Column({ type: 'text' }) title!: string;
  @Column({ type: 'text', nullable: true }) description!: string | null;
  @Column({ type: 'jsonb', name: 'params_schema' }) paramsSchema!: Record<string, unknown>;
  @Column({ type: 'int', name: 'condition_dim', nullable: true }) conditionDim!: number | null;
  @Column({ type: 'boolean', default: false }) paired!: boolean;
  @Column({ type: 'uuid', name: 'plugin_id', nullable: true }) pluginId!: string | null;
  @ManyToOne(() => PluginRow, { nullable: true, onDelete: 'SET NULL' })
  @JoinColumn({ name: 'plugin_id' })
  plugin?: Relation<PluginRow> | null;
  @Column({ type: 'boolean', default: true }) available!: boolean;
  @CreateDateColumn({ type: 'timestamptz', name: 'created_at' }) createdAt!: Date;
}
