/**
 * A short full training on webgpu against cpu: the same seed gives the same
 * loss curve (Adam, gradient clip, a flow of 2 blocks on the real mnist
 * generator with the mnist-digit classifier), and then sampling by seed gives
 * the same images. Checkpoints round-trip through the asynchronous reads.
 */
import * as path from 'path';
import { Flow } from '../../../src/engine/flow';
import { train, type TrainProgress } from '../../../src/engine/trainer';
import { sampleImages } from '../../../src/engine/sampler';
import { loadPluginPackage } from '../../../src/plugins/loader';
import { PluginRegistry } from '../../../src/plugins/registry';
import { silentLogger } from '../../plugins/helpers';
import { relErr, use, webgpuReady } from './helpers';

const PLUGINS = path.resolve(__dirname, '..', '..', '..', 'plugins');
const STEPS = 12;

async function runOn(backend: 'cpu' | 'webgpu') {
  const tf = await use(backend);
  const reg = new PluginRegistry({ logger: silentLogger });
  for (const dir of ['mnist', 'controls'])
    reg.add(await loadPluginPackage(path.join(PLUGINS, dir), { source: 'BUILTIN' }));
  const rt = { tf, backend, logger: silentLogger };
  const g = await reg.loadGenerator('mnist', rt);
  const def = reg.generator('mnist')!.definition;
  const info = { name: 'mnist', latentDim: def.latentDim, output: def.output };
  const c = await reg.loadControl(
    'classifier',
    { targets: [{ classifier: 'mnist-digit', classes: [7] }] },
    info,
    rt,
    { cache: false },
  );
  const flow = new Flow(tf, { dim: def.latentDim, blocks: 2, hidden: 32, conditionDim: 0, seed: 11 });
  const curve: TrainProgress[] = [];
  let checkpoint: Uint8Array | undefined;
  const previews: number[][] = [];
  const started = Date.now();
  const res = await train({
    flow,
    generator: g,
    steps: STEPS,
    batchSize: 4,
    seed: 5,
    learningRate: 3e-3,
    terms: [{ name: 'digit', weight: 5, energy: (x, e) => c.energy(x, e) }],
    progressEvery: 1,
    onProgress: (p) => {
      curve.push(p);
    },
    previewEvery: 6,
    previewCount: 4,
    onPreview: (p) => {
      previews.push(Array.from(p.images.data.subarray(0, 784)));
    },
    checkpointEvery: STEPS,
    onCheckpoint: (bytes) => {
      checkpoint = bytes;
    },
  });
  const seconds = (Date.now() - started) / 1000;
  const images = await sampleImages({ tf, flow, generator: g, count: 6, seed: 1, truncation: 0.8 });
  const saved = await flow.save();
  flow.dispose();
  c.dispose();
  await reg.dispose();
  return { res, curve, images, saved, checkpoint: checkpoint!, previews, seconds };
}

describe('training and sampling on webgpu against cpu', () => {
  it(`${STEPS} Adam steps: the same loss curve, the same samples by seed`, async () => {
    if ((await webgpuReady()) === null) return;
    const cpu = await runOn('cpu');
    const gpu = await runOn('webgpu');
    console.log(
      `${STEPS} steps: cpu ${cpu.seconds.toFixed(1)} s, webgpu ${gpu.seconds.toFixed(1)} s (software GPU: speed means nothing here); ` +
        `loss cpu ${cpu.curve[0]!.loss.toFixed(4)} → ${cpu.res.finalLoss.toFixed(4)}, webgpu ${gpu.curve[0]!.loss.toFixed(4)} → ${gpu.res.finalLoss.toFixed(4)}`,
    );
    expect(gpu.res).toMatchObject({ step: STEPS, cancelled: false });
    expect(gpu.curve.map((p) => p.step)).toEqual(cpu.curve.map((p) => p.step));
    // float32 differences grow over the run through Adam; the curves agree to 1e-3 relative
    expect(
      relErr(
        gpu.curve.map((p) => p.loss),
        cpu.curve.map((p) => p.loss),
      ),
    ).toBeLessThan(1e-3);
    expect(
      relErr(
        gpu.curve.map((p) => p.gradNorm),
        cpu.curve.map((p) => p.gradNorm),
      ),
    ).toBeLessThan(1e-2);
    // It trains: the flow starts as the identity (flow.ts), and the preview batch (same ε) moves between
    // step 6 and step 12. (A falling loss over 12 steps of batch 4 is within the batch noise.)
    expect(gpu.previews).toHaveLength(2);
    expect(relErr(gpu.previews[1]!, gpu.previews[0]!)).toBeGreaterThan(1e-4);
    // samples by seed: pixels in [0, 1], within 1e-3
    expect(gpu.images.n).toBe(6);
    let maxDiff = 0;
    for (let i = 0; i < cpu.images.data.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs(gpu.images.data[i]! - cpu.images.data[i]!));
    expect(maxDiff).toBeLessThan(1e-3);
    expect(relErr(gpu.previews.flat(), cpu.previews.flat())).toBeLessThan(1e-3);
    // the checkpoint (flow + Adam moments, read asynchronously) and the saved flow have the same layout as cpu's
    expect(gpu.checkpoint.length).toBe(cpu.checkpoint.length);
    expect(gpu.saved.length).toBe(cpu.saved.length);
  }, 600_000);
});
