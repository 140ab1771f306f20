"""Step 3 of scripts/train-mnist-demo.py: the DCGAN, class-conditional through the
latent (--cond ac/proj) or unconditional with optional terms from our frozen classifiers."""
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from .common import log
from .gan import LossLog, decay_lr, epoch_batches, g_update, init_gan_weights, recompute_bn
from .models import Discriminator, Generator, class_code, fit_class_offsets
from .png import grid_png


def train_gan(args, xtr, ytr, clf, aux_clfs, judge, gen):
    """-> (EMA generator with re-estimated BatchNorm, training seconds)."""
    gc1, gc2 = map(int, args.g_channels.split(','))
    dc1, dc2 = map(int, args.d_channels.split(','))
    code = None
    if args.cond != 'none':
        prior = (torch.bincount(ytr, minlength=10).float() / len(ytr) if args.class_prior == 'data'
                 else torch.full((10,), 0.1))
        offsets = fit_class_offsets(prior, torch.Generator().manual_seed(args.seed + 2))
        code = (offsets, args.code_temp)
        log('class regions of the latent: prior ' + ' '.join(f'{p:.4f}' for p in prior.tolist())
            + ', offsets b ' + ' '.join(f'{b:.4f}' for b in offsets.tolist()) + f', code temperature {args.code_temp}')
    G = Generator(args.latent_dim, gc1, gc2, args.g_refine, code)
    D = Discriminator(dc1, dc2, args.d_dropout, args.cond)
    init_gan_weights(G, D)
    G_ema = Generator(args.latent_dim, gc1, gc2, args.g_refine, code)
    G_ema.load_state_dict(G.state_dict())
    G_ema.requires_grad_(False)
    og = torch.optim.Adam(G.parameters(), args.lr_g, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), args.lr_d, betas=(0.5, 0.999))
    z_eval = torch.randn(2000, args.latent_dim, generator=gen)

    def gan_eval(model, tag):
        recompute_bn(model, args.latent_dim, gen)
        with torch.no_grad():
            imgs = model(z_eval)
        if args.eval_grids:
            os.makedirs(args.eval_grids, exist_ok=True)
            grid_png(os.path.join(args.eval_grids, tag.split('(')[0].strip().replace(' ', '-') + '.png'), imgs[:100])
        with torch.no_grad():
            p = F.softmax(clf(imgs), 1)
        conf, pred = p.max(1)
        hist = torch.bincount(pred, minlength=10).float() / len(pred)
        msg = f'{tag}: own-classifier p>=0.9 {(conf >= 0.9).float().mean():.3f} hist ' \
              + ' '.join(f'{h:.3f}' for h in hist.tolist())
        if model.code is not None:
            agree = (pred == class_code(z_eval, *model.code)[0]).float().mean().item()
            msg += f' | own class = latent class {agree:.3f}'
        if judge:
            jr = judge.report(imgs)
            msg += f' | judge p>=0.9 {jr["confident"]:.3f}, hist ' \
                   + ' '.join(f'{h:.3f}' for h in jr['hist'])
        log(msg)

    clf.eval()
    clf.requires_grad_(False)
    t_gan = time.time()
    n = len(xtr)
    batches = epoch_batches(n, args.batch, gen)
    losses = LossLog(args, n, t_gan)
    for step in range(1, args.gan_steps + 1):
        idx = next(batches)
        real, y_real = xtr[idx], ytr[idx]
        decay_lr(step, args, og, od)
        G.train()
        z = torch.randn(args.batch, args.latent_dim, generator=gen)
        y_fake = class_code(z, *code)[0] if code is not None else None
        fake = G(z)
        d_real, c_real = D(real, y_real)
        d_fake, c_fake = D(fake.detach(), y_fake)
        ld = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        if args.cond == 'ac':
            ld = ld + args.ac_weight * (F.cross_entropy(c_real, y_real) + F.cross_entropy(c_fake, y_fake))
        od.zero_grad()
        ld.backward()
        od.step()
        d_fake, c_fake = D(fake, y_fake)
        lg = F.softplus(-d_fake).mean()
        if args.cond == 'ac':
            lg = lg + args.ac_weight * F.cross_entropy(c_fake, y_fake)
        if args.aux_conf > 0 or args.aux_balance > 0:
            # the frozen classifier asks for clear, balanced digits (the judge stays independent)
            ent = bal = 0.0
            for c in aux_clfs:
                logp = F.log_softmax(c(fake), 1)
                ent = ent + -(logp.exp() * logp).sum(1).mean() / len(aux_clfs)
                pm = logp.exp().mean(0)
                bal = bal + (np.log(10) + (pm * torch.log(pm + 1e-8)).sum()) / len(aux_clfs)
            lg = lg + args.aux_conf * ent + args.aux_balance * bal
        g_update(og, lg, G_ema, G, step, args.ema)
        losses.add(step, ld, lg)
        if step % args.eval_every == 0 or step == args.gan_steps:
            gan_eval(G_ema, f'eval step {step} (EMA)')
            gan_eval(G, f'eval step {step} raw (no EMA)')
    t_gan = time.time() - t_gan
    recompute_bn(G_ema, args.latent_dim, gen, 200)
    return G_ema, t_gan
