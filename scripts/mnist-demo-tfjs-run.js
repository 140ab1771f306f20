#!/usr/bin/env node
// Helper of scripts/train-mnist-demo.py: runs an exported TF.js layers model on
// the cpu backend. Usage: node scripts/mnist-demo-tfjs-run.js MODEL_DIR IN.bin N,D[,..] OUT.bin
// (float32 little-endian in and out); prints the output shape as JSON.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfl = require('@tensorflow/tfjs-layers');

async function main() {
  const [dir, inPath, shapeStr, outPath] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const specs = [];
  const bufs = [];
  for (const group of spec.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(bufs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const model = await tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: spec.modelTopology, weightSpecs: specs, weightData }),
  );
  const shape = shapeStr.split(',').map(Number);
  const raw = fs.readFileSync(inPath);
  const x = tf.tensor(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), shape);
  const y = model.predict(x);
  fs.writeFileSync(outPath, Buffer.from((await y.data()).buffer));
  console.log(JSON.stringify(y.shape));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
