#!/usr/bin/env python3
"""Background-mixing baseline in PyTorch eager, on the MixBench shapes:
    out = (1-g)*(x.float()*2/255-1) + g*(bg.float()*2/255-1)     (bg broadcast over frames)
x uint8 [B, F, H, W, 3], bg uint8 [B, 1, H, W, 3], g = 0.3; f32 out, and bf16 out (the same f32
expression, then .to(torch.bfloat16)). Inputs are the SplitMix64 bytes of MixBench. One JSON
line per case; "GBps" counts the bytes that must move (x and bg read once, out written once).

    /usr/bin/python3 benchmarks/pytorch/mix_baseline.py                 # CPU
    python3 benchmarks/pytorch/mix_baseline.py --device cuda            # GPU (CUDA events)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_data as bd  # noqa: E402

GAMMA = 0.3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sizes", default="224,1080")
    ap.add_argument("--out-dtypes", default="F32,BF16")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads (default: all)")
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--max-reps", type=int, default=5)
    ap.add_argument("--out", default=None, help="also append the JSON lines to this file")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("mix_baseline: --device cuda but torch.cuda.is_available() is False")
    vers = bd.versions(torch)
    dts = {"F32": torch.float32, "BF16": torch.bfloat16}
    g = GAMMA
    for size in bd.parse_list(args.sizes):
        B, F = bd.MIX_BATCH[size]
        shape = bd.SIZES[size]
        n = shape[0] * shape[1] * shape[2]
        x = torch.from_numpy(bd.splitmix_bytes(bd.SEED, B * F * n).reshape((B, F) + shape))
        bg = torch.from_numpy(bd.splitmix_bytes(bd.BG_SEED, B * n).reshape((B, 1) + shape))
        if args.device == "cuda":
            x, bg = x.cuda(), bg.cuda()
            torch.cuda.synchronize()
        for name in bd.parse_list(args.out_dtypes):
            dt = dts[name]

            def mix():
                y = (1 - g) * (x.float() * 2 / 255 - 1) + g * (bg.float() * 2 / 255 - 1)
                return y if dt == torch.float32 else y.to(dt)

            if args.device == "cuda":
                times, y = bd.time_cuda(torch, mix)
            else:
                times, y = bd.time_cpu(mix, args.min_time, args.max_reps, min_reps=2, warmup=1)
            moved = B * F * n + B * n + B * F * n * y.element_size()
            rec = {"bench": "mix", "impl": "torch eager", "device": args.device, "size": size, "out": name,
                   "shape": list(x.shape), "bytes_moved": moved, "seed": bd.SEED, "gamma": g, "versions": vers,
                   **bd.summary(times)}
            rec["GBps"] = moved / rec["ms"] / 1e6
            bd.emit(rec, args.out)
            del y
        del x, bg
        if args.device == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
