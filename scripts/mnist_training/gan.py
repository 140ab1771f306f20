"""GAN training steps shared by scripts/train-mnist-demo.py and scripts/train-mnist-biased.py."""
import time

import torch
import torch.nn as nn

from .common import log


def init_gan_weights(*nets):
    """DCGAN initialisation: weights N(0, 0.02), biases 0 (modules in order, nets in order)."""
    for net in nets:
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0, 0.02)
                if getattr(m, 'bias', None) is not None:
                    nn.init.zeros_(m.bias)


def epoch_batches(n, batch, gen):
    """Index batches over n items, a fresh random order each epoch (a last partial batch is dropped)."""
    while True:
        perm = torch.randperm(n, generator=gen)
        for pos in range(0, n - batch + 1, batch):
            yield perm[pos:pos + batch]


def recompute_bn(model, zdim, gen, n_batches=50):
    """Re-estimates BatchNorm running stats for (EMA) weights: cumulative average."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(n_batches):
            model(torch.randn(256, zdim, generator=gen))
    model.eval()


def decay_lr(step, args, og, od):
    """Learning rates fall linearly to 0 after lr_decay_from of the steps."""
    if step > args.lr_decay_from * args.gan_steps:
        frac = (args.gan_steps - step) / max(1.0, (1 - args.lr_decay_from) * args.gan_steps)
        for o, base_lr in ((og, args.lr_g), (od, args.lr_d)):
            for group in o.param_groups:
                group['lr'] = base_lr * frac


def ema_update(G_ema, G, step, ema):
    """EMA of the generator weights, with a warm-up: decay min(ema, (1 + step) / (10 + step))."""
    with torch.no_grad():
        decay = min(ema, (1 + step) / (10 + step))
        for pe, p in zip(G_ema.parameters(), G.parameters()):
            pe.mul_(decay).add_(p, alpha=1 - decay)


def log_progress(step, args, n, ld_sum, lg_sum, t_gan):
    el = time.time() - t_gan
    log(f'gan step {step}/{args.gan_steps} (epoch {step * args.batch / n:.2f}) '
        f'loss D {ld_sum / 100:.3f} G {lg_sum / 100:.3f}  '
        f'{el / step:.3f}s/step, eta {el / step * (args.gan_steps - step) / 60:.1f} min')


def g_update(og, lg, G_ema, G, step, ema):
    """One generator optimiser step on loss lg, then the EMA of its weights."""
    og.zero_grad()
    lg.backward()
    og.step()
    ema_update(G_ema, G, step, ema)


class LossLog:
    """Sums the D and G losses and logs their means every 100 steps."""

    def __init__(self, args, n, t_gan):
        self.args, self.n, self.t_gan = args, n, t_gan
        self.ld = self.lg = 0.0

    def add(self, step, ld, lg):
        self.ld += ld.item()
        self.lg += lg.item()
        if step % 100 == 0:
            log_progress(step, self.args, self.n, self.ld, self.lg, self.t_gan)
            self.ld = self.lg = 0.0
