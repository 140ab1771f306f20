/**
 * The WebGPU backend: TF.js's `@tensorflow/tfjs-backend-webgpu` on Dawn (the npm
 * package `webgpu`, Chromium's WebGPU implementation, whose prebuilt linux-x64
 * binary ships inside the package). On a real machine Dawn drives the GPU
 * through Vulkan (NVIDIA, AMD, Intel; no CUDA toolkit); without one, Dawn's
 * GL ES backend on Mesa's llvmpipe is a *software* GPU that CI uses to check
 * correctness (speed there means nothing).
 *
 * Adapter choice. `requestAdapter` first on Dawn's default backends (Vulkan on
 * Linux) with `powerPreference: 'high-performance'`, then, only where a
 * software adapter is allowed, on `backend=opengles` in compatibility mode
 * (Debian 12's lavapipe is too old for Dawn's Vulkan path, its GL ES driver is
 * not). `auto` never takes a software adapter: `isFallbackAdapter`, or a
 * vendor/architecture/device/description naming a CPU rasteriser (llvmpipe,
 * lavapipe, softpipe, SwiftShader, WARP) marks one as software.
 *
 * One device per thread. The training thread and the API process each create
 * their own device (a GPUDevice cannot cross threads). Each device is bounded
 * by a memory budget (PROMPTGEN_GPU_MEMORY_MB, default 2048): every buffer
 * TF.js allocates goes through its BufferManager, so we wrap its
 * `acquireBuffer`. Past the budget we first drop the pool of freed buffers
 * TF.js keeps for reuse, and if that is not enough the op throws
 * GpuMemoryBudgetError, which fails the prompt (FAILED with that message)
 * instead of letting the driver run out. A lost device or an out-of-memory /
 * validation error Dawn reports asynchronously is raised at the next read.
 *
 * Reads. The stock `readSync` draws through an OffscreenCanvas, which Node
 * lacks: `dataSync()` would fail with "OffscreenCanvas is not defined". We make
 * it throw a clear message instead; engine paths read with `await data()`.
 */
import * as path from 'path';
import * as tfcore from '@tensorflow/tfjs-core';
import { registerWebGpuGradientPatches } from './kernels/webgpu-resize';

/** The TF.js WebGPU backend package, required only once an adapter is found (initWebGpu). */
type WebGpuBackendModule = typeof import('@tensorflow/tfjs-backend-webgpu');

/** What the start-up log and `serverInfo.adapter` report. */
export interface GpuAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU rasteriser (llvmpipe, lavapipe, SwiftShader …), not a GPU. */
  software: boolean;
  /** Dawn backend it was found on: 'default' (Vulkan on Linux) or 'opengles'. */
  dawnBackend: 'default' | 'opengles';
  /** The per-device memory budget in bytes. */
  memoryBudgetBytes: number;
}

export class GpuMemoryBudgetError extends Error {
  readonly code = 'GPU_MEMORY_BUDGET';
  /** Written for the user (src/shared/public-error.ts): it names the setting to change and carries no internals. */
  readonly expose = true;
  constructor(wantBytes: number, inUseBytes: number, budgetBytes: number) {
    super(
      `GPU memory budget exceeded: this job needs more than PROMPTGEN_GPU_MEMORY_MB=${Math.round(budgetBytes / 2 ** 20)} MB ` +
        `on its GPU device (${mb(inUseBytes)} MB in use, ${mb(wantBytes)} MB more requested); ` +
        'use a smaller batch size or raise PROMPTGEN_GPU_MEMORY_MB',
    );
    this.name = 'GpuMemoryBudgetError';
  }
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** 2 GiB: an MNIST-sized prompt peaks far below (docs/PERFORMANCE.md), a CLIP/face one below 1 GiB at batch 16. */
export const DEFAULT_GPU_MEMORY_MB = 2048;

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic render|\bwarp\b/i;

/** True for a CPU rasteriser rather than a GPU. */
export function isSoftwareAdapter(info: {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}): boolean {
  if (info.isFallbackAdapter) return true;
  return [info.vendor, info.architecture, info.device, info.description].some(
    (s) => typeof s === 'string' && SOFTWARE.test(s),
  );
}

/** Budget from PROMPTGEN_GPU_MEMORY_MB (validated again by loadConfig at start-up). */
export function gpuMemoryBudgetBytes(env: Record<string, string | undefined> = process.env): number {
  const raw = env.PROMPTGEN_GPU_MEMORY_MB?.trim();
  const n = raw ? Number(raw) : DEFAULT_GPU_MEMORY_MB;
  if (!Number.isInteger(n) || n < 16)
    throw new Error(`PROMPTGEN_GPU_MEMORY_MB="${raw}" is not an integer of at least 16`);
  return n * 2 ** 20;
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

let dawn: DawnModule | undefined;
/** Dawn instances in use, held for the life of the thread (see findAdapter). */
const instances: GPU[] = [];

/**
 * Loads Dawn's addon directly: the package's ESM entry only adds an unmap on
 * device.destroy(), which we never call (one device lives as long as its thread).
 */
function loadDawn(): DawnModule {
  if (dawn) return dawn;
  let dir: string;
  try {
    dir = path.dirname(require.resolve('webgpu/package.json'));
  } catch {
    throw new Error('the npm package webgpu is not installed');
  }
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  const file = path.join(dir, 'dist', `${process.platform}-${arch}`, 'dawn.node');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  dawn = require(file) as DawnModule;
  Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode … that TF.js reads as globals
  return dawn;
}

function describe(adapter: GPUAdapter, dawnBackend: GpuAdapter['dawnBackend'], budget: number): GpuAdapter {
  const i =
    (adapter as unknown as { info?: Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean } }).info ?? {};
  const fallback = Boolean(
    i.isFallbackAdapter ?? (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter,
  );
  const info = {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    description: i.description ?? '',
  };
  return {
    ...info,
    software: isSoftwareAdapter({ ...info, isFallbackAdapter: fallback }),
    dawnBackend,
    memoryBudgetBytes: budget,
  };
}

/** Finds an adapter: hardware first; a software one only when allowed. */
async function findAdapter(
  allowSoftware: boolean,
  budget: number,
): Promise<{ adapter: GPUAdapter; info: GpuAdapter }> {
  const d = loadDawn();
  const tried: string[] = [];
  const attempts: [GpuAdapter['dawnBackend'], string[], GPURequestAdapterOptions][] = [
    ['default', [], { powerPreference: 'high-performance' }],
  ];
  if (allowSoftware)
    attempts.push([
      'opengles',
      ['backend=opengles'],
      { featureLevel: 'compatibility' } as GPURequestAdapterOptions,
    ]);
  for (const [name, flags, opts] of attempts) {
    // Headless: Mesa's EGL needs the surfaceless platform (compute needs no display).
    if (name === 'opengles') process.env.EGL_PLATFORM ??= 'surfaceless';
    const gpu = d.create(flags);
    const adapter = await gpu.requestAdapter(opts);
    if (!adapter) {
      tried.push(`${name}: no adapter`);
      continue;
    }
    const info = describe(adapter, name, budget);
    if (info.software && !allowSoftware) {
      tried.push(`${name}: only a software adapter (${info.device || info.description || info.vendor})`);
      continue;
    }
    // The instance must outlive its device: once collected, Dawn tears down the
    // event loop its pending maps wait on (the process aborts at the next read).
    instances.push(gpu);
    return { adapter, info };
  }
  throw new Error(`no ${allowSoftware ? '' : 'hardware '}WebGPU adapter (${tried.join('; ')})`);
}

/** What a WebGPU device of this thread has reported asynchronously (lost, out of memory, validation). */
interface DeviceHealth {
  error?: string;
}

let chosen: GpuAdapter | undefined;

/**
 * Creates this thread's device and registers it as the TF.js backend 'webgpu'
 * (our factory replaces the package's, which would pick its own adapter and
 * needs `navigator.gpu`). Throws when no suitable adapter exists.
 */
export async function initWebGpu(opts: { allowSoftware: boolean }): Promise<GpuAdapter> {
  if (chosen && tfcore.findBackend('webgpu')) {
    if (chosen.software && !opts.allowSoftware)
      throw new Error('only a software WebGPU adapter is available');
    return chosen;
  }
  const budget = gpuMemoryBudgetBytes();
  const { adapter, info } = await findAdapter(opts.allowSoftware, budget);
  // Loaded before navigator.gpu exists, so the package does not register its own factory.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { WebGPUBackend } = require('@tensorflow/tfjs-backend-webgpu') as WebGpuBackendModule;
  // Its constructor checks navigator.gpu (Node 20 has no navigator); a marker object is enough.
  const nav = (globalThis as { navigator?: object }).navigator ?? {};
  Object.defineProperty(globalThis, 'navigator', {
    value: Object.assign(Object.create(nav), { gpu: {} }),
    configurable: true,
    writable: true,
  });

  const lim = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
    // The limits TF.js's own factory asks for (it sizes workgroups and bindings by them).
    requiredLimits: {
      maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: lim.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      maxBufferSize: lim.maxBufferSize,
      maxComputeWorkgroupSizeX: lim.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
    },
  });
  const health: DeviceHealth = {};
  void device.lost.then((l) => {
    health.error ??= `the GPU device was lost (${l.reason}${l.message ? `: ${l.message}` : ''})`;
  });
  device.onuncapturederror = (e: GPUUncapturedErrorEvent) => {
    const kind =
      e.error instanceof
      (globalThis as unknown as { GPUOutOfMemoryError: new () => GPUError }).GPUOutOfMemoryError
        ? 'out of GPU memory'
        : 'GPU error';
    health.error ??= `${kind}: ${e.error.message.split('\n')[0]}`;
  };

  const rawInfo = (adapter as unknown as { info?: GPUAdapterInfo }).info;
  if (tfcore.findBackendFactory('webgpu')) tfcore.removeBackend('webgpu');
  tfcore.registerBackend(
    'webgpu',
    () => {
      const backend = new WebGPUBackend(device, rawInfo);
      guard(backend as unknown as PatchableBackend, health, budget);
      return backend;
    },
    0,
  );
  registerWebGpuGradientPatches(); // stock resize gradients are wrong on webgpu (kernels/webgpu-resize.ts)
  chosen = info;
  return info;
}

interface PatchableBackend {
  bufferManager: {
    acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): GPUBuffer;
    freeBuffers: Map<string, GPUBuffer[]>;
    numFreeBuffers: number;
    numBytesAllocated: number;
  };
  submitQueue(): void;
  read(dataId: object): Promise<unknown>;
  readSync(dataId: object): unknown;
  tensorMap: { get(dataId: object): { values?: unknown } | undefined };
}

/** Budget on allocations, clear errors on reads (see the header). */
function guard(backend: PatchableBackend, health: DeviceHealth, budget: number): void {
  const bm = backend.bufferManager;
  const acquire = bm.acquireBuffer.bind(bm);
  bm.acquireBuffer = (size, usage, mappedAtCreation = false, reuse = true) => {
    const pooled = reuse && (bm.freeBuffers.get(`${size}_${usage}`)?.length ?? 0) > 0;
    if (!pooled && bm.numBytesAllocated + size > budget) {
      // Freed buffers are pooled by exact size; drop the pool (after submitting
      // the commands that may still use them) before giving up.
      backend.submitQueue();
      for (const list of bm.freeBuffers.values()) {
        for (const b of list) {
          bm.numBytesAllocated -= b.size;
          b.destroy();
        }
        list.length = 0;
      }
      bm.numFreeBuffers = 0;
      if (bm.numBytesAllocated + size > budget)
        throw new GpuMemoryBudgetError(size, bm.numBytesAllocated, budget);
    }
    return acquire(size, usage, mappedAtCreation, reuse);
  };
  const read = backend.read.bind(backend);
  backend.read = async (dataId) => {
    if (health.error) throw new Error(health.error);
    // Dawn's pending mapAsync holds no handle on Node's event loop: with nothing
    // else pending (a script, a worker thread between steps) Node would exit
    // mid-read. A ref'd timer keeps the loop alive until the read settles.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      const out = await read(dataId);
      if (health.error) throw new Error(health.error);
      return out;
    } finally {
      clearInterval(keepAlive);
    }
  };
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId) => {
    // Values already on the CPU (uploaded from JS, or read before) are fine.
    if (backend.tensorMap.get(dataId)?.values != null) return readSync(dataId);
    throw new Error(
      'synchronous reads (dataSync, arraySync) are not available on the webgpu backend in Node: use await data() / await array()',
    );
  };
}
