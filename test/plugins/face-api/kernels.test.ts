/**
 * The wasm MaxPoolGrad patch (src/engine/kernels/pool.ts): the stock wasm kernel
 * of tfjs-backend-wasm 4.22.0 is wrong for windows with negative values. Checked
 * against an exact JS reference and the cpu backend, for face-api's pooling
 * shapes (3×3 stride 2 'same' and 'valid') and a few odd sizes.
 */
import { useBackend, seeded } from './helpers';

/** Reference: each output's dy goes to the first maximum of its window (row-major). */
function reference(
  x: Float32Array,
  [n, H, W, C]: number[],
  k: number,
  s: number,
  pad: 'same' | 'valid',
  dy: Float32Array,
) {
  const OH = pad === 'same' ? Math.ceil(H / s) : Math.ceil((H - k + 1) / s);
  const OW = pad === 'same' ? Math.ceil(W / s) : Math.ceil((W - k + 1) / s);
  const padT = pad === 'same' ? Math.floor(Math.max((OH - 1) * s + k - H, 0) / 2) : 0;
  const padL = pad === 'same' ? Math.floor(Math.max((OW - 1) * s + k - W, 0) / 2) : 0;
  const g = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++) {
          let best = -Infinity;
          let at = -1;
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const y = oy * s - padT + ky;
              const xx = ox * s - padL + kx;
              if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
              const i = ((b * H + y) * W + xx) * C + c;
              if (x[i] > best) {
                best = x[i];
                at = i;
              }
            }
          g[at] += dy[((b * OH + oy) * OW + ox) * C + c];
        }
  return g;
}

const CASES: [number[], number, number, 'same' | 'valid'][] = [
  [[1, 56, 56, 16], 3, 2, 'same'],
  [[2, 15, 15, 5], 3, 2, 'same'],
  [[1, 72, 72, 8], 3, 2, 'valid'],
  [[2, 9, 10, 3], 3, 2, 'valid'],
  [[1, 8, 8, 4], 2, 2, 'valid'],
];

test.each(CASES.map((c) => [c[0].join('x'), c] as const))(
  'MaxPoolGrad %s: wasm = cpu = reference, with negative inputs',
  async (_n, [shape, k, s, pad]) => {
    const r = seeded(11);
    const size = shape.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: size }, () => r() * 2 - 1.4); // mostly negative
    const grads: Record<string, Float32Array> = {};
    let dy: Float32Array | undefined;
    for (const backend of ['cpu', 'wasm'] as const) {
      const tf = await useBackend(backend);
      if (backend === 'wasm')
        expect(
          (tf.getKernel('MaxPoolGrad', 'wasm')!.kernelFunc as unknown as Record<string, boolean>)
            .__promptgenPatched,
        ).toBe(true);
      const xt = tf.tensor4d(x, shape as [number, number, number, number]);
      const y = tf.maxPool(xt, k, s, pad);
      dy ??= Float32Array.from({ length: y.size }, () => r() - 0.5);
      const before = tf.memory().numTensors;
      const w = tf.tensor(dy, y.shape);
      const g = tf.grad((t) => tf.sum(tf.mul(tf.maxPool(t as typeof xt, k, s, pad), w)))(xt);
      grads[backend] = g.dataSync() as Float32Array;
      tf.dispose([g, w]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([xt, y]);
    }
    const ref = reference(x, shape, k, s, pad, dy!);
    let dCpu = 0;
    let dWasm = 0;
    for (let i = 0; i < ref.length; i++) {
      dCpu = Math.max(dCpu, Math.abs(grads.cpu[i] - ref[i]));
      dWasm = Math.max(dWasm, Math.abs(grads.wasm[i] - ref[i]));
    }
    expect(dCpu).toBeLessThan(1e-6);
    expect(dWasm).toBeLessThan(1e-6);
  },
);
