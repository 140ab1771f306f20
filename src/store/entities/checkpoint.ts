import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type CheckpointKindValue = 'PROGRESS' | 'FINAL';

/**
 * Serialized training state. PROGRESS rows let another worker resume a run
 * (only the latest is kept); the FINAL row is the trained flow used to sample.
 */
@Entity('checkpoints')
@Index('checkpoints_prompt_kind_idx', ['promptId', 'kind'], { unique: true })
export class CheckpointRow {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'uuid', name: 'prompt_id' }) promptId!: string;
  @Column({ type: 'enum', enum: ['PROGRESS', 'FINAL'], enumName: 'checkpoint_kind' })
  kind!: CheckpointKindValue;
  @Column({ type: 'int' }) step!: number;
  @Column({ type: 'bytea', select: false }) data!: Buffer;
  @CreateDateColumn({ type: 'timestamptz', name: 'created_at' }) createdAt!: Date;
}
