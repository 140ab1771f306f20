/** Installing and removing plugin packages at run time (admin only). */
import type { PluginRow } from '../store/entities';
import type { Result } from './prompts';

export interface PluginAdmin {
  install(spec: string): Promise<Result<PluginRow>>;
  uninstall(name: string): Promise<Result<boolean>>;
}
