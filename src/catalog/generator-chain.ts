/**
 * A generator row is either a plugin's generator or a trained prompt used as
 * a generator (iterative control). Its "chain" is the plugin generator at the
 * bottom plus the trained flows stacked on it, innermost first:
 * G_eff = (…((G∘f₁)∘f₂)…). The database side resolves the chain; the tensor
 * side builds the generator from it, so a worker thread needs no database.
 */
import type { Tf, GeneratorInstance } from '../sdk';
import type { PluginRegistry, PluginRuntime } from '../plugins';
import { composeGenerator, Flow } from '../engine';
import type { GeneratorRow } from '../store/entities';
import type { Store } from '../store/store';

export interface GeneratorChain {
  /** Name of the plugin generator at the bottom. */
  base: string;
  /** Serialized trained flows, innermost first. */
  flows: Uint8Array[];
  latentDim: number;
  output: { width: number; height: number; channels: number };
}

export class ChainError extends Error {}

export async function resolveGeneratorChain(store: Store, row: GeneratorRow): Promise<GeneratorChain> {
  const flows: Uint8Array[] = [];
  let current: GeneratorRow | null = row;
  for (let depth = 0; current?.basePromptId; depth++) {
    if (depth > 32) throw new ChainError('generator chain is too deep (over 32 stacked prompts)');
    const promptId: string = current.basePromptId;
    const final = await store.loadCheckpoint(promptId, 'FINAL');
    if (!final) throw new ChainError(`the trained flow of prompt ${promptId} is missing`);
    flows.unshift(new Uint8Array(final.data));
    const prompt = await store.promptById(promptId);
    if (!prompt) throw new ChainError(`prompt ${promptId} behind generator ${current.name} is missing`);
    current = await store.generatorById(prompt.generatorId);
  }
  if (!current) throw new ChainError(`the base generator of ${row.name} is missing`);
  return {
    base: current.name,
    flows,
    latentDim: row.latentDim,
    output: { width: row.width, height: row.height, channels: row.channels },
  };
}

export interface BuiltGenerator {
  generator: GeneratorInstance & { latentDim: number };
  /** Disposes the flows of the chain (the plugin instance belongs to the registry). */
  dispose(): void;
}

export async function buildGenerator(
  chain: GeneratorChain,
  registry: PluginRegistry,
  runtime: PluginRuntime,
): Promise<BuiltGenerator> {
  const registered = registry.generator(chain.base);
  if (!registered)
    throw new ChainError(
      `generator "${chain.base}" is not available on this machine (its plugin is not loaded)`,
    );
  const base = await registry.loadGenerator(chain.base, runtime);
  // The registry owns the plugin instance: this wrapper's dispose() leaves it alone.
  let generator: GeneratorInstance & { latentDim: number } = {
    generate: (z) => base.generate(z),
    dispose: () => undefined,
    latentDim: registered.definition.latentDim,
  };
  const flows = chain.flows.map((bytes) => Flow.deserialize(runtime.tf as Tf, bytes));
  for (const flow of flows) generator = composeGenerator(flow, generator);
  return {
    generator,
    dispose() {
      for (const f of flows) f.dispose();
    },
  };
}
