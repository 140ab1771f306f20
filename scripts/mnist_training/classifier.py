"""Step 2 of scripts/train-mnist-demo.py: our CNN digit classifier (exported with the
generator) and, with --aux-mlp, an MLP used only as a training aid."""
import time

import torch
import torch.nn.functional as F

from .common import log
from .models import Classifier, MlpClassifier


def train_classifiers(args, xtr, ytr, xte, yte, gen):
    """-> (CNN classifier, classifiers of the auxiliary GAN terms, training seconds)."""
    clf = Classifier(*map(int, args.c_channels.split(',')))
    opt = torch.optim.Adam(clf.parameters(), 1e-3)
    steps_per_epoch = len(xtr) // 128
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=args.clf_epochs * steps_per_epoch)
    t_clf = time.time()
    for ep in range(args.clf_epochs):
        clf.train()
        perm = torch.randperm(len(xtr), generator=gen)
        tot = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * 128:(i + 1) * 128]
            xb = xtr[idx]
            # light augmentation: random shifts of up to 2 pixels
            dx, dy = torch.randint(-2, 3, (2,), generator=gen).tolist()
            xb = torch.roll(xb, (dy, dx), (2, 3))
            loss = F.cross_entropy(clf(xb), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item()
            if (i + 1) % 100 == 0:
                log(f'classifier epoch {ep + 1} step {i + 1}/{steps_per_epoch} loss {tot / 100:.4f}')
                tot = 0.0
        clf.eval()
        with torch.no_grad():
            pred = torch.cat([clf(b).argmax(1) for b in xte.split(1000)])
        clf_acc = (pred == yte).float().mean().item()
        log(f'classifier epoch {ep + 1}: test accuracy {clf_acc:.4f}')
    t_clf = time.time() - t_clf

    aux_clfs = [clf]
    if args.aux_mlp:
        mlp = MlpClassifier()
        opt = torch.optim.Adam(mlp.parameters(), 1e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=args.clf_epochs * steps_per_epoch)
        for ep in range(args.clf_epochs):
            mlp.train()
            perm = torch.randperm(len(xtr), generator=gen)
            for i in range(steps_per_epoch):
                idx = perm[i * 128:(i + 1) * 128]
                loss = F.cross_entropy(mlp(xtr[idx]), ytr[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        mlp.eval()
        mlp.requires_grad_(False)
        with torch.no_grad():
            pred = torch.cat([mlp(b).argmax(1) for b in xte.split(1000)])
        log(f'auxiliary MLP classifier (training aid, not exported): test accuracy {(pred == yte).float().mean().item():.4f}')
        aux_clfs.append(mlp)
    return clf, aux_clfs, t_clf
