/**
 * Reads face-api's weight manifests and shards (the package's `model/` folder)
 * into tensors of the host's tf. The shards are uint8-quantised for most
 * tensors; `tf.io.decodeWeights` de-quantises them exactly as face-api does.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Tensor, Tf } from 'promptgen/plugin';

/** Weight tensors by face-api's names. */
export type WeightMap = Record<string, Tensor>;

/** Absolute path of @vladmandic/face-api's model folder (resolved from this plugin). */
export function modelDir(): string {
  let pkg: string;
  try {
    // From this package's folder (src/lib/ or dist/lib/ two levels below it), as npm installed it.
    pkg = require.resolve('@vladmandic/face-api/package.json', { paths: [path.join(__dirname, '..', '..')] });
  } catch (err) {
    throw new Error(
      `@vladmandic/face-api is not installed next to the face-api plugin (${err && (err as Error).message})`,
      { cause: err },
    );
  }
  return path.join(path.dirname(pkg), 'model');
}

/** Loaded weight maps, per tf namespace and model name: { map, refs }. */
const cache = new WeakMap<Tf, Map<string, { map: WeightMap; refs: number }>>();

/** One group of face-api's weights manifest: shard files and the tensors they hold. */
type ManifestGroup = { paths: string[]; weights: Parameters<Tf['io']['decodeWeights']>[1] };

function readWeightMap(tf: Tf, name: string): WeightMap {
  const dir = modelDir();
  const manifestFile = path.join(dir, `${name}-weights_manifest.json`);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as ManifestGroup[];
  const map: WeightMap = {};
  for (const group of manifest) {
    const buffers = group.paths.map((p) => {
      const file = path.join(dir, p);
      if (!fs.existsSync(file)) throw new Error(`face-api weights: shard ${file} is missing`);
      return fs.readFileSync(file);
    });
    const all = Buffer.concat(buffers);
    const ab = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
    const decoded = tf.io.decodeWeights(ab, group.weights);
    for (const [k, t] of Object.entries(decoded)) {
      if (t.dtype === 'float32') map[k] = t;
      else {
        map[k] = tf.cast(t, 'float32');
        t.dispose();
      }
    }
  }
  return map;
}

/**
 * Loads `<name>-weights_manifest.json` and its shards as a { [weightName]: Tensor }
 * map, shared (reference-counted) by every control instance of one host tf.
 * Call the returned `release()` once when done: the last release disposes them.
 * `name`: e.g. 'age_gender_model'.
 */
export function acquireWeights(tf: Tf, name: string): { weights: WeightMap; release: () => void } {
  let perTf = cache.get(tf);
  if (!perTf) cache.set(tf, (perTf = new Map()));
  const tfCache = perTf;
  let entry = perTf.get(name);
  if (!entry || Object.values(entry.map).some((t) => t.isDisposed)) {
    entry = { map: readWeightMap(tf, name), refs: 0 };
    perTf.set(name, entry);
  }
  entry.refs++;
  const held = entry;
  let released = false;
  return {
    weights: held.map,
    release() {
      if (released) return;
      released = true;
      held.refs--;
      if (held.refs <= 0) {
        for (const t of Object.values(held.map)) if (!t.isDisposed) t.dispose();
        if (tfCache.get(name) === held) tfCache.delete(name);
      }
    },
  };
}
