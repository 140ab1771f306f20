/**
 * The conditional and paired face controls: face-pose (conditional on yaw, pitch, roll)
 * and face-identity (paired: keeps the person of G(f(ε; 0))).
 */
import type { ControlDefinition, Tensor1D, Tensor2D } from 'promptgen/plugin';
import { rowsInChunks } from './energy';
import {
  cosine,
  DEG,
  IDENTITY_SCALE,
  loadDescriptorModel,
  loadPoseModel,
  POSE_CONDITION_SCALE_DEG,
} from './models';

/** face-pose's params: the training ranges (degrees). */
interface PoseParams {
  yawRange?: number;
  pitchRange?: number;
  rollRange?: number;
}

export const facePose: ControlDefinition<PoseParams> = {
  name: 'face-pose',
  title: 'Face: head pose (conditional)',
  description:
    'Conditional on a target (yaw, pitch, roll) given as degrees / 45; energy Σ (estimate − target)² in radians², ' +
    "with the pose estimated from face-api's 68 landmarks (closed-form geometry, see docs/FACES.md). " +
    'Training draws targets uniformly in ±yawRange, ±pitchRange, ±rollRange degrees',
  paramsSchema: {
    type: 'object',
    properties: {
      yawRange: {
        type: 'number',
        minimum: 0,
        maximum: 45,
        default: 20,
        description: 'Targets drawn in ±yawRange degrees',
      },
      pitchRange: {
        type: 'number',
        minimum: 0,
        maximum: 45,
        default: 20,
        description: 'Targets drawn in ±pitchRange degrees',
      },
      rollRange: {
        type: 'number',
        minimum: 0,
        maximum: 45,
        default: 0,
        description: 'Targets drawn in ±rollRange degrees',
      },
    },
    additionalProperties: false,
  },
  conditionDim: 3,
  load(ctx, params) {
    const { tf } = ctx;
    const ranges = [params.yawRange ?? 20, params.pitchRange ?? 20, params.rollRange ?? 0];
    const m = loadPoseModel(tf);
    const toRad = POSE_CONDITION_SCALE_DEG * DEG;
    return {
      conditionNames: ['yaw', 'pitch', 'roll'],
      conditionRange: () => ({
        min: ranges.map((r) => -r / POSE_CONDITION_SCALE_DEG),
        max: ranges.map((r) => r / POSE_CONDITION_SCALE_DEG),
      }),
      measureCondition: (images) => tf.tidy(() => tf.div<Tensor2D>(m.pose(images), toRad)),
      energy(images, extras) {
        return tf.tidy(() => {
          const est = m.pose(images);
          const n = images.shape[0];
          let target: Tensor2D;
          if (extras && extras.condition) {
            if (extras.condition.shape[1] !== 3 || extras.condition.shape[0] !== n) {
              throw new Error(`face-pose: condition must be [${n}, 3] (got [${extras.condition.shape}])`);
            }
            target = tf.mul(extras.condition, toRad);
          } else target = tf.zeros([n, 3]);
          return tf.sum<Tensor1D>(tf.square(tf.sub(est, target)), 1);
        });
      },
      sampleCondition(n, random) {
        const out = new Float32Array(n * 3);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < 3; j++)
            out[i * 3 + j] = ((2 * random() - 1) * ranges[j]) / POSE_CONDITION_SCALE_DEG;
        return tf.tensor2d(out, [n, 3]);
      },
      async evaluate(images) {
        const rows = await rowsInChunks(tf, images, 64, (x) => tf.div<Tensor2D>(m.pose(x), DEG));
        const n = rows.length;
        const mean = [0, 1, 2].map((j) => (n ? rows.reduce((s, r) => s + r[j], 0) / n : 0));
        const sd = [0, 1, 2].map((j) =>
          n ? Math.sqrt(rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / n) : 0,
        );
        return {
          count: n,
          meanYawDeg: mean[0],
          meanPitchDeg: mean[1],
          meanRollDeg: mean[2],
          sdYawDeg: sd[0],
          sdPitchDeg: sd[1],
          sdRollDeg: sd[2],
        };
      },
      dispose: m.dispose,
    };
  },
};

export const faceIdentity: ControlDefinition = {
  name: 'face-identity',
  title: 'Face: keep identity (paired)',
  description:
    "Paired energy (1 − cos(descriptor(image), descriptor(pair image))) / 0.05 with face-api's 128-d faceRecognitionNet descriptors " +
    '(≈ 1 between two different people): keeps G(f(ε; ρ)) the same person as G(f(ε; 0))',
  paramsSchema: { type: 'object', properties: {}, additionalProperties: false },
  paired: true,
  load(ctx) {
    const { tf } = ctx;
    const m = loadDescriptorModel(tf);
    return {
      energy(images, extras) {
        const pair = extras && extras.pairImages;
        if (!pair) throw new Error('face-identity is a paired control: extras.pairImages is missing');
        if (pair.shape[0] !== images.shape[0])
          throw new Error(
            `face-identity: pairImages has ${pair.shape[0]} samples, images ${images.shape[0]}`,
          );
        return tf.tidy(() => {
          const n = images.shape[0];
          const sameShape = pair.shape.every((v, i) => v === images.shape[i]);
          let a: Tensor2D;
          let b: Tensor2D;
          if (sameShape) {
            // One pass over both halves (one batch through the net).
            const d = m.descriptor(tf.concat([images, pair], 0));
            a = tf.slice(d, [0, 0], [n, -1]);
            b = tf.slice(d, [n, 0], [n, -1]);
          } else {
            a = m.descriptor(images);
            b = m.descriptor(pair);
          }
          return tf.div<Tensor1D>(tf.sub(1, cosine(tf, a, b)), IDENTITY_SCALE);
        });
      },
      /** Per sample: the energy, descriptor cosine and Euclidean distance to the pair (one pass of each half). */
      async evaluatePair(images, pair) {
        const out = tf.tidy(() => {
          const a = m.descriptor(images);
          const b = m.descriptor(pair);
          const cos = cosine(tf, a, b);
          return tf.stack(
            [tf.div(tf.sub(1, cos), IDENTITY_SCALE), cos, tf.sqrt(tf.sum(tf.square(tf.sub(a, b)), 1))],
            1,
          );
        });
        const rows = (await out.array()) as number[][];
        out.dispose();
        return {
          energy: rows.map((r) => r[0]),
          descriptorCosine: rows.map((r) => r[1]),
          descriptorDistance: rows.map((r) => r[2]),
        };
      },
      dispose: m.dispose,
    };
  },
};
