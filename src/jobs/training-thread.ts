/**
 * Runs in a worker thread: one prompt's training, off the event loop that
 * serves the API. It has its own TF.js backend and plugin registry, needs no
 * database (everything comes in workerData), and reports through messages.
 */
import 'reflect-metadata';
import { parentPort, workerData } from 'node:worker_threads';
import {
  deriveSeed,
  encodePng,
  Flow,
  initBackend,
  Rng,
  sampleBase,
  sampleImages,
  train,
  type EnergyTerm,
} from '../engine';
import { builtinPluginsDir, PluginRegistry, type PluginRuntime } from '../plugins';
import { pluginsPrefix } from '../plugins/installer';
import type { ControlInstance, Tensor2D, Tensor4D, Tf } from '../sdk';
import { buildGenerator } from '../catalog/generator-chain';
import { publicMessage } from '../shared/public-error';
import type { MainMessage, ThreadMessage, TrainingThreadInput } from './training-protocol';
import { auditSideEffects, steeredClassifiers, type SideEffectAudit } from './side-effect-audit';

type SideEffectHook = (base: Tensor4D, prompt: Tensor4D) => Promise<SideEffectAudit>;
import { CHUNK, evaluateConditional } from './conditional-evaluation';

const port = parentPort!;
const post = (msg: ThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const threadLog = {
  info: (m: string) => process.stderr.write(`[training-thread] ${m}\n`),
  warn: (m: string) => process.stderr.write(`[training-thread] WARN ${m}\n`),
  error: (m: string) => process.stderr.write(`[training-thread] ERROR ${m}\n`),
};

async function run(input: TrainingThreadInput, signal: AbortSignal): Promise<void> {
  const { tf, backend } = await initBackend(input.backend);
  const registry = new PluginRegistry({ logger: threadLog, assets: input.assets });
  // A worker thread: a plugin that throws asynchronously ends this thread (the job fails), not the process.
  await registry.loadAll({
    builtinDir: builtinPluginsDir(),
    installedDir: pluginsPrefix(input.dataDir),
    trialInstalled: false,
  });
  const runtime: PluginRuntime = { tf, backend, logger: threadLog };
  const built = await buildGenerator(input.chain, registry, runtime);
  const generator = built.generator;
  const info = { name: input.chain.base, latentDim: input.chain.latentDim, output: input.chain.output };

  const controls: ControlInstance[] = [];
  for (const term of input.terms) {
    const known = registry.control(term.control);
    if (!known)
      throw Object.assign(
        new Error(`control "${term.control}" is not available on this machine (its plugin is not loaded)`),
        { expose: true },
      );
    controls.push(await registry.loadControl(term.control, term.params, info, runtime, { cache: false }));
  }

  // Calibration (e.g. de-biasing's β̂) is fitted once per prompt and kept, so a resumed run uses the same.
  const seed = input.training.seed;
  const calibration: Record<string, unknown> = { ...(input.calibration ?? {}) };
  let calibrated = false;
  for (const [i, control] of controls.entries()) {
    if (!control.calibrate) continue;
    if (calibration[i] !== undefined && control.restoreCalibration) {
      control.restoreCalibration(calibration[i]);
      continue;
    }
    await control.calibrate((n) =>
      sampleBase(generator, n, seed + 1000 + i, { tf, latentDim: info.latentDim }),
    );
    calibration[i] = control.calibrationState?.() ?? null;
    calibrated = true;
  }
  if (calibrated) post({ type: 'calibrated', calibration });

  const conditional = input.terms
    .map((t) => registry.control(t.control)!.definition)
    .findIndex((d) => d.conditionDim);
  const conditionDim =
    conditional >= 0 ? registry.control(input.terms[conditional]!.control)!.definition.conditionDim! : 0;
  const flow = new Flow(tf, {
    dim: info.latentDim,
    blocks: input.training.flowBlocks,
    hidden: input.training.hiddenUnits,
    conditionDim,
    seed,
  });
  const terms: EnergyTerm[] = input.terms.map((t, i) => ({
    name: t.control,
    weight: t.weight,
    paired: Boolean(registry.control(t.control)!.definition.paired),
    energy: (images, extras) => controls[i]!.energy(images, extras),
    observe: controls[i]!.observe?.bind(controls[i]),
    state: controls[i]!.trainingState?.bind(controls[i]),
    restore: controls[i]!.restoreTrainingState?.bind(controls[i]),
  }));
  const sampleCondition =
    conditional >= 0 ? controls[conditional]!.sampleCondition?.bind(controls[conditional]) : undefined;
  if (conditional >= 0 && !sampleCondition)
    throw new Error(
      `control "${input.terms[conditional]!.control}" declares conditionDim but has no sampleCondition()`,
    );

  post({ type: 'started', backend, resumedAt: 0 });
  const steps = input.training.steps;
  const result = await train({
    flow,
    generator,
    terms,
    steps,
    batchSize: input.training.batchSize,
    learningRate: input.training.learningRate,
    seed,
    signal,
    sampleCondition,
    progressEvery: Math.max(1, Math.floor(steps / 200)),
    onProgress: (p) =>
      post({
        type: 'progress',
        progress: {
          step: p.step,
          totalSteps: p.totalSteps,
          loss: finite(p.loss),
          logDet: finite(p.logDet),
          energies: p.energies.map((e) => ({ control: e.name, value: e.value })),
          stepsPerSecond: finite(p.stepsPerSecond),
          etaSeconds: finite(p.etaSeconds),
          gradNorm: finite(p.gradNorm),
        },
      }),
    previewEvery: input.training.previewEvery,
    previewCount: 16,
    onPreview: (p) => {
      const pngs = Array.from({ length: p.images.n }, (_, i) => new Uint8Array(encodePng(p.images, i)));
      post(
        { type: 'preview', step: p.step, width: p.images.width, height: p.images.height, pngs },
        pngs.map((b) => b.buffer as ArrayBuffer),
      );
    },
    checkpointEvery: input.checkpointEvery,
    onCheckpoint: (bytes, step) => post({ type: 'checkpoint', step, data: bytes }),
    resume: input.resume ?? undefined,
  });
  if (result.cancelled) {
    post({ type: 'cancelled', step: result.step });
    return;
  }
  const audit: SideEffectHook = (base, prompt) =>
    auditSideEffects({
      tf,
      registry,
      runtime,
      generator: info,
      steered: steeredClassifiers(input.terms, registry.classifierNames()),
      base,
      prompt,
    });
  const metrics = await evaluate(
    tf,
    flow,
    generator,
    controls,
    input,
    conditionDim,
    terms.map((t) => Boolean(t.paired)),
    audit,
  );
  if (conditional >= 0) {
    // Per-condition metrics across the trained range (conditional-evaluation.ts): condition 0 alone
    // cannot tell a prompt that follows its condition from one that ignores it.
    const control = controls[conditional]!;
    const range = control.conditionRange?.() ?? drawnRange(sampleCondition!, conditionDim);
    const paired = controls
      .map((c, i) => ({ control: c, name: input.terms[i]!.control }))
      .filter((_, i) => terms[i]!.paired);
    metrics.conditional = await evaluateConditional({
      tf,
      flow,
      generator,
      latentDim: info.latentDim,
      conditional: { control, name: input.terms[conditional]!.control, range },
      paired,
      samples: input.evaluationSamples,
      seed: seed + 7919,
    });
  }
  post({ type: 'done', step: result.step, flow: await flow.save(), metrics });
}

const finite = (x: number) => (Number.isFinite(x) ? x : null);

/**
 * For a conditional control without conditionRange(): the range its sampleCondition()
 * covers, per component, over 4,096 draws of a fixed stream (what the flow was trained on,
 * up to the edges of a uniform range).
 */
function drawnRange(
  sampleCondition: (n: number, random: () => number) => Tensor2D,
  c: number,
): { min: number[]; max: number[] } {
  const t = sampleCondition(4096, new Rng(deriveSeed(0, 'condition-range')).uniform());
  const v = t.dataSync() as Float32Array;
  t.dispose();
  const min = new Array(c).fill(Infinity);
  const max = new Array(c).fill(-Infinity);
  for (let i = 0; i < v.length; i++) {
    const j = i % c;
    min[j] = Math.min(min[j], v[i]!);
    max[j] = Math.max(max[j], v[i]!);
  }
  return { min, max };
}

/**
 * Metrics on a fixed evaluation buffer: per control, the mean energy on base
 * samples vs prompt samples, and whatever the control's evaluate() reports
 * (class histograms, KL to a target) for both; then `sideEffects`, the audit of
 * every fitting classifier (side-effect-audit.ts) on the same images.
 */
async function evaluate(
  tf: Tf,
  flow: Flow,
  generator: Awaited<ReturnType<typeof buildGenerator>>['generator'],
  controls: ControlInstance[],
  input: TrainingThreadInput,
  conditionDim: number,
  paired: boolean[],
  audit?: SideEffectHook,
): Promise<Record<string, unknown>> {
  const n = input.evaluationSamples;
  const seed = input.training.seed + 7919;
  const condition = conditionDim ? new Array(conditionDim).fill(0) : undefined;
  const base = await sampleImages({ tf, generator, latentDim: input.chain.latentDim, count: n, seed });
  const prompt = await sampleImages({ tf, flow, generator, count: n, seed, condition });
  const toTensor = (b: typeof base) => tf.tensor4d(b.data, [b.n, b.height, b.width, b.channels]) as Tensor4D;
  const baseT = toTensor(base);
  const promptT = toTensor(prompt);
  const z = tf.zeros([n, input.chain.latentDim]) as Tensor2D;
  const cond = conditionDim ? (tf.zeros([n, conditionDim]) as Tensor2D) : undefined;
  const out: Record<string, unknown> = { samples: n, controls: [] as unknown[] };
  try {
    for (const [i, control] of controls.entries()) {
      const term = input.terms[i]!;
      const entry: Record<string, unknown> = { control: term.control, weight: term.weight };
      // A paired energy against the image itself is 0 by construction: its figures are in metrics.conditional.
      if (paired[i]) {
        (out.controls as unknown[]).push({ ...entry, paired: true });
        continue;
      }
      // In chunks: a big net (e.g. face landmarks) must never see the whole evaluation set at once.
      const meanEnergy = async (images: Tensor4D) => {
        let sum = 0;
        for (let j = 0; j < n; j += CHUNK) {
          const m = Math.min(CHUNK, n - j);
          const part = tf.tidy(() => {
            const x = tf.slice(images, [j, 0, 0, 0], [m, -1, -1, -1]) as Tensor4D;
            const c = cond ? (tf.slice(cond, [j, 0], [m, -1]) as Tensor2D) : undefined;
            return tf.sum(control.energy(x, { z: tf.slice(z, [j, 0], [m, -1]) as Tensor2D, condition: c }));
          });
          sum += (await part.data())[0]!; // asynchronous: webgpu has no synchronous read in Node
          part.dispose();
        }
        return sum / n;
      };
      entry.meanEnergyBase = await meanEnergy(baseT);
      entry.meanEnergyPrompt = await meanEnergy(promptT);
      if (control.evaluate) {
        entry.base = await control.evaluate(baseT);
        entry.prompt = await control.evaluate(promptT);
      }
      (out.controls as unknown[]).push(entry);
    }
    // Base and prompt on the same ε, every fitting classifier: what else the prompt changed.
    if (audit) out.sideEffects = await audit(baseT, promptT);
  } finally {
    tf.dispose([baseT, promptT, z, ...(cond ? [cond] : [])]);
  }
  return out;
}

const abort = new AbortController();
port.on('message', (msg: MainMessage) => {
  if (msg.type === 'cancel') abort.abort();
});
run(workerData as TrainingThreadInput, abort.signal).then(
  () => port.close(),
  (err: unknown) => {
    // Prompt.error is public: a plugin's exception may quote files or paths, so only exposed messages pass.
    const input = workerData as TrainingThreadInput;
    post({ type: 'failed', error: publicMessage(err, threadLog, `prompt ${input.promptId}`) });
    port.close();
  },
);
