#!/usr/bin/env python3
"""The card's matrix-multiply ceiling, for the "% of floor" of the compute-bound figures (I3D
convolutions, the SupCon GEMM path): one large square product C = A @ B through cuBLAS (what
torch.matmul calls on CUDA), per precision:
  fp32  strict fp32 (torch.backends.cuda.matmul.allow_tf32 = False): the FMA ceiling
  tf32  fp32 data on TF32 tensor cores (allow_tf32 = True)
  bf16  bf16 data, fp32 accumulation (cuBLAS's default for bf16 GEMMs)
Timed with CUDA events: 3 warm-up products, then the median of --repeats; FLOP = 2 n^3.
One JSON line per precision: {"bench": "gemm-ceiling", "precision", "n", "ms", "tflops", ...}.

    python3 benchmarks/pytorch/gemm_ceiling.py [--n 8192] [--precisions fp32,tf32,bf16]
"""
import argparse
import json
import statistics

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8192)
    ap.add_argument("--precisions", default="fp32,tf32,bf16")
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gemm_ceiling.py: no CUDA device")
    n = args.n
    g = torch.Generator(device="cuda").manual_seed(0)
    for prec in args.precisions.split(","):
        dtype = torch.bfloat16 if prec == "bf16" else torch.float32
        torch.backends.cuda.matmul.allow_tf32 = prec == "tf32"
        a = torch.randn(n, n, device="cuda", dtype=dtype, generator=g)
        b = torch.randn(n, n, device="cuda", dtype=dtype, generator=g)
        c = torch.empty(n, n, device="cuda", dtype=dtype)
        for _ in range(3):
            torch.matmul(a, b, out=c)
        times = []
        for _ in range(args.repeats):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            torch.matmul(a, b, out=c)
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e))
        ms = statistics.median(times)
        print(json.dumps({"bench": "gemm-ceiling", "precision": prec, "n": n, "ms": ms, "min_ms": min(times),
                          "tflops": 2.0 * n ** 3 / (ms * 1e-3) / 1e12, "gpu": torch.cuda.get_device_name(),
                          "torch": torch.__version__}), flush=True)
        del a, b, c
    torch.backends.cuda.matmul.allow_tf32 = False


if __name__ == "__main__":
    main()
