/**
 * The fused coupling blocks (src/engine/coupling.ts) against the unfused flow:
 * outputs, log-det, the gradient of every variable and of ε, and the inverse,
 * conditional and unconditional, odd and even dimensions. On cpu always; on
 * wasm where the native addon registers them there.
 */
import * as tfcore from '@tensorflow/tfjs-core';
import { Flow } from '../../src/engine/flow';
import { fusedCouplingAvailable } from '../../src/engine/coupling';
import {
  COUPLING_FORWARD,
  cpuIo,
  nativeCouplingOf,
  registerCouplingKernels,
} from '../../src/engine/kernels/fused-coupling';
import { jsGemm, gemmOf } from '../../src/engine/kernels/gemm';
import { loadNativeBlas, nativeBlasStatus } from '../../src/engine/kernels/native-blas';
import type { Tensor1D, Tensor2D } from '../../src/sdk/index';
import { Rng } from '../../src/engine/rng';
import { useBackend, randomizeFlow } from './helpers';
import { optionalPart } from '../helpers/optional';

const relDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / Math.max(den, 1e-6);
};

const native = loadNativeBlas();
// Without the addon only the cpu half runs (a failure in CI, where the addon is built).
const nativeCoupling = optionalPart(
  "the addon's whole-block coupling kernels",
  !native
    ? nativeBlasStatus
    : nativeCouplingOf(native)
      ? null
      : 'the addon predates them (run node native/build.js)',
);
const backends = ['cpu', ...(native ? ['wasm'] : [])];

describe.each(backends)('fused coupling blocks on %s', (backend) => {
  let tf: Awaited<ReturnType<typeof useBackend>>;
  beforeAll(async () => {
    tf = await useBackend(backend as 'cpu' | 'wasm');
  });
  beforeEach(async () => {
    await tf.setBackend(backend);
  });

  it('are registered and used by Flow.forward (not with PROMPTGEN_FUSED_COUPLING=0)', () => {
    if (process.env.PROMPTGEN_FUSED_COUPLING === '0') {
      expect(fusedCouplingAvailable(tf)).toBe(false); // the switch turns them off: the rest of the suite runs the unfused ops
      return;
    }
    expect(fusedCouplingAvailable(tf)).toBe(true);
    const flow = new Flow(tf, { dim: 6, blocks: 3, hidden: 8, conditionDim: 0, seed: 1 });
    const eps = tf.randomNormal([4, 6], 0, 1, 'float32', 1) as Tensor2D;
    let forwardCalls = 0;
    const k = tfcore.getKernel(COUPLING_FORWARD, backend)!;
    const original = k.kernelFunc;
    tfcore.unregisterKernel(COUPLING_FORWARD, backend);
    tfcore.registerKernel({
      ...k,
      kernelFunc: (args) => {
        forwardCalls++;
        return original(args);
      },
    });
    try {
      flow.useFusedBlocks = true;
      tf.tidy(() => flow.forward(eps));
      expect(forwardCalls).toBe(3);
      flow.useFusedBlocks = false;
      tf.tidy(() => flow.forward(eps));
      expect(forwardCalls).toBe(3);
    } finally {
      tfcore.unregisterKernel(COUPLING_FORWARD, backend);
      tfcore.registerKernel(k);
    }
    eps.dispose();
    flow.dispose();
  });

  it.each([
    ['even d, no condition', 8, 0],
    ['odd d, no condition', 7, 0],
    ['odd d, with condition', 7, 3],
    ['even d, with condition', 6, 2],
  ])('match the unfused flow: z, log-det, every gradient, inverse (%s)', (_label, dim, conditionDim) => {
    const flow = new Flow(tf, { dim, blocks: 3, hidden: 16, conditionDim, seed: 4 });
    randomizeFlow(tf, flow, 17);
    const rng = new Rng(9);
    const n = 5;
    const eps = tf.tensor2d(rng.normals(n * dim), [n, dim]);
    const cond = conditionDim ? tf.tensor2d(rng.normals(n * conditionDim), [n, conditionDim]) : undefined;
    // a loss that weighs every output and every log-det differently
    const wz = tf.tensor2d(rng.normals(n * dim), [n, dim]);
    const wl = tf.tensor1d(rng.normals(n));
    const run = (fused: boolean) => {
      flow.useFusedBlocks = fused;
      const fwd = flow.forward(eps, cond); // no tape: the sampling path
      const lossOf = (x: Tensor2D) => {
        const { z, logDet } = flow.forward(x, cond);
        return tf.add(tf.sum(tf.mul(z, wz)), tf.sum(tf.mul(logDet, wl))) as tfcore.Scalar;
      };
      const { value, grads } = tf.variableGrads(() => lossOf(eps), flow.variables());
      const gEps = tf.grad((x: tfcore.Tensor) => lossOf(x as Tensor2D))(eps);
      const taped = tf.variableGrads(() => {
        const { z, logDet } = flow.forward(eps, cond);
        return tf.add(tf.sum(tf.mul(z, wz)), tf.sum(tf.mul(logDet, wl))) as tfcore.Scalar;
      }, flow.variables());
      const back = flow.inverse(fwd.z, cond);
      const out = {
        z: fwd.z.dataSync().slice(),
        logDet: fwd.logDet.dataSync().slice(),
        loss: value.dataSync()[0]!,
        grads: flow.variables().map((v) => grads[v.name]!.dataSync().slice()),
        gEps: gEps.dataSync().slice(),
        back: back.dataSync().slice(),
      };
      tf.dispose([
        fwd.z,
        fwd.logDet,
        value,
        gEps,
        back,
        taped.value,
        ...Object.values(grads),
        ...Object.values(taped.grads),
      ]);
      return out;
    };
    const before = tf.memory().numTensors;
    const fused = run(true);
    expect(tf.memory().numTensors).toBe(before); // no leaks on the fused path (saved tensors released by backprop)
    const ref = run(false);
    expect(relDiff(fused.z, ref.z)).toBeLessThan(1e-5);
    expect(relDiff(fused.logDet, ref.logDet)).toBeLessThan(1e-5);
    expect(Math.abs(fused.loss - ref.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.loss)));
    const names = flow.variableNames();
    fused.grads.forEach((g, i) => {
      const r = ref.grads[i]!;
      const diff = relDiff(g, r);
      if (diff >= 1e-4) throw new Error(`gradient of ${names[i]} differs: ${diff}`);
      expect(Math.max(...Array.from(r, Math.abs))).toBeGreaterThan(0); // every variable gets a gradient
    });
    expect(relDiff(fused.gEps, ref.gEps)).toBeLessThan(1e-4);
    expect(relDiff(fused.back, eps.dataSync())).toBeLessThan(1e-4);
    tf.dispose([eps, wz, wl, ...(cond ? [cond] : [])]);
    flow.dispose();
  });

  it('match with a condition of one row broadcast and with zero conditions (omitted)', () => {
    const flow = new Flow(tf, { dim: 5, blocks: 2, hidden: 8, conditionDim: 2, seed: 2 });
    randomizeFlow(tf, flow, 3);
    const eps = tf.tensor2d(new Rng(1).normals(15), [3, 5]);
    const one = tf.tensor2d([0.5, -1], [1, 2]);
    for (const cond of [one, undefined]) {
      flow.useFusedBlocks = true;
      const a = flow.forward(eps, cond);
      flow.useFusedBlocks = false;
      const b = flow.forward(eps, cond);
      expect(relDiff(a.z.dataSync(), b.z.dataSync())).toBeLessThan(1e-5);
      expect(relDiff(a.logDet.dataSync(), b.logDet.dataSync())).toBeLessThan(1e-5);
      tf.dispose([a.z, a.logDet, b.z, b.logDet]);
    }
    tf.dispose([eps, one]);
    flow.dispose();
  });

  it('one training step moves the weights the same way fused and unfused', () => {
    const mk = () => {
      const f = new Flow(tf, { dim: 9, blocks: 2, hidden: 12, conditionDim: 0, seed: 7 });
      randomizeFlow(tf, f, 5);
      return f;
    };
    const eps = tf.tensor2d(new Rng(2).normals(4 * 9), [4, 9]);
    const loss = (f: Flow) => () => {
      const { z, logDet } = f.forward(eps);
      return tf.sub(
        tf.mean(tf.mul(tf.sum(tf.square(z), 1), 0.5)),
        tf.mean(logDet as Tensor1D),
      ) as tfcore.Scalar;
    };
    const a = mk();
    const b = mk();
    b.useFusedBlocks = false;
    const ga = tf.variableGrads(loss(a), a.variables());
    const gb = tf.variableGrads(loss(b), b.variables());
    a.variables().forEach((v, i) => {
      const r = gb.grads[b.variables()[i]!.name]!.dataSync();
      expect(relDiff(ga.grads[v.name]!.dataSync(), r)).toBeLessThan(1e-4);
    });
    tf.dispose([eps, ga.value, gb.value, ...Object.values(ga.grads), ...Object.values(gb.grads)]);
    a.dispose();
    b.dispose();
  });
});

(nativeCoupling ? describe : describe.skip)("the addon's whole-block kernels", () => {
  it("give the JS twin's values and gradients (cpu backend, conditional, odd d)", async () => {
    const tf = await useBackend('cpu');
    const flow = new Flow(tf, { dim: 9, blocks: 3, hidden: 12, conditionDim: 2, seed: 8 });
    randomizeFlow(tf, flow, 6);
    const rng = new Rng(4);
    const eps = tf.tensor2d(rng.normals(6 * 9), [6, 9]);
    const cond = tf.tensor2d(rng.normals(6 * 2), [6, 2]);
    const run = () => {
      const { value, grads } = tf.variableGrads(() => {
        const { z, logDet } = flow.forward(eps, cond);
        return tf.add(tf.sum(tf.square(z)), tf.sum(logDet)) as tfcore.Scalar;
      }, flow.variables());
      const out = [
        value.dataSync()[0]!,
        ...flow.variables().map((v) => Array.from(grads[v.name]!.dataSync())),
      ];
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    try {
      registerCouplingKernels('cpu', cpuIo, jsGemm, null);
      const js = run();
      registerCouplingKernels('cpu', cpuIo, gemmOf(native), nativeCouplingOf(native));
      const c = run();
      expect(Math.abs((c[0] as number) - (js[0] as number))).toBeLessThan(1e-4 * Math.abs(js[0] as number));
      for (let i = 1; i < js.length; i++)
        expect(relDiff(c[i] as number[], js[i] as number[])).toBeLessThan(1e-4);
    } finally {
      registerCouplingKernels('cpu', cpuIo, gemmOf(native), nativeCouplingOf(native));
    }
    tf.dispose([eps, cond]);
    flow.dispose();
  });
});

describe('gemm', () => {
  const rnd = (n: number, seed: number) => new Float32Array(new Rng(seed).normals(n));
  const reference = (
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    c: Float32Array,
    ldc: number,
    m: number,
    n: number,
    k: number,
    ta: boolean,
    tb: boolean,
    alpha: number,
    beta: number,
  ) => {
    const out = Float64Array.from(c);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++)
          s += (ta ? a[p * lda + i]! : a[i * lda + p]!) * (tb ? b[j * ldb + p]! : b[p * ldb + j]!);
        out[i * ldc + j] = alpha * s + beta * c[i * ldc + j]!;
      }
    }
    return out;
  };
  const impls: [string, typeof jsGemm][] = [
    ['js', jsGemm],
    ...(native ? [['native', gemmOf(native)] as [string, typeof jsGemm]] : []),
  ];
  it.each(impls)('%s: transposes, leading dimensions, alpha and beta', (_name, gemm) => {
    const m = 5,
      n = 7,
      k = 3;
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        for (const [alpha, beta] of [
          [1, 0],
          [0.5, 1],
          [-2, 0.25],
        ]) {
          const lda = (ta ? m : k) + 2,
            ldb = (tb ? k : n) + 1,
            ldc = n + 3;
          const a = rnd((ta ? k : m) * lda, 1);
          const b = rnd((tb ? n : k) * ldb, 2);
          const c = rnd(m * ldc, 3);
          const want = reference(a, lda, b, ldb, c, ldc, m, n, k, ta, tb, alpha!, beta!);
          gemm(a, lda, b, ldb, c, ldc, m, n, k, ta, tb, alpha!, beta!);
          // columns beyond n (the padding of ldc) keep their values: want holds the original there
          let worst = 0;
          for (let idx = 0; idx < m * ldc; idx++) worst = Math.max(worst, Math.abs(c[idx]! - want[idx]!));
          expect(worst).toBeLessThan(1e-5);
        }
      }
    }
  });
});
