/**
 * `sample`: feed-forward images from a trained prompt (ε → f → G) or a bare
 * generator (ε → G). The same seed and truncation give the same images.
 */
import { randomInt } from 'node:crypto';
import type { Config } from '../shared/config';
import { encodePng, sampleImages, Flow } from '../engine';
import { findGenerator, generatorById } from '../catalog/find';
import type { Result, UserErrorData } from '../shared/result';
import type { SampleRequest, SampleService } from './samples';
import type { ErrorCode } from '../shared/error-code';
import { idOf } from '../shared/global-id';
import type { SampleSetRow } from '../store/entities';
import type { Store } from '../store/store';
import { buildGenerator, resolveGeneratorChain } from '../catalog/generator-chain';
import { ensurePluginVersions, PluginUnavailable } from '../catalog/plugin-sync';
import type { Logger } from '../shared/logger';
import type { TensorRuntime } from '../plugins/tensor-runtime';

const fail = (errors: UserErrorData[]): Result<never> => ({ ok: false, errors });

interface ConditionRange {
  min: number[];
  max: number[];
  names: string[];
}

/** The trained condition range recorded by the evaluation (metrics.conditional); null for older prompts. */
function conditionRangeOf(metrics: Record<string, unknown> | null): ConditionRange | null {
  const c = metrics?.conditional as Partial<ConditionRange> | undefined;
  if (!c || !Array.isArray(c.min) || !Array.isArray(c.max) || c.min.length !== c.max.length) return null;
  return { min: c.min, max: c.max, names: Array.isArray(c.names) ? c.names : [] };
}

/**
 * A flow is only trained on conditions inside its range; outside, it extrapolates
 * (the images saturate, identical for every seed). Refused, per component, with
 * the range in the message. A margin of 1e-6 of the range absorbs float rounding.
 */
function outsideRange(condition: number[], r: ConditionRange): UserErrorData[] {
  const errors: UserErrorData[] = [];
  condition.forEach((v, j) => {
    const lo = r.min[j]!;
    const hi = r.max[j]!;
    const margin = 1e-6 * Math.max(1, hi - lo);
    if (v < lo - margin || v > hi + margin) {
      const name = r.names[j] ? ` (${r.names[j]})` : '';
      errors.push({
        field: ['condition', String(j)],
        message: `condition[${j}]${name} = ${v} is outside the range this prompt was trained on, [${lo}, ${hi}]`,
        code: 'CONDITION_OUT_OF_RANGE',
      });
    }
  });
  return errors;
}

export class TensorSampleService implements SampleService {
  constructor(
    private readonly store: Store,
    private readonly runtime: TensorRuntime,
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  async sample(request: SampleRequest): Promise<Result<SampleSetRow>> {
    const errors: UserErrorData[] = [];
    const bad = (field: string[], message: string, code: ErrorCode = 'BAD_USER_INPUT') =>
      errors.push({ field, message, code });
    if (Boolean(request.prompt) === Boolean(request.generator)) {
      return fail([
        { field: ['prompt'], message: 'give exactly one of prompt or generator', code: 'BAD_USER_INPUT' },
      ]);
    }
    const count = request.count ?? 16;
    const max = this.config.limits.maxSampleCount;
    if (!Number.isInteger(count) || count < 1 || count > max)
      bad(['count'], `count must be an integer from 1 to ${max} (got ${count})`);
    const seed = request.seed ?? randomInt(0, 2 ** 31 - 1);
    if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31 - 1)
      bad(['seed'], `seed must be an integer from 0 to ${2 ** 31 - 1}`);
    const truncation = request.truncation ?? 1;
    if (!Number.isFinite(truncation) || truncation < 1e-3 || truncation > 4)
      bad(['truncation'], `truncation must be from 0.001 to 4 (got ${truncation})`);
    if (request.condition && request.condition.length > 4096)
      bad(['condition'], 'condition has more than 4096 values');
    else if (request.condition?.some((v) => !Number.isFinite(v) || Math.abs(v) > 1e6))
      bad(['condition'], 'condition values must be finite numbers from -1e6 to 1e6');

    let promptId: string | null = null;
    let generatorRow;
    let flowBytes: Buffer | null = null;
    let trainedRange: ConditionRange | null = null;
    if (request.prompt) {
      promptId = idOf('Prompt', request.prompt);
      const prompt = promptId ? await this.store.promptById(promptId) : null;
      if (!prompt) return fail([{ field: ['prompt'], message: 'unknown prompt', code: 'NOT_FOUND' }]);
      if (prompt.status !== 'SUCCEEDED') {
        return fail([
          {
            field: ['prompt'],
            message: `the prompt is ${prompt.status}; only a SUCCEEDED prompt can be sampled`,
            code: 'INVALID_STATE',
          },
        ]);
      }
      trainedRange = conditionRangeOf(prompt.metrics);
      generatorRow = await generatorById(this.store, prompt.generatorId);
      flowBytes = (await this.store.loadCheckpoint(prompt.id, 'FINAL'))?.data ?? null;
      if (!flowBytes)
        return fail([
          { field: ['prompt'], message: 'the trained flow of this prompt is missing', code: 'INVALID_STATE' },
        ]);
    } else {
      generatorRow = await findGenerator(this.store, request.generator!);
      if (!generatorRow)
        return fail([
          { field: ['generator'], message: `unknown generator "${request.generator}"`, code: 'NOT_FOUND' },
        ]);
      if (request.condition) bad(['condition'], 'a bare generator takes no condition');
    }
    if (!generatorRow)
      return fail([
        { field: ['generator'], message: 'the generator of this prompt is missing', code: 'NOT_FOUND' },
      ]);
    if (!generatorRow.available) {
      return fail([
        {
          field: [request.prompt ? 'prompt' : 'generator'],
          message: `generator "${generatorRow.name}" is not available (its plugin was uninstalled or failed to load)`,
          code: 'UNAVAILABLE',
        },
      ]);
    }
    if (errors.length) return fail(errors);

    const { tf, registry, pluginRuntime } = this.runtime;
    const chain = await resolveGeneratorChain(this.store, generatorRow);
    const base = await this.store.generatorByName(chain.base);
    const plugin = base?.pluginId ? await this.store.pluginById(base.pluginId) : null;
    if (plugin) {
      try {
        await ensurePluginVersions(
          { [plugin.name]: plugin.version },
          { store: this.store, runtime: this.runtime, config: this.config, log: this.log },
        );
      } catch (err) {
        if (!(err instanceof PluginUnavailable)) throw err;
        return fail([
          { field: [request.prompt ? 'prompt' : 'generator'], message: err.message, code: 'UNAVAILABLE' },
        ]);
      }
    }
    const built = await buildGenerator(chain, registry, pluginRuntime);
    const flow = flowBytes ? Flow.deserialize(tf, new Uint8Array(flowBytes)) : undefined;
    try {
      const conditionDim = flow?.config.conditionDim ?? 0;
      if (request.condition && request.condition.length !== conditionDim) {
        return fail([
          {
            field: ['condition'],
            message: conditionDim
              ? `condition must have ${conditionDim} values`
              : 'this prompt is not conditional: omit condition',
            code: 'BAD_USER_INPUT',
          },
        ]);
      }
      if (request.condition && trainedRange) {
        const outside = outsideRange(request.condition, trainedRange);
        if (outside.length) return fail(outside);
      }
      const condition = conditionDim ? (request.condition ?? new Array(conditionDim).fill(0)) : undefined;
      const batch = await sampleImages({
        tf,
        flow,
        generator: built.generator,
        latentDim: chain.latentDim,
        count,
        seed,
        truncation,
        condition,
      });
      const pngs = Array.from({ length: batch.n }, (_, i) => ({
        png: encodePng(batch, i),
        width: batch.width,
        height: batch.height,
      }));
      const saved = await this.store.saveSampleSet(
        {
          promptId,
          generatorId: generatorRow.id,
          kind: 'SAMPLE',
          step: null,
          seed,
          truncation,
          condition: request.condition ?? null,
          count,
        },
        pngs,
      );
      return { ok: true, value: saved };
    } finally {
      flow?.dispose();
      built.dispose();
    }
  }
}
