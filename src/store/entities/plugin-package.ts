import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The tarball of a plugin installed from a local directory or .tgz, kept in
 * PostgreSQL so a worker on another machine can install exactly the same
 * package (checked against `integrity`). Registry installs need no copy.
 */
@Entity('plugin_packages')
@Index('plugin_packages_name_version_idx', ['name', 'version'], { unique: true })
export class PluginPackageRow {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ type: 'text' }) version!: string;
  @Column({ type: 'text' }) integrity!: string;
  @Column({ type: 'bytea', select: false }) tarball!: Buffer;
  @CreateDateColumn({ type: 'timestamptz', name: 'created_at' }) createdAt!: Date;
}
