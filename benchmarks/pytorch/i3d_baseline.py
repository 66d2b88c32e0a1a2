#!/usr/bin/python3
"""PyTorch CPU baseline for benchmarks I3dBench: width-1 InceptionI3d, 8x224x224 clips.

Run with Debian's interpreter (torch 1.13, CPU):
    /usr/bin/python3 benchmarks/pytorch/i3d_baseline.py --threads 2 --batch 1 --layouts ncdhw,cl3d
On a GPU (scripts/gpu-check):
    python3 benchmarks/pytorch/i3d_baseline.py --device cuda --batch 8,32 --precisions fp32,tf32,bf16
  fp32: cudnn.allow_tf32 = False (strict fp32); tf32: PyTorch's default (cuDNN convs may use TF32);
  bf16: torch.autocast(cuda, bfloat16) over the fp32 model (PyTorch's mixed precision). Timed with
  torch.cuda.synchronize() around each call; cudnn.benchmark = True; peak memory reported.

The model is the teammate's PyTorch re-implementation (java/src/test/resources/weights/
make_i3d_parity.py, class I3D, imported as is) at width 1. Modes, as in I3dBench:
  forward-eval   model.eval(), torch.no_grad(), features [N, 1024]
  train          model.train(), forward + y.backward(gy) (gy random, fixed seed), grads zeroed first
Layouts: ncdhw (default contiguous) and cl3d (model and input in torch.channels_last_3d).
Inputs: uniform [-1, 1], fixed seed. One JSON line per (layout, mode, batch): the median of
--repeats timed calls (after --warmup untimed ones), ms per call and per clip, and GFLOP/s from the
conv MAC count (counted here with forward hooks on every Conv3d of the real model: 2 FLOP/MAC for
forward-eval, 6 FLOP/MAC for forward + backward, i.e. forward + backward-data + backward-weights,
less the first conv's backward-data: the input does not require grad, so autograd skips it, as
I3dBench does by default with inputGrad=false).
"""
import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..", "java", "src", "test", "resources", "weights", "make_i3d_parity.py")
spec = importlib.util.spec_from_file_location("make_i3d_parity", SRC)
parity = importlib.util.module_from_spec(spec)
spec.loader.exec_module(parity)


def conv_macs(model, x, first_only=False):
    """Conv MACs of one forward of x (all clips), counted with hooks: out.numel * Cin/groups * kvol
    (first_only: the first conv alone, whose backward-data is not computed)."""
    total = [0]
    seen = [0]

    def hook(m, inp, out):
        seen[0] += 1
        if first_only and seen[0] > 1:
            return
        kvol = m.kernel_size[0] * m.kernel_size[1] * m.kernel_size[2]
        total[0] += out.numel() * (m.in_channels // m.groups) * kvol

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv3d)]
    # the logits unit is not run by forward (features only), so it is not counted
    with torch.no_grad():
        model.eval()
        model(x)
    for h in hs:
        h.remove()
    return total[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", default="1")
    ap.add_argument("--modes", default="forward-eval,train")
    ap.add_argument("--layouts", default="ncdhw,cl3d")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--count-only", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precisions", default="fp32")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = parity.I3D(1.0)
    t, s = args.frames, args.size
    macs1 = conv_macs(model, torch.zeros(1, 3, t, s, s).uniform_(-1, 1))
    first1 = conv_macs(model, torch.zeros(1, 3, t, s, s).uniform_(-1, 1), first_only=True)
    print(json.dumps({"what": "conv-macs", "frames": t, "size": s, "gmac_per_clip": macs1 / 1e9,
                      "torch": torch.__version__, "mkldnn_available": torch.backends.mkldnn.is_available(),
                      "mkldnn_enabled": torch.backends.mkldnn.enabled, "threads": torch.get_num_threads()}), flush=True)
    if args.count_only:
        return
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True

    def sync():
        if cuda:
            torch.cuda.synchronize()

    for precision in args.precisions.split(","):
        if cuda:
            torch.backends.cudnn.allow_tf32 = precision == "tf32"
            torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        for layout in args.layouts.split(","):
            mf = torch.channels_last_3d if layout == "cl3d" else torch.contiguous_format
            m = parity.I3D(1.0).to(device=dev, memory_format=mf)
            for n in [int(b) for b in args.batch.split(",")]:
                g = torch.Generator().manual_seed(1234 + n)
                x = (torch.rand(n, 3, t, s, s, generator=g) * 2 - 1).to(dev).contiguous(memory_format=mf)
                gy = (torch.rand(n, 1024, generator=g) * 2 - 1).to(dev)
                for mode in args.modes.split(","):
                    mode = "forward-eval" if mode in ("eval", "forward-eval") else mode  # I3dBench says "eval"
                    if mode not in ("forward-eval", "train"):
                        raise SystemExit(f"--modes: unknown mode {mode!r} (forward-eval or eval, train)")
                    def call():
                        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if precision == "bf16" else torch.autocast(
                            "cpu", enabled=False)
                        if mode == "forward-eval":
                            m.eval()
                            with torch.no_grad(), ctx:
                                m(x)
                        else:
                            m.train()
                            m.zero_grad(set_to_none=False)
                            with ctx:
                                y = m(x)
                            y.float().backward(gy)
                    if cuda:
                        torch.cuda.reset_peak_memory_stats()
                    for _ in range(args.warmup):
                        call()
                    sync()
                    ts = []
                    for _ in range(args.repeats):
                        sync()
                        t0 = time.perf_counter()
                        call()
                        sync()
                        ts.append(time.perf_counter() - t0)
                    med = statistics.median(ts)
                    flop = macs1 * n * 2 if mode == "forward-eval" else (macs1 * 6 - first1 * 2) * n
                    rec = {"what": "i3d", "device": args.device, "precision": precision, "layout": layout, "mode": mode,
                           "batch": n, "frames": t, "size": s, "threads": args.threads, "repeats": args.repeats,
                           "warmup": args.warmup, "ms_per_call": med * 1e3, "ms_per_clip": med * 1e3 / n,
                           "clips_per_s": n / med, "gflops": flop / med / 1e9,
                           "all_ms": [round(v * 1e3, 2) for v in ts], "load": os.getloadavg()[0],
                           "torch": torch.__version__}
                    if cuda:
                        rec["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
                        rec["gpu"] = torch.cuda.get_device_name()
                    print(json.dumps(rec), flush=True)
                del x, gy
            del m
            if cuda:
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
