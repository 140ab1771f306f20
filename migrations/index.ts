// Every migration, in order. Listed explicitly (no globs) so the same list works
// from TypeScript under jest and from the built JavaScript.
import { Initial1795793609080 } from './1795793609080-Initial';
import { PluginPackages1795795387826 } from './1795795387826-PluginPackages';
import { ProgressStepOnce1795800000000 } from './1795800000000-ProgressStepOnce';

export const MIGRATIONS = [Initial1795793609080, PluginPackages1795795387826, ProgressStepOnce1795800000000];
