import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  OneToMany,
  PrimaryGeneratedColumn,
  type Relation,
} from 'typeorm';
import { ImageRow } from './image';

export type SampleSetKindValue = 'PREVIEW' | 'SAMPLE';

@Entity('sample_sets')
@Index('sample_sets_prompt_idx', ['promptId', 'createdAt'])
export class SampleSetRow {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'uuid', name: 'prompt_id', nullable: true }) promptId!: string | null;
  @Column({ type: 'uuid', name: 'generator_id' }) generatorId!: string;
  @Column({ type: 'enum', enum: ['PREVIEW', 'SAMPLE'], enumName: 'sample_set_kind' })
  kind!: SampleSetKindValue;
  @Column({ type: 'int', nullable: true }) step!: number | null;
  @Column({ type: 'int', nullable: true }) seed!: number | null;
  @Column({ type: 'double precision', default: 1 }) truncation!: number;
  @Column({ type: 'jsonb', nullable: true }) condition!: number[] | null;
  @Column({ type: 'int' }) count!: number;
  @OneToMany(() => ImageRow, (image) => image.sampleSet)
  images?: Relation<ImageRow>[];
  @CreateDateColumn({ type: 'timestamptz', name: 'created_at' }) createdAt!: Date;
}
