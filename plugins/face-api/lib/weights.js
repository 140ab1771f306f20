'use strict';
/**
 * Reads face-api's weight manifests and shards (the package's `model/` folder)
 * into tensors of the host's tf. The shards are uint8-quantised for most
 * tensors; `tf.io.decodeWeights` de-quantises them exactly as face-api does.
 */
const fs = require('fs');
const path = require('path');

/** Absolute path of @vladmandic/face-api's model folder (resolved from this plugin). */
function modelDir() {
  let pkg;
  try {
    pkg = require.resolve('@vladmandic/face-api/package.json', { paths: [path.join(__dirname, '..')] });
  } catch (err) {
    throw new Error(`@vladmandic/face-api is not installed next to the face-api plugin (${err && err.message})`, { cause: err });
  }
  return path.join(path.dirname(pkg), 'model');
}

/** Loaded weight maps, per tf namespace and model name: { map, refs }. */
const cache = new WeakMap();

function readWeightMap(tf, name) {
  const dir = modelDir();
  const manifestFile = path.join(dir, `${name}-weights_manifest.json`);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  const map = {};
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
 * @param {import('../../../src/plugins/sdk').Tf} tf
 * @param {string} name e.g. 'age_gender_model'
 * @returns {{ weights: Record<string, import('../../../src/plugins/sdk').Tensor>, release: () => void }}
 */
function acquireWeights(tf, name) {
  let perTf = cache.get(tf);
  if (!perTf) cache.set(tf, (perTf = new Map()));
  let entry = perTf.get(name);
  if (!entry || Object.values(entry.map).some((t) => t.isDisposed)) {
    entry = { map: readWeightMap(tf, name), refs: 0 };
    perTf.set(name, entry);
  }
  entry.refs++;
  let released = false;
  return {
    weights: entry.map,
    release() {
      if (released) return;
      released = true;
      entry.refs--;
      if (entry.refs <= 0) {
        for (const t of Object.values(entry.map)) if (!t.isDisposed) t.dispose();
        if (perTf.get(name) === entry) perTf.delete(name);
      }
    },
  };
}

module.exports = { modelDir, acquireWeights };
