/**
 * Creating and cancelling prompts. A prompt is recorded QUEUED together with
 * its training job in one transaction: no prompt without a job, no job
 * without a prompt.
 */
import type { Config } from '../shared/config';
import { topics, type EventBus } from '../events/event-bus';
import type { JobQueue } from '../jobs/queue';
import type { Logger } from '../shared/logger';
import type { ErrorCode } from '../shared/error-code';
import type { Result, UserErrorData } from '../shared/result';
import type { ControlDefinition } from '../sdk';
import { validateParams } from '../plugins/validate';
import { ASSET_REFUSAL, checkAssetLocation, type AssetPolicy } from '../plugins/asset-policy';
import type { PluginRow, PromptRow, StoredControlTerm } from '../store/entities';
import type { Store } from '../store/store';
import { progressEventOf } from '../store/prompt-status';
import { findControl, findGenerator } from '../catalog/find';
import { resolveTrainingOptions } from './training-options';

export interface CreatePromptData {
  generator: string;
  controls: Array<{ control: string; weight?: number | null; params?: unknown }>;
  training?: Parameters<typeof resolveTrainingOptions>[0];
  name?: string | null;
}

/** Smallest control weight λ accepted (anything smaller contributes nothing a float32 step can see). */
export const MIN_WEIGHT = 1e-6;

/**
 * What prompt creation may ask the loaded plugins (the runtime's registry): a control's
 * definition, for its optional `checkParams`, and the names of the classifiers on offer.
 */
export interface PromptCatalog {
  controlDefinition(name: string): ControlDefinition | undefined;
  classifiers(): string[];
  /** Class names of a classifier, when known without loading it. */
  classNames?(classifier: string): string[] | undefined;
}

export class PromptService {
  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly events: EventBus,
    private readonly queue: () => JobQueue | null,
    /** Without it, params are checked against the stored JSON Schema only. */
    private readonly catalog?: () => PromptCatalog | null | undefined,
    private readonly log?: Logger,
    /** Told when an event could not be published (the change itself is stored). */
    private readonly onPublishError: (err: Error) => void = () => undefined,
    /**
     * Why the server cannot take new training now (e.g. its disk is full), or
     * null. A prompt accepted then could only fail later, or worse.
     */
    private readonly refusal: () => string | null = () => null,
  ) {}

  async create(input: CreatePromptData): Promise<Result<PromptRow>> {
    const errors: UserErrorData[] = [];
    const bad = (field: string[], message: string, code: ErrorCode = 'BAD_USER_INPUT') =>
      errors.push({ field, message, code });

    const generator = await findGenerator(this.store, input.generator);
    if (!generator) bad(['generator'], `unknown generator "${input.generator}"`, 'NOT_FOUND');
    else if (!generator.available)
      bad(
        ['generator'],
        `generator "${generator.name}" is not available (its plugin was uninstalled or failed to load)`,
        'UNAVAILABLE',
      );

    if (input.name != null && input.name.length > 200) bad(['name'], 'name must be at most 200 characters');
    if (input.controls.length === 0) bad(['controls'], 'at least one control is needed');
    if (input.controls.length > 16) bad(['controls'], 'at most 16 controls can be composed');

    const terms: StoredControlTerm[] = [];
    const pluginVersions: Record<string, string> = {};
    const pluginCache = new Map<string, PluginRow | null>();
    const pluginOf = async (id: string | null) => {
      if (!id) return null;
      if (!pluginCache.has(id)) pluginCache.set(id, await this.store.pluginById(id));
      return pluginCache.get(id) ?? null;
    };
    if (generator?.pluginId) {
      const plugin = await pluginOf(generator.pluginId);
      if (plugin) pluginVersions[plugin.name] = plugin.version;
    }
    let conditional = 0;
    for (const [i, term] of input.controls.entries()) {
      const at = ['controls', String(i)];
      const control = await findControl(this.store, term.control);
      if (!control) {
        bad([...at, 'control'], `unknown control "${term.control}"`, 'NOT_FOUND');
        continue;
      }
      if (!control.available) {
        bad(
          [...at, 'control'],
          `control "${control.name}" is not available (its plugin was uninstalled or failed to load)`,
          'UNAVAILABLE',
        );
        continue;
      }
      const weight = term.weight ?? 1;
      // A lower bound too: λ = 1e-320 (subnormal) is accepted by "> 0" and only wastes a training run.
      if (!Number.isFinite(weight) || weight < MIN_WEIGHT || weight > 1e6) {
        bad([...at, 'weight'], `weight must be a number from ${MIN_WEIGHT} to 1e6 (got ${weight})`);
      }
      const checked = validateParams({ paramsSchema: control.paramsSchema }, term.params);
      for (const e of checked.errors) {
        bad(
          [...at, 'params', ...e.field],
          `params${e.field.length ? '.' + e.field.join('.') : ''} ${e.message}`,
        );
      }
      // Files and URLs the control would open: only plugin assets and what the admin allows.
      for (const a of checked.assets ?? []) {
        if (!checkAssetLocation(a.value, this.assetPolicy()).ok) {
          bad(
            [...at, 'params', ...a.field],
            `params.${a.field.join('.')} ${ASSET_REFUSAL}`,
            'FORBIDDEN_ASSET',
          );
        }
      }
      if (checked.valid) {
        for (const e of this.checkParams(control.name, checked.params)) {
          bad(
            [...at, 'params', ...e.field],
            `params${e.field.length ? '.' + e.field.join('.') : ''} ${e.message}`,
          );
        }
      }
      if (control.conditionDim) conditional += 1;
      const plugin = await pluginOf(control.pluginId);
      if (plugin) pluginVersions[plugin.name] = plugin.version;
      terms.push({
        controlId: control.id,
        controlName: control.name,
        weight,
        params: checked.params,
        pluginName: plugin?.name ?? null,
        pluginVersion: plugin?.version ?? null,
      });
    }
    if (conditional > 1)
      bad(['controls'], 'at most one conditional control (one with conditionDim) per prompt');

    const { options, errors: optionErrors } = resolveTrainingOptions(input.training, this.config.limits, {
      conditional: conditional > 0,
    });
    for (const e of optionErrors) bad(e.field, e.message);

    const queue = this.queue();
    if (!queue && errors.length === 0) bad([], 'the training queue is not running', 'UNAVAILABLE');
    const maxQueued = this.config.security?.maxQueuedPrompts ?? 0;
    if (errors.length === 0 && maxQueued > 0) {
      // Checked before the insert, so concurrent requests may pass it together: a bound, not an exact count.
      const live = await this.store.countLivePrompts();
      if (live >= maxQueued)
        bad(
          [],
          `the training queue is full (${live} prompts queued or training, limit ${maxQueued}): try again later`,
          'QUEUE_FULL',
        );
    }
    const refused = errors.length === 0 ? this.refusal() : null;
    if (refused) bad([], refused, 'UNAVAILABLE');
    if (errors.length > 0 || !generator || !queue) return { ok: false, errors };

    const row = await this.store.createQueuedPrompt(
      {
        name: input.name ?? null,
        generatorId: generator.id,
        controls: terms,
        training: options,
        pluginVersions,
      },
      (promptId, executeSql) => queue.enqueueTraining({ promptId }, executeSql),
    );
    return { ok: true, value: row };
  }

  private assetPolicy(): AssetPolicy {
    const s = this.config.security;
    return { dirs: s?.assetDirs ?? [], urlPrefixes: s?.assetUrlPrefixes ?? [] };
  }

  /** The control's own `checkParams` (e.g. an unknown classifier name), when a catalog is known. */
  private checkParams(controlName: string, params: unknown): { field: string[]; message: string }[] {
    const catalog = this.catalog?.();
    const definition = catalog?.controlDefinition(controlName);
    if (!catalog || !definition?.checkParams) return [];
    try {
      const classNames = catalog.classNames ? (c: string) => catalog.classNames!(c) : undefined;
      const problems = definition.checkParams(params, {
        classifiers: catalog.classifiers(),
        ...(classNames ? { classNames } : {}),
      });
      if (!Array.isArray(problems)) return [];
      return problems.map((p) => ({
        field: Array.isArray(p?.field) ? p.field.map(String) : [],
        message: typeof p?.message === 'string' ? p.message : String(p?.message ?? 'is invalid'),
      }));
    } catch (e) {
      return [{ field: [], message: `could not be checked: ${(e as Error).message}` }];
    }
  }

  async cancel(promptId: string): Promise<Result<PromptRow>> {
    const { row, changed } = await this.store.cancelPrompt(promptId);
    if (!row) return { ok: false, errors: [{ field: ['id'], message: 'unknown prompt', code: 'NOT_FOUND' }] };
    if (!changed) {
      return {
        ok: false,
        errors: [
          { field: ['id'], message: `the prompt already ended (${row.status})`, code: 'INVALID_STATE' },
        ],
      };
    }
    // The job's owner sees its signal aborted (pg-boss) and the CANCELLED status (between steps).
    if (row.jobId)
      await this.queue()
        ?.cancel(row.jobId)
        .catch(() => undefined);
    this.log?.info(
      `prompt ${row.id} cancelled${row.name ? ` ("${row.name}")` : ''} at step ${row.progress?.step ?? 0}`,
    );
    await this.publishStatus(row);
    return { ok: true, value: row };
  }

  /**
   * Publishes the prompt's current status with its latest progress. Never
   * throws: the change is committed by then, and answering an error for it
   * would tell the client it did not happen (a created prompt would be made
   * again). Subscribers read the stored state when they subscribe and again
   * when the event bus reconnects.
   */
  async publishStatus(row: PromptRow): Promise<void> {
    try {
      await this.events.publish(topics.progress(row.id), progressEventOf(row));
    } catch (err) {
      this.onPublishError(err as Error);
    }
  }
}
