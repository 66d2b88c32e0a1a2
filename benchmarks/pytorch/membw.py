#!/usr/bin/env python3
"""Memory bandwidth of this machine, for the "% of floor" figures (the median reads its frames
once: floor = frame bytes / read bandwidth).

CPU: a copy of a large buffer (numpy, one thread; torch copy_, all threads) and a read-only pass
(torch int64 sum, all threads). GPU (--device cuda): a device-to-device copy (torch copy_) and a
read-only pass (int64 sum), CUDA events, median of repeats.
Copies are reported twice: bytes read + written per second ("rw_GBps") and bytes copied per
second ("copy_GBps" = half of it). One JSON line per measurement.

    /usr/bin/python3 benchmarks/pytorch/membw.py [--mib 1024]
    python3 benchmarks/pytorch/membw.py --device cuda [--mib 4096]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_data as bd  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--mib", type=int, default=None, help="buffer size in MiB (default 1024 on cpu, 4096 on cuda)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    mib = args.mib or (1024 if args.device == "cpu" else 4096)
    nbytes = mib << 20
    vers = bd.versions(torch)
    base = {"bench": "membw", "device": args.device, "bytes": nbytes, "versions": vers}

    def emit(kind, times, moved, copied=None):
        rec = dict(base, impl=kind, **bd.summary(times))
        rec["rw_GBps"] = moved / rec["ms"] / 1e6
        if copied is not None:
            rec["copy_GBps"] = copied / rec["ms"] / 1e6
        bd.emit(rec, args.out)

    if args.device == "cpu":
        src = np.ones(nbytes, dtype=np.uint8)
        dst = np.zeros(nbytes, dtype=np.uint8)
        times, _ = bd.time_cpu(lambda: np.copyto(dst, src), 2.0, 10, min_reps=3, warmup=1)
        emit("numpy copyto (1 thread)", times, 2 * nbytes, nbytes)
        ts, td = torch.from_numpy(src), torch.from_numpy(dst)
        times, _ = bd.time_cpu(lambda: td.copy_(ts), 2.0, 10, min_reps=3, warmup=1)
        emit("torch copy_ (%d threads)" % torch.get_num_threads(), times, 2 * nbytes, nbytes)
        t64 = ts.view(torch.int64)
        times, _ = bd.time_cpu(lambda: t64.sum(), 2.0, 10, min_reps=3, warmup=1)
        emit("torch int64 sum, read only (%d threads)" % torch.get_num_threads(), times, nbytes)
    else:
        if not torch.cuda.is_available():
            sys.exit("membw: --device cuda but torch.cuda.is_available() is False")
        src = torch.ones(nbytes, dtype=torch.uint8, device="cuda")
        dst = torch.empty_like(src)
        times, _ = bd.time_cuda(torch, lambda: dst.copy_(src), warmup=3, reps=20)
        emit("torch copy_ device-to-device", times, 2 * nbytes, nbytes)
        s64 = src.view(torch.int64)
        times, _ = bd.time_cuda(torch, lambda: s64.sum(), warmup=3, reps=20)
        emit("torch int64 sum, read only", times, nbytes)


if __name__ == "__main__":
    main()
