"""PyTorch CPU baseline for benchmarks Conv3dBench: Conv3d 64->192, 3x3x3, SAME (pad 1), input 1x64x4x56x56.

Run with Debian's interpreter: /usr/bin/python3 benchmarks/pytorch/conv3d_baseline.py [--threads 2]
Prints the median of 5 forward and backward (data + weights) times, for ncdhw and channels_last_3d.
"""
import argparse
import time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--depth", type=int, default=4)
args = ap.parse_args()
torch.set_num_threads(args.threads)
for cl in (False, True):
    x = torch.randn(1, 64, args.depth, 56, 56, requires_grad=True)
    conv = torch.nn.Conv3d(64, 192, 3, padding=1, bias=False)
    if cl:
        x = x.detach().to(memory_format=torch.channels_last_3d).requires_grad_()
        conv = conv.to(memory_format=torch.channels_last_3d)
    for _ in range(2):
        y = conv(x)
        y.backward(torch.ones_like(y))
    tf, tb = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        y = conv(x)
        t1 = time.perf_counter()
        y.backward(torch.ones_like(y))
        t2 = time.perf_counter()
        tf.append(t1 - t0)
        tb.append(t2 - t1)
    print("%s fwd %.1f ms  bwd %.1f ms (median of 5, torch %s, %d threads)" % (
        "channels_last_3d" if cl else "ncdhw", sorted(tf)[2] * 1e3, sorted(tb)[2] * 1e3, torch.__version__, args.threads))
