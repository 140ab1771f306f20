import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type PluginSourceValue = 'BUILTIN' | 'INSTALLED';
export type PluginStatusValue = 'LOADED' | 'FAILED';

/** A plugin package as last seen by a loader: one row per package name. */
@Entity('plugins')
export class PluginRow {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text', unique: true }) name!: string;
  @Column({ type: 'text' }) version!: string;
  @Column({ type: 'enum', enum: ['BUILTIN', 'INSTALLED'], enumName: 'plugin_source' })
  source!: PluginSourceValue;
  @Column({ type: 'enum', enum: ['LOADED', 'FAILED'], enumName: 'plugin_status' }) status!: PluginStatusValue;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  /** How it was installed (npm spec, directory or tarball) so other machines can install the same. */
  @Column({ type: 'text', nullable: true }) spec!: string | null;
  @Column({ type: 'text', nullable: true }) integrity!: string | null;
  @CreateDateColumn({ type: 'timestamptz', name: 'created_at' }) createdAt!: Date;
  @UpdateDateColumn({ type: 'timestamptz', name: 'updated_at' }) updatedAt!: Date;
}
