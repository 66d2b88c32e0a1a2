#!/usr/bin/env python3
"""Temporal-median baselines on the benchmark shapes: numpy.median(axis=0), an exact
numpy.partition-based median (the same selection numpy.median does, with the mean of the two
middle values truncated to uint8, as comix), and torch.median(dim=0) (lower middle value for
even T: not numpy's median; the share of differing values is reported). One JSON line per case.

CPU (use /usr/bin/python3 on the CPU machines: numpy 1.24, torch 1.13):
    /usr/bin/python3 benchmarks/pytorch/median_baseline.py [--sizes 224,1080] [--T 16,72,300]
GPU (torch.median on CUDA, CUDA-event timing, warmup, median of repeats):
    python3 benchmarks/pytorch/median_baseline.py --device cuda
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_data as bd  # noqa: E402


def partition_median(a):
    """Exact numpy.median(a, axis=0).astype(uint8) for uint8 a, by numpy.partition."""
    T = a.shape[0]
    k1, k2 = (T - 1) // 2, T // 2
    p = np.partition(a, [k1, k2] if k1 != k2 else k1, axis=0)
    if k1 == k2:
        return p[k1].copy()
    return ((p[k1].astype(np.uint16) + p[k2]) >> 1).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sizes", default="224,1080")
    ap.add_argument("--T", default="16,72,300")
    ap.add_argument("--methods", default=None,
                    help="comma list of numpy,partition,torch (default: all on cpu, torch on cuda)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads (default: all)")
    ap.add_argument("--min-time", type=float, default=1.0, help="CPU: repeat each case for about this many seconds")
    ap.add_argument("--max-reps", type=int, default=5)
    ap.add_argument("--out", default=None, help="also append the JSON lines to this file")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    methods = bd.parse_list(args.methods or ("numpy,partition,torch" if args.device == "cpu" else "torch"))
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("median_baseline: --device cuda but torch.cuda.is_available() is False")
    vers = bd.versions(torch)
    Ts = sorted(int(t) for t in bd.parse_list(args.T))
    for size in bd.parse_list(args.sizes):
        all_frames = bd.frames(size, max(Ts))  # smaller T: a prefix of the same stream
        for T in Ts:
            fr = all_frames[:T]
            nbytes = fr.nbytes
            ref = None
            base = {"bench": "median", "size": size, "T": T, "shape": list(fr.shape), "frame_bytes": nbytes,
                    "device": args.device, "seed": bd.SEED, "versions": vers}
            rec_ref = None
            if "numpy" in methods or ("partition" in methods and args.device == "cpu"):
                times, ref = bd.time_cpu(lambda: np.median(fr, axis=0).astype(np.uint8), args.min_time, args.max_reps)
                if "numpy" in methods:
                    rec_ref = dict(base, impl="numpy.median", **bd.summary(times), crc32=bd.crc32(ref))
                    rec_ref["GBps"] = nbytes / rec_ref["ms"] / 1e6
                    rec_ref["device"] = "cpu"
                    bd.emit(rec_ref, args.out)
            if "partition" in methods:
                times, res = bd.time_cpu(lambda: partition_median(fr), args.min_time, args.max_reps)
                rec = dict(base, impl="numpy.partition", **bd.summary(times), crc32=bd.crc32(res), device="cpu")
                rec["GBps"] = nbytes / rec["ms"] / 1e6
                if ref is not None:
                    rec["equals_numpy_median"] = bool(np.array_equal(res, ref))
                bd.emit(rec, args.out)
            if "torch" in methods:
                t = torch.from_numpy(fr)
                if args.device == "cuda":
                    t = t.cuda()
                    torch.cuda.synchronize()
                    times, res = bd.time_cuda(torch, lambda: torch.median(t, dim=0).values)
                else:
                    times, res = bd.time_cpu(lambda: torch.median(t, dim=0).values, args.min_time, args.max_reps,
                                             warmup=1 if T * nbytes < 2e10 else 0)
                res = res.cpu().numpy()
                rec = dict(base, impl="torch.median", **bd.summary(times), crc32=bd.crc32(res))
                rec["GBps"] = nbytes / rec["ms"] / 1e6
                if ref is not None:
                    rec["differs_from_numpy_median"] = float(np.mean(res != ref))
                bd.emit(rec, args.out)
                del t
                if args.device == "cuda":
                    torch.cuda.empty_cache()
        del all_frames


if __name__ == "__main__":
    main()
