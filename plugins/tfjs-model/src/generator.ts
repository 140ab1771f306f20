/**
 * A generator from a manifest: the latent z is cut into the model's named inputs
 * (slices, optionally transformed and padded, or constant rows), the model runs, and
 * its output is brought to NHWC images in [0, 1].
 */
import type {
  GeneratorDefinition,
  Tensor,
  Tensor2D,
  Tensor4D,
  TfjsGeneratorManifest,
} from 'promptgen/plugin';
import { assertManifest, fmtShape } from './manifest';
import { loadModel, modelInputs, runModel } from './model';

/** A generator definition for a TF.js model described by a manifest. */
export function tfjsGenerator(manifest: TfjsGeneratorManifest): GeneratorDefinition {
  assertManifest(manifest, 'generator');
  const m = manifest;
  const out = m.output;
  const layout = out.layout || 'NHWC';
  const [lo, hi] = out.range || [0, 1];
  const clip = out.clip !== false;
  return {
    name: m.name,
    title: m.title || m.name,
    description: m.description,
    latentDim: m.latentDim,
    output: { width: out.width, height: out.height, channels: out.channels },
    async load(ctx) {
      const { tf } = ctx;
      const model = await loadModel(ctx, m);
      const declared = modelInputs(model);
      const specs = m.inputs || [
        { name: declared[0] ? declared[0].name : 'input', from: [0, m.latentDim] as [number, number] },
      ];
      if (!m.inputs && declared.length > 1) {
        model.dispose();
        throw new Error(
          `model ${m.model} has ${declared.length} inputs (${declared.map((d) => d.name).join(', ')}); the manifest must say how the latent feeds them ("inputs")`,
        );
      }
      for (const s of specs) {
        const d = declared.find((x) => x.name === s.name);
        if (!d && declared.length) {
          model.dispose();
          throw new Error(
            `model ${m.model} has no input named ${JSON.stringify(s.name)} (inputs: ${declared.map((x) => x.name).join(', ')})`,
          );
        }
        const from = s.from ?? [0, 0];
        const width = s.value ? s.value.length : from[1] - from[0] + (s.pad ? s.pad[0] + s.pad[1] : 0);
        const want = d && d.shape ? d.shape[d.shape.length - 1] : null;
        if (d && d.shape && (d.shape.length !== 2 || (want != null && want > 0 && want !== width))) {
          model.dispose();
          const fed = s.value
            ? `a constant value of ${width}`
            : `from [${s.from}]${s.pad ? ` plus pad [${s.pad}]` : ''}`;
          throw new Error(
            `model input ${JSON.stringify(s.name)} has shape ${fmtShape(d.shape)} but the manifest feeds it [n, ${width}] (${fed})`,
          );
        }
      }
      // Constant inputs as [1, k] rows, made once and tiled per batch; freed with the model.
      const constants: Record<string, Tensor2D> = {};
      for (const s of specs)
        if (s.value) constants[s.name] = tf.tensor2d([s.value], [1, s.value.length], 'float32');
      const disposeAll = () => {
        for (const c of Object.values(constants)) c.dispose();
        model.dispose();
      };
      const order = declared.length
        ? declared.map((d) => d.name).filter((n) => specs.some((s) => s.name === n))
        : specs.map((s) => s.name);
      const { width, height, channels } = out;

      function generate(z: Tensor2D): Tensor4D {
        return tf.tidy(() => {
          if (z.shape.length !== 2 || z.shape[1] !== m.latentDim) {
            throw new Error(
              `generator ${m.name}: z must have shape [n, ${m.latentDim}] (got ${fmtShape(z.shape)})`,
            );
          }
          const n = z.shape[0];
          const feeds: Record<string, Tensor> = {};
          for (const s of specs) {
            if (s.value) {
              feeds[s.name] = tf.tile(constants[s.name], [n, 1]);
              continue;
            }
            const [a, b] = s.from!;
            let x: Tensor2D = tf.slice(z, [0, a], [n, b - a]);
            if (s.transform === 'softmax') x = tf.softmax(x);
            else if (s.transform === 'sigmoid') x = tf.sigmoid(x);
            else if (s.transform === 'tanh') x = tf.tanh(x);
            if (s.pad && (s.pad[0] || s.pad[1]))
              x = tf.pad(x, [
                [0, 0],
                [s.pad[0], s.pad[1]],
              ]);
            feeds[s.name] = x;
          }
          let y = runModel(model, feeds, order, m.outputIndex);
          const size = y.size / Math.max(n, 1);
          if (size !== width * height * channels) {
            throw new Error(
              `generator ${m.name}: model output shape ${fmtShape(y.shape)} does not match the declared output ${width}×${height}×${channels} (${layout})`,
            );
          }
          if (layout === 'NCHW') {
            if (y.shape.length !== 4 && y.shape.length !== 2)
              throw new Error(`generator ${m.name}: model output shape ${fmtShape(y.shape)} is not NCHW`);
            y = tf.transpose(tf.reshape(y, [n, channels, height, width]), [0, 2, 3, 1]);
          } else if (
            y.shape.length !== 4 ||
            y.shape[1] !== height ||
            y.shape[2] !== width ||
            y.shape[3] !== channels
          ) {
            if (y.shape.length !== 2) {
              throw new Error(
                `generator ${m.name}: model output shape ${fmtShape(y.shape)} does not match the declared output [n,${height},${width},${channels}] (NHWC)`,
              );
            }
            y = tf.reshape(y, [n, height, width, channels]);
          }
          if (lo !== 0 || hi !== 1) y = tf.div(tf.sub(y, lo), hi - lo);
          if (clip) y = tf.clipByValue(y, 0, 1);
          return y as Tensor4D;
        });
      }
      // Probe once so a wrong shape fails at load time, with a clear message.
      try {
        tf.tidy(() => generate(tf.zeros([1, m.latentDim])));
      } catch (e) {
        disposeAll();
        throw e;
      }
      return { generate, dispose: disposeAll };
    },
  };
}
