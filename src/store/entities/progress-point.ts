import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { StoredProgress } from './prompt';

/** Training history of a prompt (one row per reported step, once even when a resumed job repeats it), for curves. */
@Entity('progress_points')
@Index('progress_points_prompt_step_idx', ['promptId', 'step'], { unique: true })
export class ProgressPointRow {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id!: string;
  @Column({ type: 'uuid', name: 'prompt_id' }) promptId!: string;
  @Column({ type: 'int' }) step!: number;
  @Column({ type: 'jsonb' }) data!: StoredProgress;
}
