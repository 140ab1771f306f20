"""The independent judge of the figures: ml5's MNIST MLP, read from its TF.js files."""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F


class Judge:
    """ml5's MNIST MLP (TF.js layers model.json + weights.bin), re-implemented in torch."""

    def __init__(self, model_dir):
        spec = json.load(open(os.path.join(model_dir, 'model.json')))
        man = spec['weightsManifest'][0]
        raw = b''.join(open(os.path.join(model_dir, p), 'rb').read() for p in man['paths'])
        off, self.w = 0, {}
        for w in man['weights']:
            n = int(np.prod(w['shape']))
            self.w[w['name']] = torch.from_numpy(
                np.frombuffer(raw, np.float32, n, off).reshape(w['shape']).copy())
            off += 4 * n
        self.layers = [(l['config']['name'], l['config'].get('activation', 'linear'))
                       for l in spec['modelTopology']['config']['layers']]

    def logits(self, x):  # x: [n, 784] in [0,1]
        for name, act in self.layers:
            x = x @ self.w[name + '/kernel'] + self.w[name + '/bias']
            if act == 'relu':
                x = F.relu(x)
        return x

    def report(self, images):  # images: [n,1,28,28] in [0,1]
        with torch.no_grad():
            p = torch.cat([F.softmax(self.logits(b.reshape(-1, 784)), 1) for b in images.split(1000)])
        conf, pred = p.max(1)
        hist = torch.bincount(pred, minlength=10).float() / len(pred)
        return {'confident': (conf >= 0.9).float().mean().item(), 'hist': hist.tolist(), 'pred': pred}
