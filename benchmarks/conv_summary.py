#!/usr/bin/env python3
"""Table of CudnnConvBench (JMH JSON) beside the PyTorch baseline (conv3d_baseline.py JSON lines) from the
same run: per shape, batch, precision, layout, pass and cuDNN API (legacy or graph; comix only), both median times, both GFLOP/s (2 * MACs per pass,
3 passes for fwdbwd) and torch_ms / comix_ms. Standard library only.

    python3 benchmarks/conv_summary.py JMH.json [TORCH.jsonl] [--csv out.csv]
"""
import argparse
import json
import os

SHAPES = {  # cin, cout, k, stride, pad, input D/H/W as the cuDNN benchmark runs it
    "Conv3d_1a_7x7": (3, 64, 7, 2, 0, (13, 229, 229)),
    "Conv3d_2c_3x3": (64, 192, 3, 1, 1, (4, 56, 56)),
    "Mixed_4b_3x3": (96, 208, 3, 1, 1, (2, 14, 14)),
}
PREC = {"F32": "fp32", "TF32": "tf32", "BF16": "bf16"}
LAYOUT = {"NCDHW": "ncdhw", "NDHWC": "channels_last"}


def gflop(shape, batch, pas):
    cin, cout, k, st, p, dhw = SHAPES[shape]
    o = [(s + 2 * p - k) // st + 1 for s in dhw]
    return 2.0 * batch * cout * o[0] * o[1] * o[2] * cin * k ** 3 / 1e9 * (3 if pas == "fwdbwd" else 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jmh")
    ap.add_argument("torch", nargs="?")
    ap.add_argument("--csv")
    a = ap.parse_args()
    torch = {}
    if a.torch and os.path.isfile(a.torch):
        for line in open(a.torch):
            if line.strip().startswith("{"):
                d = json.loads(line)
                torch[(d["shape"], int(d["batch"]), d["precision"], d["layout"], d["pass"])] = d["median_ms"]
    rows = []
    for r in json.load(open(a.jmh)):
        if not r["benchmark"].endswith(("CudnnConvBench.fwd", "CudnnConvBench.fwdbwd")):
            continue
        p = r["params"]
        pas = r["benchmark"].rsplit(".", 1)[1]
        ms = r["primaryMetric"]["scorePercentiles"]["50.0"]  # ms/op (OutputTimeUnit MILLISECONDS)
        batch = int(p["batch"])
        key = (p["shape"], batch, PREC[p["precision"]], LAYOUT[p["layout"]], pas)
        g = gflop(p["shape"], batch, pas)
        t = torch.get(key)
        rows.append((p["device"], p.get("api", "legacy"), *key, ms, g / (ms / 1e3), t, g / (t / 1e3) if t else None,
                     t / ms if t else None))
    head = ("device", "api", "shape", "batch", "prec", "layout", "pass", "comix_ms", "comix_GFLOP/s", "torch_ms",
            "torch_GFLOP/s", "torch/comix")
    print("%-6s %-6s %-14s %5s %-5s %-13s %-6s %10s %13s %10s %13s %11s" % head)
    for r in rows:
        f = lambda v, fmt: (fmt % v) if v is not None else "-"
        print("%-6s %-6s %-14s %5d %-5s %-13s %-6s %10.3f %13.1f %10s %13s %11s" % (
            *r[:9], f(r[9], "%.3f"), f(r[10], "%.1f"), f(r[11], "%.2fx")))
    if a.csv:
        with open(a.csv, "w") as out:
            out.write(",".join(head) + "\n")
            for r in rows:
                out.write(",".join("" if v is None else (("%.4f" % v) if isinstance(v, float) else str(v)) for v in r) + "\n")


if __name__ == "__main__":
    main()
