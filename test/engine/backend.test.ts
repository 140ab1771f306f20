import { initBackend, getTf } from '../../src/engine/backend';
import { WASM_PATCHED_KERNELS } from '../../src/engine/kernels/index';

describe('initBackend auto', () => {
  it('skips the native backends (no addon here) and WebGPU (no hardware adapter here), picks wasm with the kernel patches, and is idempotent', async () => {
    const logs: string[] = [];
    const info = await initBackend('auto', (m) => logs.push(m));
    expect(info.backend).toBe('wasm');
    expect(info.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow']);
    for (const s of info.skipped)
      expect(s.reason).toMatch(/native addon|not installed|no hardware WebGPU adapter/);
    expect(info.adapter).toBeUndefined(); // auto never takes a software adapter (llvmpipe is all there is here)
    expect(logs.join('\n')).toMatch(/engine backend: wasm.*skipped tensorflow-gpu/);
    expect(info.tf).toBe(getTf());
    expect(info.tf.getBackend()).toBe('wasm');
    expect(typeof info.tf.loadLayersModel).toBe('function');
    expect(typeof info.tf.loadGraphModel).toBe('function');
    for (const k of WASM_PATCHED_KERNELS) expect(info.tf.getKernel(k, 'wasm')).toBeDefined();
    expect(await initBackend()).toBe(info);
  });
});
