/**
 * The one queue every change to a process's plugins goes through: installs
 * and uninstalls by the admin, installs of a recorded version by a worker
 * (plugin sync), and the installer's own changes to `<dataDir>/plugins`.
 * npm, the installer's prefix and the registry are not re-entrant, and a
 * change spans all three plus the database: two at once could record one
 * version and load another. Keyed by the data directory, as the installer's
 * files are (processes sharing one also take the installer's file lock).
 */
import * as path from 'node:path';
import { SerialLock } from './serial-lock';

const changes = new SerialLock();

/** Runs `work` when no other plugin change of this data directory is running in this process. */
export function withPluginChange<T>(dataDir: string, work: () => Promise<T>): Promise<T> {
  return changes.run(path.resolve(dataDir), work);
}
