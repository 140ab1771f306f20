'use strict';
/** The plugin registry the measurement scripts train against, built from dist/ like the server's. */
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');

/** A registry with the tfjs-model, mnist and controls plugins; offers `mnist-digit` from the model file if plugins/mnist does not. */
async function makeRegistry(plugins, log) {
  const registry = new plugins.PluginRegistry({ logger: { info: () => undefined, warn: log, error: log } });
  for (const dir of ['tfjs-model', 'mnist', 'mnist-dcgan', 'mnist-biased', 'controls']) {
    const p = registry.add(
      await plugins.loadPluginPackage(path.join(REPO, 'plugins', dir), { source: 'BUILTIN' }),
    );
    if (p.status !== 'LOADED') throw new Error(`plugin ${dir} failed to load: ${p.error}`);
  }
  let note = null;
  if (!registry.classifier('mnist-digit')) {
    const tfjsModel = require(path.join(REPO, 'plugins', 'tfjs-model'));
    const manifest = {
      kind: 'classifier',
      name: 'mnist-digit',
      model: path.join(REPO, 'plugins', 'mnist', 'models', 'classifier', 'model.json'),
      input: { width: 28, height: 28, channels: 1 },
      classNames: '0123456789'.split(''),
      outputs: 'logits',
    };
    const classifier = {
      name: 'mnist-digit',
      title: 'MNIST digit',
      classNames: manifest.classNames,
      load: (ctx) => tfjsModel.loadClassifier(ctx, manifest),
    };
    registry.add({
      name: '@measure/mnist-classifier',
      version: '0.0.0',
      dir: path.join(REPO, 'plugins', 'mnist'),
      source: 'BUILTIN',
      status: 'LOADED',
      definition: { apiVersion: 1, classifiers: [classifier] },
    });
    note =
      'plugins/mnist did not offer the `mnist-digit` classifier: it was loaded from plugins/mnist/models/classifier/model.json directly';
  }
  return { registry, note };
}

module.exports = { makeRegistry };
