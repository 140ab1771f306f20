/** Installing and removing plugin packages at run time (admin only). */
import type { PluginRow } from '../store/entities';
import type { Result } from '../shared/result';

export interface InstallRequest {
  /** Replace an installed version with an older one (refused otherwise). */
  allowDowngrade?: boolean;
}

export interface PluginAdmin {
  install(spec: string, request?: InstallRequest): Promise<Result<PluginRow>>;
  uninstall(name: string): Promise<Result<boolean>>;
}
