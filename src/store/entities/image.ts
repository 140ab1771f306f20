import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { SampleSetRow } from './sample-set';

/** One PNG of a sample set, stored in PostgreSQL so every replica can serve it. */
@Entity('images')
@Index('images_set_index_idx', ['sampleSetId', 'index'], { unique: true })
export class ImageRow {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'uuid', name: 'sample_set_id' }) sampleSetId!: string;
  @ManyToOne(() => SampleSetRow, (set) => set.images, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'sample_set_id' })
  sampleSet?: Relation<SampleSetRow>;
  @Column({ type: 'int' }) index!: number;
  @Column({ type: 'int' }) width!: number;
  @Column({ type: 'int' }) height!: number;
  @Column({ type: 'bytea', select: false }) png!: Buffer;
}
