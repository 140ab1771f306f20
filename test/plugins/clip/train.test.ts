/**
 * End to end on the cpu backend: a PromptGen flow trained with clip-text on a toy
 * generator moves its samples towards the images the (toy) CLIP encoders match to
 * the text. With the encoders of ./helpers.ts, "a bright photo" is best matched by
 * pixel values near 0.86 and "a dark photo" by values near 0.06, so the text alone
 * decides which way the mean brightness goes.
 */
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '../../../src/engine/backend';
import { Flow } from '../../../src/engine/flow';
import { train } from '../../../src/engine/trainer';
import { PluginRegistry } from '../../../src/plugins/registry';
import type {
  ControlDefinition,
  GeneratorInstance,
  LoadContext,
  Tensor2D,
  Tensor4D,
  Tf,
} from '../../../src/sdk';
import { repoRoot, silentLogger, tmpDir } from '../helpers';
import { noise, writeClipFixture, type ClipFixture } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const clip = require('../../../plugins/clip/src/index');
const def: ControlDefinition = clip.controls[0];

const LATENT = 4;
const SIZE = 8;
const STEPS = 100;

/**
 * z [n, 4] → sigmoid(2 · z W) as [n, 8, 8, 1] grey images. W is fixed noise in
 * [−0.5, 0.5) plus 1 on every pixel of row 0, so z₀ sets the overall brightness and
 * z₁..z₃ a pattern.
 */
function toyGenerator(tf: Tf): GeneratorInstance & { latentDim: number } {
  const w = noise(42, LATENT * SIZE * SIZE).map((v) => 0.5 * v);
  for (let j = 0; j < SIZE * SIZE; j++) w[j] += 1;
  const W = tf.tensor2d(w, [LATENT, SIZE * SIZE]);
  return {
    latentDim: LATENT,
    generate: (z: Tensor2D) =>
      tf.tidy(
        () => tf.reshape(tf.sigmoid(tf.mul(tf.matMul(z, W), 2)), [z.shape[0], SIZE, SIZE, 1]) as Tensor4D,
      ),
    dispose: () => W.dispose(),
  };
}

let tf: Tf;
let fx: ClipFixture;
let ctx: LoadContext;

beforeAll(async () => {
  tf = (await initBackend('cpu')).tf;
  fx = await writeClipFixture(tf, tmpDir('clip-train'));
  ctx = new PluginRegistry({
    logger: silentLogger,
    assets: { dirs: [os.tmpdir()], urlPrefixes: [] },
  }).createContext(
    { name: '@promptgen/clip', dir: path.join(repoRoot, 'plugins', 'clip') },
    tf,
    'cpu',
    silentLogger,
  );
});

/** Mean brightness and mean clean cosine of 256 samples from a fixed ε (through the flow if given). */
async function measure(G: GeneratorInstance, control: any, flow?: Flow) {
  const eps = tf.tensor2d(
    noise(99, 256 * LATENT).map((u) => u * 1.7),
    [256, LATENT],
  ); // fixed, roughly unit-variance
  const images = tf.tidy(() => {
    const z = flow ? flow.forward(eps).z : eps;
    return G.generate(z as Tensor2D);
  });
  const brightness = (await tf.mean(images).data())[0];
  const { meanCosine } = await control.evaluate(images);
  tf.dispose([eps, images]);
  return { brightness, cosine: meanCosine as number };
}

async function trainWith(text: string, G: GeneratorInstance) {
  const control: any = await def.load(
    ctx,
    {
      text,
      imageEncoder: fx.imageEncoderDense,
      textEncoder: fx.textEncoder,
      vocabulary: fx.vocabulary,
      inputSize: fx.inputSize,
      augmentations: 2,
      seed: 1,
    },
    { name: 'toy', latentDim: LATENT, output: { width: SIZE, height: SIZE, channels: 1 } },
  );
  const base = await measure(G, control);
  const flow = new Flow(tf, { dim: LATENT, blocks: 4, hidden: 32, conditionDim: 0, seed: 3 });
  const started = Date.now();
  const res = await train({
    flow,
    generator: G,
    terms: [{ name: 'clip-text', weight: 20, energy: (x, e) => control.energy(x, e) }],
    steps: STEPS,
    batchSize: 16,
    seed: 5,
    learningRate: 1e-2,
  });
  const seconds = (Date.now() - started) / 1000;
  expect(res.cancelled).toBe(false);
  expect(Number.isFinite(res.finalLoss)).toBe(true);
  const after = await measure(G, control, flow);
  flow.dispose();
  control.dispose();
  return { base, after, seconds };
}

test('"a bright photo" raises the mean cosine similarity and the brightness; "a dark photo" lowers the brightness', async () => {
  const G = toyGenerator(tf);
  const bright = await trainWith('a bright photo', G);
  const dark = await trainWith('a dark photo', G);
  console.log(
    `clip-text training (cpu, ${STEPS} steps, batch 16, K = 2): bright: cosine ${bright.base.cosine.toFixed(3)} → ${bright.after.cosine.toFixed(3)}, ` +
      `brightness ${bright.base.brightness.toFixed(3)} → ${bright.after.brightness.toFixed(3)} (${bright.seconds.toFixed(1)} s); ` +
      `dark: cosine ${dark.base.cosine.toFixed(3)} → ${dark.after.cosine.toFixed(3)}, ` +
      `brightness ${dark.base.brightness.toFixed(3)} → ${dark.after.brightness.toFixed(3)} (${dark.seconds.toFixed(1)} s)`,
  );
  expect(bright.after.cosine - bright.base.cosine).toBeGreaterThan(0.15);
  expect(bright.after.brightness - bright.base.brightness).toBeGreaterThan(0.1);
  expect(dark.after.cosine - dark.base.cosine).toBeGreaterThan(0.15);
  expect(dark.base.brightness - dark.after.brightness).toBeGreaterThan(0.1);
  G.dispose();
}, 600_000);
