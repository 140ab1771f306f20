"""Training aids of scripts/train-mnist-biased.py (--aid-conf / --aid-marginal): two digit
classifiers of our own, trained here on the full MNIST training set, whose terms in the
generator's loss ask for legible digits while keeping the biased digit shares.

Why: the unconditional GAN trained on the imbalanced set alone drew many malformed in-between
digits (at step 6,000 the control's classifier and the judge picked the same digit for only
66 % of them), and what a de-biasing control moves on such images is partly a change that only
its own classifier reads. A legible generator makes the testbed measure the control, not the
generator's smudges.

Independence: neither the control's classifier (`mnist-digit`) nor the judge takes part. The
aids are a CNN of other widths and an MLP, trained with this run's seed; they are not exported.

The terms, for a batch of fakes x and the aids' class probabilities p_a(. | x):
    confidence  = mean over aids and samples of H(p_a(. | x))            (legible digits)
    marginal    = mean over aids of KL(mean_x p_a(. | x) || s)           (shares held at s)
where s are the training set's label shares: the confidence term alone would push the rare
digits' ambiguous images toward common ones, and the generator must stay biased as trained.
"""
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from .classifier import train_classifiers
from .common import log


def train_aids(xtr, ytr, xte, yte, gen, epochs=3):
    """-> [CNN, MLP], frozen. Widths 24,48 (mnist-digit is 16,32): another model, not a copy."""
    opts = SimpleNamespace(c_channels='24,48', clf_epochs=epochs, aux_mlp=True)
    _, aids, seconds = train_classifiers(opts, xtr, ytr, xte, yte, gen)
    for a in aids:
        a.eval()
        a.requires_grad_(False)
    log(f'training aids ready ({seconds / 60:.1f} min): a CNN 24,48 and an MLP, not exported')
    return aids


def aid_terms(aids, fake, shares):
    """-> (confidence term, marginal term) of the docstring, differentiable in fake."""
    ent = marg = 0.0
    for a in aids:
        logp = F.log_softmax(a(fake), 1)
        p = logp.exp()
        ent = ent + -(p * logp).sum(1).mean() / len(aids)
        pm = p.mean(0)
        marg = marg + (pm * (torch.log(pm + 1e-8) - torch.log(shares))).sum() / len(aids)
    return ent, marg
