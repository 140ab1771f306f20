/**
 * Backend choice for the engine: tfjs-node-gpu, webgpu, tfjs-node, wasm or cpu.
 *
 * `auto` takes a GPU only where one is real: tfjs-node-gpu where its addon is
 * present, then WebGPU on a *hardware* adapter (never a software rasteriser such
 * as llvmpipe; see webgpu.ts); `webgpu` asked for by name also accepts a software
 * adapter (CI checks correctness on one).
 *
 * All @tensorflow/* packages are pinned to one version, so whichever backend is
 * chosen registers into the same tfjs-core instance. Native packages are only
 * `require`d when their addon file exists, and at most one of them per process.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tfcore from '@tensorflow/tfjs-core';
import * as tflayers from '@tensorflow/tfjs-layers';
import * as tfconverter from '@tensorflow/tfjs-converter';
import '@tensorflow/tfjs-backend-cpu';
import type { Tf } from '../sdk/index';
import { registerWasmPatches } from './kernels/index';
import { initWebGpu, type GpuAdapter } from './webgpu';

export type BackendPreference = 'auto' | 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  tf: Tf;
  backend: string;
  skipped: { name: string; reason: string }[];
  /** The WebGPU adapter, when backend is 'webgpu'. */
  adapter?: GpuAdapter;
}

let merged: Tf | undefined;

/** The merged namespace (tfjs-core + tfjs-layers + tfjs-converter). Does not choose a backend. */
export function getTf(): Tf {
  if (!merged) {
    merged = Object.freeze(Object.assign({}, tfconverter, tflayers, tfcore)) as unknown as Tf;
  }
  return merged;
}

let initialized: Promise<BackendInfo> | undefined;
let initializedPref: BackendPreference | undefined;

const PREFS: BackendPreference[] = ['auto', 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

function packageDir(name: string): string | undefined {
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

/** Path of the native addon of tfjs-node(-gpu) if it is present, else a reason why not. */
export function findNativeAddon(pkg: string): { ok: true; file: string } | { ok: false; reason: string } {
  const dir = packageDir(pkg);
  if (!dir) return { ok: false, reason: `${pkg} is not installed` };
  const lib = path.join(dir, 'lib');
  let entries: string[];
  try {
    entries = fs.readdirSync(lib).filter((e) => e.startsWith('napi-v'));
  } catch {
    return {
      ok: false,
      reason: `${pkg} has no native addon (${lib} missing; its install script could not download libtensorflow)`,
    };
  }
  for (const e of entries) {
    const file = path.join(lib, e, 'tfjs_binding.node');
    if (fs.existsSync(file)) return { ok: true, file };
  }
  return { ok: false, reason: `${pkg} has no native addon (no ${lib}/napi-v*/tfjs_binding.node)` };
}

async function tryNative(pkg: string): Promise<string | undefined> {
  const found = findNativeAddon(pkg);
  if (!found.ok) throw new Error(found.reason);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(pkg);
  const ok = await tfcore.setBackend('tensorflow');
  if (!ok) throw new Error(`${pkg} loaded but the 'tensorflow' backend failed to initialise`);
  return 'tensorflow';
}

async function tryWasm(): Promise<string> {
  const dir = packageDir('@tensorflow/tfjs-backend-wasm');
  if (!dir) throw new Error('@tensorflow/tfjs-backend-wasm is not installed');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(path.join(dir, 'dist') + path.sep);
  const ok = await tfcore.setBackend('wasm');
  if (!ok) throw new Error('the wasm backend failed to initialise');
  await tfcore.ready();
  registerWasmPatches();
  return 'wasm';
}

let adapter: GpuAdapter | undefined;

async function tryWebGpu(allowSoftware: boolean): Promise<string> {
  adapter = await initWebGpu({ allowSoftware });
  const ok = await tfcore.setBackend('webgpu');
  if (!ok) throw new Error('the webgpu backend failed to initialise');
  await tfcore.ready();
  return 'webgpu';
}

async function tryCpu(): Promise<string> {
  const ok = await tfcore.setBackend('cpu');
  if (!ok) throw new Error('the cpu backend failed to initialise');
  return 'cpu';
}

async function choose(pref: BackendPreference, log: (msg: string) => void): Promise<BackendInfo> {
  const skipped: { name: string; reason: string }[] = [];
  const order: [string, () => Promise<string | undefined>][] = [];
  const gpu: [string, () => Promise<string | undefined>] = [
    'tensorflow-gpu',
    () => tryNative('@tensorflow/tfjs-node-gpu'),
  ];
  const node: [string, () => Promise<string | undefined>] = [
    'tensorflow',
    () => tryNative('@tensorflow/tfjs-node'),
  ];
  const webgpu: [string, () => Promise<string | undefined>] = ['webgpu', () => tryWebGpu(pref === 'webgpu')];
  const wasm: [string, () => Promise<string | undefined>] = ['wasm', tryWasm];
  const cpu: [string, () => Promise<string | undefined>] = ['cpu', tryCpu];
  if (pref === 'auto') order.push(gpu, webgpu, node, wasm, cpu);
  else if (pref === 'tensorflow-gpu') order.push(gpu);
  else if (pref === 'webgpu') order.push(webgpu);
  else if (pref === 'tensorflow') order.push(node);
  else if (pref === 'wasm') order.push(wasm);
  else order.push(cpu);

  for (const [name, attempt] of order) {
    try {
      const backend = await attempt();
      if (backend) {
        const why = skipped.length
          ? `; skipped ${skipped.map((s) => `${s.name} (${s.reason})`).join(', ')}`
          : '';
        const on = backend === 'webgpu' && adapter ? ` on ${describeAdapter(adapter)}` : '';
        log(`engine backend: ${backend}${on} (preference ${pref})${why}`);
        return { tf: getTf(), backend, skipped, ...(backend === 'webgpu' ? { adapter } : {}) };
      }
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      skipped.push({ name, reason });
      // A native package that was required but failed cannot be unloaded:
      // stop trying the other native one (at most one per process).
      if (
        (name === 'tensorflow-gpu' || name === 'tensorflow') &&
        !/no native addon|not installed/.test(reason)
      ) {
        const rest = order.filter(([n]) => n === 'wasm' || n === 'cpu');
        order.splice(0, order.length, ...rest);
      }
    }
  }
  throw new Error(
    `no TensorFlow.js backend could be initialised for preference '${pref}': ` +
      skipped.map((s) => `${s.name}: ${s.reason}`).join('; '),
  );
}

/** "NVIDIA ampere (NVIDIA H100), hardware, budget 2048 MB" — for logs. */
export function describeAdapter(a: GpuAdapter): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown vendor';
  const detail = a.device || a.description;
  return (
    `${name}${detail ? ` (${detail})` : ''}, ${a.software ? 'SOFTWARE' : 'hardware'}, Dawn ${a.dawnBackend}, ` +
    `memory budget ${Math.round(a.memoryBudgetBytes / 2 ** 20)} MB`
  );
}

/**
 * Chooses and initialises the backend once per process. A second call returns
 * the same result (whatever its preference; a different one is logged).
 * Without `pref`, reads PROMPTGEN_BACKEND (default 'auto').
 */
export function initBackend(
  pref?: BackendPreference,
  log: (msg: string) => void = () => undefined,
): Promise<BackendInfo> {
  const envPref = process.env.PROMPTGEN_BACKEND as BackendPreference | undefined;
  const wanted: BackendPreference = pref ?? (envPref && PREFS.includes(envPref) ? envPref : 'auto');
  if (!PREFS.includes(wanted)) return Promise.reject(new Error(`unknown backend preference '${wanted}'`));
  if (initialized) {
    if (initializedPref !== wanted)
      log(`engine backend already initialised with preference ${initializedPref}; ignoring ${wanted}`);
    return initialized;
  }
  initializedPref = wanted;
  initialized = choose(wanted, log);
  initialized.catch(() => {
    initialized = undefined;
    initializedPref = undefined;
  });
  return initialized;
}
