/**
 * Admin installs and removals: npm does the installing (into the data
 * directory, lifecycle scripts off) and verifies the package loads; only then
 * is it added to the registry and recorded in the database. One plugin change
 * at a time (`withPluginChange`, shared with plugin sync and the installer).
 */
import { promises as fs } from 'node:fs';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/logger';
import type { ErrorCode } from '../shared/error-code';
import { installPlugin, uninstallPlugin } from '../plugins/installer';
import { loadDeclaredModels } from '../plugins/model-check';
import { withPluginChange } from '../plugins/plugin-changes';
import type { InstallRequest, PluginAdmin } from './plugin-admin';
import type { Result } from '../shared/result';
import type { PluginRow } from '../store/entities';
import type { Store } from '../store/store';
import type { TensorRuntime } from '../plugins/tensor-runtime';

export class RuntimePluginAdmin implements PluginAdmin {
  constructor(
    private readonly store: Store,
    private readonly runtime: TensorRuntime,
    private readonly config: Config,
    /** Where admin operations are written down (what, which version, from where). */
    private readonly log?: Logger,
  ) {}

  /** Runs after every other plugin change of this process (npm and the registry are not re-entrant). */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    return withPluginChange(this.config.dataDir, work);
  }

  install(spec: string, request: InstallRequest = {}): Promise<Result<PluginRow>> {
    return this.serial(async () => {
      const refused = (message: string, code: ErrorCode) => {
        this.log?.warn(`plugin install refused: ${showSpec(spec)}: ${code}: ${message}`);
        return { ok: false as const, errors: [{ field: ['spec'], message, code }] };
      };
      const builtin = this.runtime.registry
        .listPlugins()
        .find((p) => p.source === 'BUILTIN' && (spec === p.name || spec.startsWith(`${p.name}@`)));
      if (builtin)
        return refused(`${builtin.name} is a built-in plugin and cannot be replaced`, 'INSTALL_FAILED');
      const result = await installPlugin(spec, {
        dataDir: this.config.dataDir,
        conflicts: this.runtime.registry,
        allowDowngrade: request.allowDowngrade === true,
        // Every declared model must load now, not when a prompt first uses it.
        verify: (plugin) => loadDeclaredModels(plugin, this.runtime.tf),
      });
      if (!result.ok) {
        return refused(result.message, INSTALL_CODES[result.code] ?? 'INSTALL_FAILED');
      }
      if (result.tarball) {
        // A local package exists only on this machine: keep its bytes for the other workers.
        await this.store.savePluginPackage(
          result.plugin.name,
          result.plugin.version,
          result.integrity,
          await fs.readFile(result.tarball),
        );
      }
      const stored = this.runtime.registry.add(result.plugin);
      const row = await this.store.recordPlugin(stored, {
        spec: result.resolvedSpec ?? result.spec,
        integrity: result.integrity,
      });
      const replaced = result.replacedVersion
        ? ` (replacing ${result.replacedVersion}${request.allowDowngrade ? ', downgrade allowed' : ''})`
        : '';
      this.log?.info(
        `plugin installed: ${stored.name}@${stored.version}${replaced} from ${showSpec(spec)}, integrity ${result.integrity.slice(0, 19)}…, status ${stored.status}`,
      );
      return { ok: true, value: row };
    });
  }

  uninstall(name: string): Promise<Result<boolean>> {
    return this.serial(async () => {
      const loaded = this.runtime.registry.plugin(name);
      const row = await this.store.pluginByName(name);
      if (loaded?.source === 'BUILTIN' || row?.source === 'BUILTIN') {
        return {
          ok: false,
          errors: [
            {
              field: ['name'],
              message: `${name} is a built-in plugin and cannot be uninstalled`,
              code: 'BAD_USER_INPUT',
            },
          ],
        };
      }
      if (!loaded && !row) {
        return {
          ok: false,
          errors: [{ field: ['name'], message: `no installed plugin is named ${name}`, code: 'NOT_FOUND' }],
        };
      }
      const result = await uninstallPlugin(name, { dataDir: this.config.dataDir });
      if (!result.ok) {
        this.log?.warn(`plugin uninstall failed: ${name}: ${result.code}: ${result.message}`);
        return { ok: false, errors: [{ field: ['name'], message: result.message, code: 'INSTALL_FAILED' }] };
      }
      this.runtime.registry.remove(name);
      await this.store.forgetPlugin(name);
      this.log?.info(`plugin uninstalled: ${name}@${loaded?.version ?? row?.version ?? '?'}`);
      return { ok: true, value: true };
    });
  }
}

/** A spec as the log shows it: credentials in a URL are masked. */
function showSpec(spec: string): string {
  return JSON.stringify(spec.replace(/\/\/[^/@\s]+@/, '//***@'));
}

/** The installer's refusals a client can act on keep their own code; every other failure is INSTALL_FAILED. */
const INSTALL_CODES: Partial<Record<string, ErrorCode>> = {
  NOT_FOUND: 'NOT_FOUND',
  DOWNGRADE: 'DOWNGRADE_REFUSED',
  INVALID_SPEC: 'INVALID_SPEC',
  UNSUPPORTED_SPEC: 'UNSUPPORTED_SPEC',
};
