"""PyTorch eager baseline for comix's fused SupCon: the original SupConLoss formula
(supcon_formula.py), forward + backward through autograd, on the shapes of SupConBench.

  /usr/bin/python3 benchmarks/pytorch/supcon_baseline.py --device cpu
  python3 benchmarks/pytorch/supcon_baseline.py --device cuda          # on the GPU machine

One JSON line per shape: median milliseconds over --repeats timed runs after --warmup runs
(CPU: time.perf_counter; CUDA: CUDA events around each run, synchronised). Shapes and
semantics match SupConBench: "comix" = [16, 2, 12] softmax probabilities, virtual labels
[0..7, 0..7], tau 0.5, base 0.07, no normalisation; "embed" = NT-Xent over L2-normalised
[N, 2, D] embeddings (no labels), tau = base = 0.1. fp32 throughout (TF32 matmul off, the
PyTorch default for matmul).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from supcon_formula import supcon  # noqa: E402

SHAPES = ["16x2x12", "1024x2x128", "1024x2x512", "4096x2x128", "4096x2x512", "16384x2x128", "16384x2x512"]


def make(shape, device, gen):
    n, v, d = (int(s) for s in shape.split("x"))
    if shape == "16x2x12":
        logits = torch.randn(n, v, d, generator=gen) * 2.0
        x = torch.softmax(logits, dim=-1)
        labels = torch.cat([torch.arange(n // 2), torch.arange(n // 2)])
        kw = dict(temperature=0.5, base_temperature=0.07, normalize=False)
    else:
        x = torch.randn(n, v, d, generator=gen)
        labels = None
        kw = dict(temperature=0.1, base_temperature=0.1, normalize=True)
    x = x.to(device).requires_grad_(True)
    labels = labels.to(device) if labels is not None else None
    return x, labels, kw


def step(x, labels, kw):
    x.grad = None
    loss = supcon(x, labels, None, **kw)
    loss.backward()
    return loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--repeats", type=int, default=0, help="timed runs (0: by size)")
    ap.add_argument("--warmup", type=int, default=0, help="untimed runs first (0: by size)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="torch.set_num_threads (default: all CPUs; libgomp here defaults to 1)")
    ap.add_argument("--max_bytes", type=float, default=0.0,
                    help="skip shapes whose (N*V)^2 float32 matrix exceeds this (0: 1/12 of RAM on cpu)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    gen = torch.Generator().manual_seed(0)
    if a.device == "cpu" and a.max_bytes == 0:
        a.max_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 12
    for shape in a.shapes.split(","):
        n, v, d = (int(s) for s in shape.split("x"))
        m = n * v
        rec = dict(impl="pytorch-eager", op="supcon fwd+bwd", device=a.device, shape=shape, torch=torch.__version__,
                   threads=torch.get_num_threads())
        if a.device == "cuda":
            rec["gpu"] = torch.cuda.get_device_name()
            free, _ = torch.cuda.mem_get_info()
            if m * m * 4 * 12 > free:
                rec["skipped"] = "too large for GPU memory"
                print(json.dumps(rec), flush=True)
                continue
        elif a.max_bytes and m * m * 4 > a.max_bytes:
            rec["skipped"] = "the (N*V)^2 intermediates do not fit in memory"
            print(json.dumps(rec), flush=True)
            continue
        x, labels, kw = make(shape, a.device, gen)
        work = m * m * d
        reps = a.repeats or (200 if work < 1e6 else 5 if work < 5e9 else 3)
        warm = a.warmup or (20 if work < 1e6 else 2)
        for _ in range(warm):
            step(x, labels, kw)
        times = []
        if a.device == "cuda":
            torch.cuda.synchronize()
            for _ in range(reps):
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                s.record()
                loss = step(x, labels, kw)
                e.record()
                torch.cuda.synchronize()
                times.append(s.elapsed_time(e))
        else:
            for _ in range(reps):
                t0 = time.perf_counter()
                loss = step(x, labels, kw)
                times.append((time.perf_counter() - t0) * 1e3)
        rec.update(median_ms=statistics.median(times), min_ms=min(times), repeats=reps, loss=float(loss))
        print(json.dumps(rec), flush=True)
        del x


if __name__ == "__main__":
    main()
