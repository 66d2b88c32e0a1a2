"""PyTorch baselines for the 3-D convolution benchmarks.

Legacy CPU mode (Conv3dBench): Conv3d 64->192, 3x3x3, SAME (pad 1), input 1x64x4x56x56; median of 5 forward and
backward (data + weights) times, for ncdhw and channels_last_3d:

    /usr/bin/python3 benchmarks/pytorch/conv3d_baseline.py [--threads 2] [--depth 4]

Shape mode (CudnnConvBench), on CUDA or the CPU, with the same shapes, batches and passes as the JMH benchmark:

    python3 benchmarks/pytorch/conv3d_baseline.py --device cuda --precision fp32,tf32,bf16 \
        --layout ncdhw,channels_last --batch 8,32 [--shapes Conv3d_1a_7x7,Conv3d_2c_3x3,Mixed_4b_3x3] \
        [--warmup 3] [--repeats 20] [--out conv-torch.jsonl] [--csv conv-torch.csv]

  fwd     = F.conv3d forward;  fwdbwd = forward + autograd.grad for input and weight (bwd-data + bwd-filter,
            written fresh, not accumulated, like the JMH benchmark).
  Conv3d_1a_7x7 runs on the pre-padded 13x229x229 input with pad 0 (pytorch-i3d pads TF-SAME 2 front / 3 back,
            which symmetric padding cannot express; same output shape and MACs).
  fp32: cudnn.allow_tf32 = matmul.allow_tf32 = False;  tf32: both True;  bf16: x, w, dy all bfloat16 (no autocast).
  torch.backends.cudnn.benchmark = True (PyTorch times the cuDNN algorithms once per shape, during warmup).
  CUDA timing: CUDA events around each repeat after warmup; the median is reported (CPU: perf_counter).
  Prints one JSON line per case (shape, batch, precision, layout, pass, median_ms, gflop, gflops) and a table.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

# name: (cin, cout, k, stride, pad, (D, H, W) input)
SHAPES = {
    "Conv3d_1a_7x7": (3, 64, 7, 2, 0, (13, 229, 229)),
    "Conv3d_2c_3x3": (64, 192, 3, 1, 1, (4, 56, 56)),
    "Mixed_4b_3x3": (96, 208, 3, 1, 1, (2, 14, 14)),
}


def legacy(args):
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
            "channels_last_3d" if cl else "ncdhw", sorted(tf)[2] * 1e3, sorted(tb)[2] * 1e3, torch.__version__,
            args.threads))


def out_size(s, k, st, p):
    return (s + 2 * p - k) // st + 1


def gflop_per_pass(name, batch):
    cin, cout, k, st, p, dhw = SHAPES[name]
    o = [out_size(s, k, st, p) for s in dhw]
    return 2.0 * batch * cout * o[0] * o[1] * o[2] * cin * k ** 3 / 1e9


def timed(fn, device, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    if device.type == "cuda":
        torch.cuda.synchronize()
        for _ in range(repeats):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b))
    else:
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def shape_mode(args):
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.enabled = True
    else:
        torch.set_num_threads(args.threads)
    rows = []
    for name in args.shapes.split(","):
        cin, cout, k, st, p, dhw = SHAPES[name]
        for batch in [int(b) for b in args.batch.split(",")]:
            for prec in args.precision.split(","):
                tf32 = prec == "tf32"
                if device.type == "cuda":
                    torch.backends.cudnn.allow_tf32 = tf32
                    torch.backends.cuda.matmul.allow_tf32 = tf32
                dtype = torch.bfloat16 if prec == "bf16" else torch.float32
                for layout in args.layout.split(","):
                    mf = torch.channels_last_3d if layout == "channels_last" else torch.contiguous_format
                    g = torch.Generator(device="cpu").manual_seed(0)
                    x = (torch.rand(batch, cin, *dhw, generator=g) * 2 - 1).to(device, dtype).contiguous(memory_format=mf)
                    w = (torch.rand(cout, cin, k, k, k, generator=g) * 2 - 1).to(device, dtype).contiguous(memory_format=mf)
                    o = [out_size(s, k, st, p) for s in dhw]
                    dy = (torch.rand(batch, cout, *o, generator=g) * 2 - 1).to(device, dtype).contiguous(memory_format=mf)
                    x.requires_grad_(True)
                    w.requires_grad_(True)

                    def fwd():
                        with torch.no_grad():
                            F.conv3d(x, w, stride=st, padding=p)

                    def fwdbwd():
                        y = F.conv3d(x, w, stride=st, padding=p)
                        torch.autograd.grad(y, (x, w), dy)

                    gf = gflop_per_pass(name, batch)
                    for pas, fn, mult in (("fwd", fwd, 1), ("fwdbwd", fwdbwd, 3)):
                        ms = timed(fn, device, args.warmup, args.repeats)
                        row = {"shape": name, "batch": batch, "precision": prec, "layout": layout, "pass": pas,
                               "median_ms": round(ms, 4), "gflop": round(gf * mult, 3),
                               "gflops": round(gf * mult / (ms / 1e3), 1), "device": str(device),
                               "torch": torch.__version__,
                               "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None}
                        rows.append(row)
                        print(json.dumps(row), flush=True)
                    del x, w, dy
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
    if args.out:
        with open(args.out, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("shape,batch,precision,layout,pass,median_ms,gflop,gflops\n")
            for r in rows:
                f.write("%s,%d,%s,%s,%s,%.4f,%.3f,%.1f\n" % (r["shape"], r["batch"], r["precision"], r["layout"],
                                                            r["pass"], r["median_ms"], r["gflop"], r["gflops"]))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print("\n# torch %s on %s (median of %d after %d warmup)" % (torch.__version__, name, args.repeats, args.warmup),
          file=sys.stderr)
    print("%-14s %5s %-5s %-13s %-6s %10s %9s" % ("shape", "batch", "prec", "layout", "pass", "ms", "GFLOP/s"),
          file=sys.stderr)
    for r in rows:
        print("%-14s %5d %-5s %-13s %-6s %10.3f %9.1f" % (r["shape"], r["batch"], r["precision"], r["layout"],
                                                         r["pass"], r["median_ms"], r["gflops"]), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--depth", type=int, default=4, help="legacy mode: clip depth")
    ap.add_argument("--device", default=None, help="cpu or cuda (shape mode)")
    ap.add_argument("--precision", default="fp32", help="comma list of fp32, tf32, bf16")
    ap.add_argument("--layout", default="ncdhw", help="comma list of ncdhw, channels_last")
    ap.add_argument("--shapes", default=None, help="comma list of " + ", ".join(SHAPES))
    ap.add_argument("--batch", default="8,32")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default=None, help="JSON lines file")
    ap.add_argument("--csv", default=None)
    args = ap.parse_args()
    if args.device is None and args.shapes is None:
        legacy(args)
        return
    args.device = args.device or "cpu"
    args.shapes = args.shapes or ",".join(SHAPES)
    for p in args.precision.split(","):
        if p not in ("fp32", "tf32", "bf16"):
            ap.error("unknown precision " + p)
    for l in args.layout.split(","):
        if l not in ("ncdhw", "channels_last"):
            ap.error("unknown layout " + l)
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda but torch.cuda.is_available() is False")
    shape_mode(args)


if __name__ == "__main__":
    main()
