"""Run bookkeeping shared by the MNIST training scripts: the repo root, a timed
log line, and the seeding of a run."""
import os
import time

import numpy as np
import torch

# scripts/mnist_training/common.py -> the repository root, three levels up
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T0 = time.time()


def log(*args):
    print(f'[{time.time() - T0:7.1f}s]', *args, flush=True)


def start_run(args):
    """Threads and seeds of a run, logged with its arguments."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    log(f'torch {torch.__version__}, threads {torch.get_num_threads()}, seed {args.seed}')
    log('args', vars(args))
