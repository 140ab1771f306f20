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
import { GeneratorRow } from './generator';

export type PromptStatusValue = 'QUEUED' | 'TRAINING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
export const PROMPT_STATUSES: PromptStatusValue[] = [
  'QUEUED',
  'TRAINING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
];

/** One composed control term, with the plugin version it was validated against. */
export interface StoredControlTerm {
  controlId: string;
  controlName: string;
  weight: number;
  params: unknown;
  pluginName: string | null;
  pluginVersion: string | null;
}

export interface StoredTrainingOptions {
  steps: number;
  batchSize: number;
  learningRate: number;
  flowBlocks: number;
  hiddenUnits: number;
  seed: number;
  previewEvery: number;
}

export interface StoredProgress {
  step: number;
  totalSteps: number;
  loss: number | null;
  logDet: number | null;
  energies: Array<{ control: string; value: number }>;
  stepsPerSecond: number | null;
  etaSeconds: number | null;
  gradNorm?: number | null;
  at: string;
}

@Entity('prompts')
@Index('prompts_created_idx', ['createdAt', 'id'])
export class PromptRow {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text', nullable: true }) name!: string | null;
  @Column({
    type: 'enum',
    enum: PROMPT_STATUSES,
    enumName: 'prompt_status',
    default: 'QUEUED',
  })
  status!: PromptStatusValue;
  @Column({ type: 'uuid', name: 'generator_id' }) generatorId!: string;
  @ManyToOne(() => GeneratorRow, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'generator_id' })
  generator?: Relation<GeneratorRow>;
  @Column({ type: 'jsonb' }) controls!: StoredControlTerm[];
  @Column({ type: 'jsonb' }) training!: StoredTrainingOptions;
  /** Plugin name → version used, frozen at creation (a later upgrade does not change a prompt). */
  @Column({ type: 'jsonb', name: 'plugin_versions', default: () => "'{}'" }) pluginVersions!: Record<
    string,
    string
  >;
  @Column({ type: 'jsonb', nullable: true }) progress!: StoredProgress | null;
  @Column({ type: 'jsonb', nullable: true }) metrics!: Record<string, unknown> | null;
  /** Control calibration state (e.g. de-biasing β̂), fitted once and reused on resume. */
  @Column({ type: 'jsonb', nullable: true }) calibration!: Record<string, unknown> | null;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @Column({ type: 'text', name: 'job_id', nullable: true }) jobId!: string | null;
  @Column({ type: 'int', default: 0 }) attempts!: number;
  @CreateDateColumn({ type: 'timestamptz', name: 'created_at' }) createdAt!: Date;
  @Column({ type: 'timestamptz', name: 'started_at', nullable: true }) startedAt!: Date | null;
  @Column({ type: 'timestamptz', name: 'finished_at', nullable: true }) finishedAt!: Date | null;
}
