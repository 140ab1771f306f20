/**
 * Forward passes of @vladmandic/face-api's nets, written with the host's tf ops
 * so that gradients flow from the outputs back to the input images. Layer order,
 * padding and preprocessing follow face-api 1.7.15 (src/xception/TinyXception.ts,
 * src/faceFeatureExtractor/*, src/faceRecognitionNet/*, src/dom/NetInput.ts):
 *
 *   image (0–255) → pad to a square (zeros, centred) → resizeBilinear(size,
 *   alignCorners=false, halfPixelCenters=false) → (x − meanRgb) / 255 → net.
 *
 * Our images are in [0, 1], so the same is x − meanRgb / 255 after resizing.
 * Plain ops only (no fused kernels), all with gradients on the cpu and the
 * (patched) wasm backend.
 */
import type { Tensor, Tensor1D, Tensor2D, Tensor4D, Tf } from 'promptgen/plugin';
import { acquireWeights, type WeightMap } from './weights';

/** The host's rank-3 tensor (the SDK names ranks 1, 2 and 4). */
type Tensor3D = ReturnType<Tf['tensor3d']>;
type Padding = 'same' | 'valid';

export const MEAN_RGB = [122.782, 117.001, 104.298];
export const EXPRESSIONS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];
export const GENDERS = ['male', 'female'];

/**
 * images [n, h, w, c] in [0, 1] (c = 1, 3 or 4) → [n, size, size, 3] normalised as face-api does.
 */
export function preprocess(tf: Tf, images: Tensor4D, size: number): Tensor4D {
  if (images.rank !== 4) throw new Error(`face-api: images must be [n, h, w, c] (got rank ${images.rank})`);
  const [, h, w, c] = images.shape;
  let x = images;
  if (x.dtype !== 'float32') x = tf.cast(x, 'float32');
  if (c === 1) x = tf.concat([x, x, x], 3);
  else if (c === 4) x = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 3]);
  else if (c !== 3) throw new Error(`face-api: images need 1, 3 or 4 channels (got ${c})`);
  if (h !== w) {
    // face-api's padToSquare(isCenter=true): round(diff / 2) zeros after, the rest before.
    const diff = Math.abs(h - w);
    const after = Math.round(diff * 0.5);
    const before = diff - after;
    const pads: [number, number][] =
      h > w
        ? [
            [0, 0],
            [0, 0],
            [before, after],
            [0, 0],
          ]
        : [
            [0, 0],
            [before, after],
            [0, 0],
            [0, 0],
          ];
    x = tf.pad(x, pads);
  }
  const side = Math.max(h, w);
  if (side !== size) x = tf.image.resizeBilinear(x, [size, size], false, false);
  return tf.sub(x, tf.tensor1d(MEAN_RGB.map((m) => m / 255)));
}

/** A weight by name, as the rank its op takes (face-api's manifests fix each weight's shape). */
function need<T extends Tensor = Tensor4D>(W: WeightMap, key: string): T {
  const t = W[key];
  if (!t) throw new Error(`face-api weights: ${key} is missing`);
  return t as T;
}

function conv(
  tf: Tf,
  x: Tensor4D,
  W: WeightMap,
  prefix: string,
  stride: [number, number],
  padding: Padding = 'same',
): Tensor4D {
  return tf.add<Tensor4D>(
    tf.conv2d(x, need<Tensor4D>(W, `${prefix}/filters`), stride, padding),
    need(W, `${prefix}/bias`),
  );
}

function sepConv(tf: Tf, x: Tensor4D, W: WeightMap, prefix: string, stride: [number, number]): Tensor4D {
  const out = tf.separableConv2d(
    x,
    need<Tensor4D>(W, `${prefix}/depthwise_filter`),
    need<Tensor4D>(W, `${prefix}/pointwise_filter`),
    stride,
    'same',
  );
  return tf.add<Tensor4D>(out, need(W, `${prefix}/bias`));
}

function fc(tf: Tf, x: Tensor2D, W: WeightMap, prefix: string): Tensor2D {
  return tf.add<Tensor2D>(tf.matMul(x, need<Tensor2D>(W, `${prefix}/weights`)), need(W, `${prefix}/bias`));
}

// --- TinyXception (ageGenderNet's feature extractor, 2 main blocks) ---------

function reductionBlock(tf: Tf, x: Tensor4D, W: WeightMap, p: string, activateInput: boolean): Tensor4D {
  let out = activateInput ? tf.relu(x) : x;
  out = sepConv(tf, out, W, `${p}/separable_conv0`, [1, 1]);
  out = sepConv(tf, tf.relu(out), W, `${p}/separable_conv1`, [1, 1]);
  out = tf.maxPool(out, [3, 3], [2, 2], 'same');
  return tf.add<Tensor4D>(out, conv(tf, x, W, `${p}/expansion_conv`, [2, 2]));
}

function mainBlock(tf: Tf, x: Tensor4D, W: WeightMap, p: string): Tensor4D {
  let out = sepConv(tf, tf.relu(x), W, `${p}/separable_conv0`, [1, 1]);
  out = sepConv(tf, tf.relu(out), W, `${p}/separable_conv1`, [1, 1]);
  out = sepConv(tf, tf.relu(out), W, `${p}/separable_conv2`, [1, 1]);
  return tf.add<Tensor4D>(out, x);
}

/** x [n,112,112,3] normalised → { age [n] (years), genderLogits [n,2] (male, female) }. */
function ageGenderForward(tf: Tf, W: WeightMap, x: Tensor4D): { age: Tensor1D; genderLogits: Tensor2D } {
  let out = tf.relu(conv(tf, x, W, 'entry_flow/conv_in', [2, 2]));
  out = reductionBlock(tf, out, W, 'entry_flow/reduction_block_0', false);
  out = reductionBlock(tf, out, W, 'entry_flow/reduction_block_1', true);
  for (let i = 0; i < 2; i++) out = mainBlock(tf, out, W, `middle_flow/main_block_${i}`);
  out = reductionBlock(tf, out, W, 'exit_flow/reduction_block', true);
  out = tf.relu(sepConv(tf, out, W, 'exit_flow/separable_conv', [1, 1]));
  const pooled: Tensor2D = tf.reshape(tf.avgPool(out, [7, 7], [2, 2], 'valid'), [x.shape[0], -1]);
  return {
    age: tf.reshape(fc(tf, pooled, W, 'fc/age'), [x.shape[0]]),
    genderLogits: fc(tf, pooled, W, 'fc/gender'),
  };
}

// --- FaceFeatureExtractor (dense blocks; expression and 68-landmark nets) ----

function denseBlock4(tf: Tf, x: Tensor4D, W: WeightMap, p: string, isFirst: boolean): Tensor4D {
  const out1 = tf.relu(
    isFirst ? conv(tf, x, W, `${p}/conv0`, [2, 2]) : sepConv(tf, x, W, `${p}/conv0`, [2, 2]),
  );
  const out2 = sepConv(tf, out1, W, `${p}/conv1`, [1, 1]);
  const in3 = tf.relu(tf.add<Tensor4D>(out1, out2));
  const out3 = sepConv(tf, in3, W, `${p}/conv2`, [1, 1]);
  const in4 = tf.relu(tf.add<Tensor4D>(out1, tf.add(out2, out3)));
  const out4 = sepConv(tf, in4, W, `${p}/conv3`, [1, 1]);
  return tf.relu(tf.add<Tensor4D>(out1, tf.add(out2, tf.add(out3, out4))));
}

/** x [n,112,112,3] normalised → features [n,256]. */
function featureExtractor(tf: Tf, W: WeightMap, x: Tensor4D): Tensor2D {
  let out = denseBlock4(tf, x, W, 'dense0', true);
  out = denseBlock4(tf, out, W, 'dense1', false);
  out = denseBlock4(tf, out, W, 'dense2', false);
  out = denseBlock4(tf, out, W, 'dense3', false);
  return tf.reshape(tf.avgPool(out, [7, 7], [2, 2], 'valid'), [x.shape[0], -1]);
}

/** → expression logits [n,7] in EXPRESSIONS order. */
function expressionForward(tf: Tf, W: WeightMap, x: Tensor4D): Tensor2D {
  return fc(tf, featureExtractor(tf, W, x), W, 'fc');
}

/** → landmarks [n,68,2] as (x, y) fractions of the (square-padded) input. */
function landmarksForward(tf: Tf, W: WeightMap, x: Tensor4D): Tensor3D {
  return tf.reshape(fc(tf, featureExtractor(tf, W, x), W, 'fc'), [x.shape[0], 68, 2]);
}

// --- FaceRecognitionNet (ResNet-34-like, 150×150 → 128-d descriptor) ---------

function convLayer(
  tf: Tf,
  x: Tensor4D,
  W: WeightMap,
  p: string,
  stride: [number, number],
  relu: boolean,
  padding: Padding = 'same',
): Tensor4D {
  let out = tf.add<Tensor4D>(
    tf.conv2d(x, need<Tensor4D>(W, `${p}/conv/filters`), stride, padding),
    need(W, `${p}/conv/bias`),
  );
  out = tf.add<Tensor4D>(tf.mul(out, need(W, `${p}/scale/weights`)), need(W, `${p}/scale/biases`));
  return relu ? tf.relu(out) : out;
}

function residual(tf: Tf, x: Tensor4D, W: WeightMap, p: string): Tensor4D {
  let out = convLayer(tf, x, W, `${p}/conv1`, [1, 1], true);
  out = convLayer(tf, out, W, `${p}/conv2`, [1, 1], false);
  return tf.relu(tf.add<Tensor4D>(out, x));
}

function residualDown(tf: Tf, x: Tensor4D, W: WeightMap, p: string): Tensor4D {
  let out = convLayer(tf, x, W, `${p}/conv1`, [2, 2], true, 'valid');
  out = convLayer(tf, out, W, `${p}/conv2`, [1, 1], false);
  let pooled = tf.avgPool(x, 2, 2, 'valid');
  if (pooled.shape[1] !== out.shape[1] || pooled.shape[2] !== out.shape[2]) {
    // face-api appends one zero row and one zero column to `out`.
    out = tf.pad(out, [
      [0, 0],
      [0, pooled.shape[1] - out.shape[1]],
      [0, pooled.shape[2] - out.shape[2]],
      [0, 0],
    ]);
  }
  if (pooled.shape[3] !== out.shape[3])
    pooled = tf.pad(pooled, [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, out.shape[3] - pooled.shape[3]],
    ]);
  return tf.relu(tf.add<Tensor4D>(pooled, out));
}

/** x [n,150,150,3] normalised → descriptor [n,128] (not normalised; face-api compares by euclidean distance). */
function recognitionForward(tf: Tf, W: WeightMap, x: Tensor4D): Tensor2D {
  let out = convLayer(tf, x, W, 'conv32_down', [2, 2], true, 'valid');
  out = tf.maxPool(out, 3, 2, 'valid');
  out = residual(tf, out, W, 'conv32_1');
  out = residual(tf, out, W, 'conv32_2');
  out = residual(tf, out, W, 'conv32_3');
  out = residualDown(tf, out, W, 'conv64_down');
  out = residual(tf, out, W, 'conv64_1');
  out = residual(tf, out, W, 'conv64_2');
  out = residual(tf, out, W, 'conv64_3');
  out = residualDown(tf, out, W, 'conv128_down');
  out = residual(tf, out, W, 'conv128_1');
  out = residual(tf, out, W, 'conv128_2');
  out = residualDown(tf, out, W, 'conv256_down');
  out = residual(tf, out, W, 'conv256_1');
  out = residual(tf, out, W, 'conv256_2');
  out = residualDown(tf, out, W, 'conv256_down_out');
  return tf.matMul(tf.mean<Tensor2D>(out, [1, 2]), need<Tensor2D>(W, 'fc'));
}

/** What each net returns. */
export interface NetOutputs {
  ageGender: { age: Tensor1D; genderLogits: Tensor2D };
  expression: Tensor2D;
  landmarks: Tensor3D;
  recognition: Tensor2D;
}
export type NetName = keyof NetOutputs;

const NETS: {
  [K in NetName]: {
    model: string;
    size: number;
    forward: (tf: Tf, W: WeightMap, x: Tensor4D) => NetOutputs[K];
  };
} = {
  ageGender: { model: 'age_gender_model', size: 112, forward: ageGenderForward },
  expression: { model: 'face_expression_model', size: 112, forward: expressionForward },
  landmarks: { model: 'face_landmark_68_model', size: 112, forward: landmarksForward },
  recognition: { model: 'face_recognition_model', size: 150, forward: recognitionForward },
};

/**
 * Loads one net on the host tf. `run(images)` takes images [n,h,w,c] in [0,1]
 * and returns the net's raw outputs (differentiable in images; call inside tf.tidy).
 */
export function loadNet<K extends NetName>(
  tf: Tf,
  which: K,
): { inputSize: number; run: (images: Tensor4D) => NetOutputs[K]; dispose: () => void } {
  const spec = NETS[which] as (typeof NETS)[K] | undefined;
  if (!spec) throw new Error(`face-api: unknown net ${which}`);
  const handle = acquireWeights(tf, spec.model);
  return {
    inputSize: spec.size,
    run: (images: Tensor4D) => spec.forward(tf, handle.weights, preprocess(tf, images, spec.size)),
    dispose: () => handle.release(),
  };
}
