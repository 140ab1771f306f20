/**
 * The clip-text control: E(x) = mean over K augmented copies a_k(x) of
 * 1 − cos(Ī(a_k(x)), T̄(text)), the text embedded once at load.
 */
import type {
  ControlDefinition,
  ControlInstance,
  LoadContext,
  Tensor1D,
  Tensor2D,
  Tensor4D,
} from 'promptgen/plugin';
import { callSeed, drawAugmentations, mulberry32, preprocess } from './augmentation';
import {
  disposeModel,
  imageInputSpec,
  l2normalize,
  loadEncoder,
  runModel,
  textFeeder,
  type Encoder,
} from './encoders';
import { fmtShape, normalizeParams, paramsSchema, userError } from './params';
import { CONTEXT_LENGTH, loadTokenizer } from './tokenizer';

/** What load() returns beyond a ControlInstance (for tests and other plugins). */
export interface ClipTextInstance extends ControlInstance {
  /** Clean cosine similarity [n] (resize and CLIP normalisation only). */
  cosine(images: Tensor4D): Tensor1D;
  /** The L2-normalised text embedding [1, D]. */
  textEmbedding: Tensor2D;
  tokens: Int32Array;
  embeddingDim: number;
  layout: 'NHWC' | 'NCHW';
}

/** Params are checked again in load() (normalizeParams): it may be called without the host's validation. */
export const clipText: ControlDefinition<unknown> & {
  load(ctx: LoadContext, params: unknown): Promise<ClipTextInstance>;
} = {
  name: 'clip-text',
  title: 'Text (CLIP)',
  description:
    'Steers towards images that CLIP matches to a text: energy = mean over K augmented copies of 1 − cos(image embedding, text embedding). ' +
    "Needs CLIP image and text encoders converted to TF.js and CLIP's BPE vocabulary (docs/CLIP.md).",
  paramsSchema,
  conditionDim: null,
  async load(ctx, rawParams) {
    const tf = ctx.tf;
    const p = normalizeParams(rawParams);
    let tokenizer;
    try {
      tokenizer = await loadTokenizer(p.vocabulary, { read: (where) => ctx.assets.readAsset(where) });
    } catch (e) {
      throw new Error(`clip-text: ${(e as Error).message}`, { cause: e });
    }
    const tok = tokenizer.tokenizeWithInfo(p.text, { contextLength: CONTEXT_LENGTH, truncate: p.truncate });
    if (tok.truncated)
      ctx.logger.warn(`clip-text: the text is longer than ${CONTEXT_LENGTH} tokens and was truncated`, {
        text: p.text,
      });

    const textModel = await loadEncoder(ctx, p.textEncoder, p.textEncoderFormat, 'text encoder');
    let imageModel: Encoder | undefined;
    let textEmb: Tensor2D | undefined;
    let spec: { name: string; layout: 'NHWC' | 'NCHW' };
    let D: number;
    try {
      imageModel = await loadEncoder(ctx, p.imageEncoder, p.imageEncoderFormat, 'image encoder');
      // The text embedding, once.
      const feed = textFeeder(textModel);
      textEmb = tf.tidy(() => {
        const e = runModel(textModel, feed(tf, tok.ids, tok.length), p.textOutput, 'text encoder');
        if (e.shape[0] !== 1)
          throw userError(`clip-text: the text encoder returned ${fmtShape(e.shape)} for one text`);
        return l2normalize(tf, tf.cast(e, 'float32'));
      });
      const emb = textEmb;
      const tNormT = tf.tidy(() => tf.sum(tf.abs(emb)));
      const tNorm = (await tNormT.data())[0];
      tNormT.dispose();
      if (!Number.isFinite(tNorm) || tNorm === 0)
        throw userError('clip-text: the text encoder returned a zero or non-finite embedding');
      disposeModel(textModel);
      const image = imageModel;
      const sp = imageInputSpec(image, p);
      spec = sp;
      const S = p.inputSize;
      const imgD = tf.tidy(() => {
        let x: Tensor4D = tf.zeros([1, S, S, 3]);
        if (sp.layout === 'NCHW') x = tf.transpose(x, [0, 3, 1, 2]);
        return runModel(image, { [sp.name]: x }, p.imageOutput, 'image encoder').shape[1];
      });
      D = textEmb.shape[1];
      if (imgD !== D) {
        throw userError(
          `clip-text: the image encoder outputs ${imgD}-dimensional embeddings but the text encoder outputs ${D}-dimensional ones: ` +
            'use the image and text towers (with their projections) of the same CLIP model',
        );
      }
    } catch (e) {
      disposeModel(textModel);
      disposeModel(imageModel);
      if (textEmb) textEmb.dispose();
      throw e;
    }

    const S = p.inputSize;
    const K = p.augmentations;
    let calls = 0;

    /** Embeddings of a preprocessed batch [B, S, S, 3] (NHWC) → L2-normalised [B, D]. */
    const emb = textEmb;
    const model = imageModel;
    const textCol: Tensor2D = tf.tidy(() => tf.reshape(emb, [D, 1]));
    /** cos(image embedding, text embedding) [B] of a preprocessed batch in the encoder's layout. */
    const cosOf = (x: Tensor4D): Tensor1D => {
      const e = tf.cast(runModel(model, { [spec.name]: x }, p.imageOutput, 'image encoder'), 'float32');
      const dot = tf.matMul(e, textCol); // [B, 1]
      const norm = tf.sqrt(tf.add(tf.sum(tf.square(e), 1, true), 1e-12));
      return tf.reshape(tf.div(dot, norm), [-1]);
    };
    /** Clean cosine similarity [n] (resize + normalise only). */
    const cosine = (images: Tensor4D): Tensor1D =>
      tf.tidy(() => cosOf(preprocess(tf, images, S, 1, p.augment, null, spec.layout)));

    return {
      textEmbedding: emb,
      tokens: tok.ids,
      embeddingDim: D,
      layout: spec.layout,
      cosine,
      energy(images) {
        const n = images.shape[0];
        const call = p.freshAugmentations ? calls++ : 0;
        const aug = drawAugmentations(K * n, p.augment, mulberry32(callSeed(p.seed, call)));
        return tf.tidy(() => {
          const cos = cosOf(preprocess(tf, images, S, K, p.augment, aug, spec.layout)); // [K·n], copy k of sample i at k·n + i
          return tf.mean(tf.reshape(tf.sub(1, cos), [K, n]), 0);
        });
      },
      async evaluate(images) {
        const n = images.shape[0];
        const values: number[] = [];
        for (let i = 0; i < n; i += 32) {
          const m = Math.min(32, n - i);
          const c = tf.tidy(() => cosine(tf.slice(images, [i, 0, 0, 0], [m, -1, -1, -1])));
          values.push(...(await c.data()));
          c.dispose();
        }
        const count = values.length;
        const mean = values.reduce((a, b) => a + b, 0) / Math.max(count, 1);
        return {
          count,
          text: p.text,
          meanCosine: mean,
          minCosine: count ? Math.min(...values) : null,
          maxCosine: count ? Math.max(...values) : null,
          meanEnergy: 1 - mean,
        };
      },
      dispose() {
        emb.dispose();
        textCol.dispose();
        disposeModel(model);
      },
    };
  },
};
