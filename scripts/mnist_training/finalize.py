"""Step 4b and the figures of scripts/train-mnist-demo.py, on the exported files only."""
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from .common import T0, log
from .export import (generator_input, keras_forward, keras_reference, load_layers_files, save_layers_files,
                     tfjs_run)
from .png import grid_png


def finalize(args, judge, xte, yte, gen):
    """Works on the exported files only: picks the generator's latent scale psi
    (truncation trick, folded into the first Dense kernel, so the plugin's latent
    stays N(0, I)) with OUR classifier, then prints the figures (own classifier,
    independent judge) and writes the sample grid."""
    gdir, cdir = os.path.join(args.out, 'generator'), os.path.join(args.out, 'classifier')
    gspec, GW = load_layers_files(gdir)
    cspec, CW = load_layers_files(cdir)
    meta = gspec.get('userDefinedMetadata') or {}
    cc = meta.get('classCode')
    zdim = cc['latentDim'] if cc else GW['g_dense/kernel'].shape[0]
    # the latent scale multiplies the kernel rows of z only, not those of the class code
    row_scale = np.ones((GW['g_dense/kernel'].shape[0], 1), np.float32)
    row_scale[:zdim] = float(meta.get('latentScale', 1.0))
    base_kernel = GW['g_dense/kernel'] / row_scale

    def scaled_kernel(psi):
        k = base_kernel.copy()
        k[:zdim] *= psi
        return k.astype(np.float32)

    def own(images_nhwc):
        with torch.no_grad():
            return torch.cat([F.softmax(keras_forward(cspec, CW, b, torch.float32), 1)
                              for b in images_nhwc.split(1000)])

    def sample(z, psi):
        W = dict(GW, **{'g_dense/kernel': scaled_kernel(psi)})
        with torch.no_grad():
            return torch.cat([keras_forward(gspec, W, generator_input(b, meta), torch.float32)
                              for b in z.split(1000)])

    if args.psi == 'auto':
        z_sel = torch.randn(2000, zdim, generator=torch.Generator().manual_seed(args.seed + 1))
        chosen, best = None, None
        for psi in [1.0, 0.9, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5]:
            p = own(sample(z_sel, psi))
            conf = (p.max(1).values >= 0.9).float().mean().item()
            shares = torch.bincount(p.argmax(1), minlength=10).float() / len(p)
            balanced = shares.min().item() >= 0.05 and shares.max().item() <= 0.17
            log(f'psi {psi:.2f}: own-classifier p>=0.9 {conf:.3f}, shares '
                + ' '.join(f'{h:.3f}' for h in shares.tolist()) + ('' if balanced else ' (unbalanced)'))
            if balanced and (best is None or conf > best[1]):
                best = (psi, conf)
            if balanced and conf >= args.psi_target:
                chosen = psi
                break
        psi = chosen if chosen is not None else (best[0] if best else 1.0)
        log(f'chosen latent scale psi = {psi} (largest with own-classifier p>=0.9 >= {args.psi_target} '
            f'and every own share in 5-17 %, else the most confident balanced one)')
    else:
        psi = float(args.psi)
    GW['g_dense/kernel'] = scaled_kernel(psi)
    gspec['userDefinedMetadata'] = dict(meta, **{
        'latentScale': psi,
        'note': 'g_dense/kernel includes the latent scale (truncation) on the rows of z: '
                'G(z) = G0(latentScale * z, code(z)), z ~ N(0, I)'})
    save_layers_files(gdir, gspec, GW)

    zc = torch.randn(64, zdim, generator=gen)
    xc = xte[:64].permute(0, 2, 3, 1).contiguous()
    try:
        gin = generator_input(zc, meta).numpy()
        gd = np.abs(tfjs_run(gdir, gin) - keras_reference(gdir, gin)).max()
        cd = np.abs(tfjs_run(cdir, xc.numpy()) - keras_reference(cdir, xc.numpy())).max()
        log(f'final files, TF.js cpu vs float64 reference: generator max|diff| {gd:.2e}, logits {cd:.2e}')
        if gd > 1e-4 or cd > 1e-3:
            sys.exit('TF.js outputs differ from the reference: export bug')
    except Exception as e:  # noqa: BLE001
        log(f'TF.js check skipped/failed: {e}')

    samples = sample(torch.randn(10000, zdim, generator=gen), psi)  # NHWC
    grid_png(args.grid, samples[:100].permute(0, 3, 1, 2))
    log(f'wrote 10x10 grid of the first 100 samples to {args.grid}')
    acc = (own(xte.permute(0, 2, 3, 1)).argmax(1) == yte).float().mean().item()
    po = own(samples)
    oc, op = po.max(1)
    gbytes = os.path.getsize(os.path.join(gdir, 'group1-shard1of1.bin'))
    cbytes = os.path.getsize(os.path.join(cdir, 'group1-shard1of1.bin'))
    log('==================== FIGURES ====================')
    log(f'weights: generator {gbytes} bytes, classifier {cbytes} bytes')
    log(f'classifier (exported): MNIST test accuracy {acc:.4f} on 10,000 digits')
    log(f'generator (latent scale {psi}), own classifier on 10,000 samples: p>=0.9 {(oc >= 0.9).float().mean():.4f}, '
        'shares ' + ' '.join(f'{h:.3f}' for h in (torch.bincount(op, minlength=10).float() / 10000).tolist()))
    if judge:
        jr = judge.report(samples.permute(0, 3, 1, 2))
        ok = jr['confident'] >= 0.7 and min(jr['hist']) >= 0.04 and max(jr['hist']) <= 0.20
        log(f'generator, JUDGE (ml5 MNIST MLP) on 10,000 samples: p>=0.9 {jr["confident"]:.4f}; '
            f'digit shares ' + ' '.join(f'{i}:{h:.3f}' for i, h in enumerate(jr['hist']))
            + f'; bar (>=0.70, each 0.04-0.20) {"MET" if ok else "NOT MET"}')
    log(f'total time {(time.time() - T0) / 60:.1f} min')
