/**
 * The asset resolver handed to plugins in their LoadContext: files inside the
 * plugin package, and TF.js models from disk or http(s) where the asset policy
 * (./asset-policy.ts, PROMPTGEN_ASSET_DIRS / PROMPTGEN_ASSET_URLS) allows them.
 * Locations often come from client params, so anything outside the policy is
 * refused here too, not only at createPrompt.
 */
import { promises as fsp, realpathSync, existsSync, statSync } from 'fs';
import * as path from 'path';
import type * as tfcore from '@tensorflow/tfjs-core';
import type { AssetResolver, Tf } from '../sdk';
import { ASSET_REFUSAL, PLUGIN_ASSETS_ONLY, checkAssetLocation, type AssetPolicy } from './asset-policy';

function within(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Bytes per element of the weight dtypes TF.js writes (after dequantisation rules). */
function specBytes(spec: tfcore.io.WeightsManifestEntry): number {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.quantization) {
    const q = spec.quantization.dtype;
    return n * (q === 'uint8' ? 1 : q === 'float16' || q === 'uint16' ? 2 : 4);
  }
  if (spec.dtype === 'string') return -1; // variable length: not checked
  return n * (spec.dtype === 'bool' ? 1 : 4);
}

/**
 * A tf.io IOHandler that loads model.json and its weight shards from disk.
 * Errors name the missing or short file.
 */
export function fileModelHandler(tf: Pick<Tf, 'io'>, modelJsonPath: string): tfcore.io.IOHandler {
  return {
    async load() {
      let text: string;
      try {
        text = await fsp.readFile(modelJsonPath, 'utf8');
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'ENOENT') throw new Error(`model file not found: ${modelJsonPath}`, { cause: e });
        throw new Error(`cannot read model file ${modelJsonPath}: ${err.message}`, { cause: e });
      }
      let json: tfcore.io.ModelJSON;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new Error(`${modelJsonPath} is not valid JSON: ${(e as Error).message}`, { cause: e });
      }
      if (!json || typeof json !== 'object' || !json.modelTopology) {
        throw new Error(`${modelJsonPath} is not a TF.js model.json (no "modelTopology")`);
      }
      const dir = path.dirname(modelJsonPath);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tfcore.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          const groupBuffers: Buffer[] = [];
          for (const p of group.paths) {
            const file = path.resolve(dir, decodeURIComponent(p));
            if (!within(dir, file))
              throw new Error(
                `weight path ${JSON.stringify(p)} in ${modelJsonPath} leaves the model directory`,
              );
            try {
              groupBuffers.push(await fsp.readFile(file));
            } catch (e) {
              const err = e as NodeJS.ErrnoException;
              if (err.code === 'ENOENT')
                throw new Error(`weight file not found: ${file} (listed in ${modelJsonPath})`, { cause: e });
              throw new Error(`cannot read weight file ${file}: ${err.message}`, { cause: e });
            }
          }
          const expected = group.weights.reduce(
            (a, s) => (a < 0 || specBytes(s) < 0 ? -1 : a + specBytes(s)),
            0,
          );
          const got = groupBuffers.reduce((a, b) => a + b.length, 0);
          if (expected >= 0 && got < expected) {
            throw new Error(
              `weight files ${group.paths.join(', ')} of ${modelJsonPath} hold ${got} bytes but the manifest needs ${expected}: truncated or wrong file`,
            );
          }
          specs.push(...group.weights);
          for (const b of groupBuffers)
            buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer);
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

/** tf.io.http with node's fetch, wrapping network failures in a message that names the URL. */
function httpModelHandler(tf: Pick<Tf, 'io'>, url: string, policy: AssetPolicy): tfcore.io.IOHandler {
  const inner = tf.io.http(url, {
    fetchFunc: (async (input: RequestInfo | URL, init?: RequestInit) => {
      // Weight shards are named by the model.json: they must be allowed too, and a redirect could leave the prefixes.
      if (!checkAssetLocation(String(input), policy).ok)
        throw new Error(`weight URL ${String(input)} ${ASSET_REFUSAL}`);
      let res: Response;
      try {
        res = await fetch(input, { ...init, redirect: 'error' });
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        const why = err.cause?.code ?? err.cause?.message ?? err.message;
        throw new Error(`could not fetch ${String(input)}: ${why}`, { cause: e });
      }
      // A minimal Response: weight bytes are copied into this realm's ArrayBuffer (tfjs checks
      // `instanceof ArrayBuffer`, which fails across realms, e.g. under jest), and a failed
      // weight request names its URL.
      return {
        ok: res.ok,
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
        url: res.url,
        json: async () => JSON.parse(await res.text()), // parsed in this realm (tfjs uses instanceof Array)
        text: () => res.text(),
        async arrayBuffer() {
          if (!res.ok) throw new Error(`request for ${String(input)} failed with HTTP ${res.status}`);
          const bytes = new Uint8Array(await res.arrayBuffer());
          const copy = new ArrayBuffer(bytes.byteLength);
          new Uint8Array(copy).set(bytes);
          return copy;
        },
      } as unknown as Response;
    }) as typeof fetch,
  });
  return {
    async load() {
      try {
        return await inner.load!();
      } catch (e) {
        const msg = (e as Error).message;
        throw new Error(
          msg.includes(url) || msg.startsWith('could not fetch')
            ? msg
            : `could not load model from ${url}: ${msg}`,
          { cause: e },
        );
      }
    },
  };
}

/** Resolves paths and models for one plugin directory. */
export function createAssetResolver(
  pluginDir: string,
  tf: Tf,
  policy: AssetPolicy = PLUGIN_ASSETS_ONLY,
): AssetResolver {
  const root = path.resolve(pluginDir);
  let realRoot: string | null = null;
  const getRealRoot = () => (realRoot ??= existsSync(root) ? realpathSync(root) : root);

  function resolve(relativePath: string): string {
    if (typeof relativePath !== 'string' || !relativePath)
      throw new Error('asset path must be a non-empty string');
    const p = path.resolve(root, relativePath);
    if (!within(root, p))
      throw new Error(`asset path ${JSON.stringify(relativePath)} escapes the plugin directory ${root}`);
    if (existsSync(p)) {
      const real = realpathSync(p);
      if (!within(getRealRoot(), real))
        throw new Error(
          `asset path ${JSON.stringify(relativePath)} links outside the plugin directory ${root}`,
        );
    }
    return p;
  }

  /** A file path or URL the policy allows; throws the one refusal text otherwise. */
  function locate(pathOrUrl: string): { file: string } | { url: string } {
    const checked = checkAssetLocation(pathOrUrl, policy);
    if (!checked.ok)
      throw new Error(`asset ${JSON.stringify(String(pathOrUrl).slice(0, 200))} ${ASSET_REFUSAL}`);
    const loc = checked.location;
    if (loc.kind === 'url') return { url: loc.url };
    return { file: loc.kind === 'file' ? loc.path : resolve(loc.relative) };
  }

  function modelHandler(pathOrUrl: string): tfcore.io.IOHandler {
    if (typeof pathOrUrl !== 'string' || !pathOrUrl) throw new Error('model path must be a non-empty string');
    const where = locate(pathOrUrl);
    if ('url' in where) return httpModelHandler(tf, where.url, policy);
    let file = where.file;
    if (existsSync(file) && statSync(file).isDirectory()) {
      // A directory: look for model.json in it.
      file = path.join(file, 'model.json');
    }
    return fileModelHandler(tf, file);
  }

  return {
    resolve,
    async readFile(relativePath: string) {
      const p = resolve(relativePath);
      try {
        return await fsp.readFile(p);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'ENOENT') throw new Error(`asset not found: ${p}`, { cause: e });
        throw e;
      }
    },
    async readAsset(pathOrUrl: string) {
      const where = locate(pathOrUrl);
      if ('url' in where) {
        let res: Response;
        try {
          res = await fetch(where.url, { redirect: 'error' }); // a redirect could leave the allowed prefixes
        } catch (e) {
          const err = e as Error & { cause?: { code?: string; message?: string } };
          throw new Error(
            `could not fetch ${where.url}: ${err.cause?.code ?? err.cause?.message ?? err.message}`,
            { cause: e },
          );
        }
        if (!res.ok) throw new Error(`could not fetch ${where.url}: HTTP ${res.status}`);
        return Buffer.from(await res.arrayBuffer());
      }
      try {
        return await fsp.readFile(where.file);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'ENOENT') throw new Error(`asset not found: ${where.file}`, { cause: e });
        if (err.code === 'EISDIR') throw new Error(`asset ${where.file} is a directory`, { cause: e });
        throw e;
      }
    },
    async loadLayersModel(pathOrUrl: string) {
      const handler = modelHandler(pathOrUrl);
      try {
        return await tf.loadLayersModel(handler);
      } catch (e) {
        throw new Error(`cannot load layers model ${pathOrUrl}: ${(e as Error).message}`, { cause: e });
      }
    },
    async loadGraphModel(pathOrUrl: string) {
      const handler = modelHandler(pathOrUrl);
      try {
        return await tf.loadGraphModel(handler);
      } catch (e) {
        throw new Error(`cannot load graph model ${pathOrUrl}: ${(e as Error).message}`, { cause: e });
      }
    },
  };
}
