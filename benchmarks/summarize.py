#!/usr/bin/env python3
"""Summary table of one benchmark run (run-cpu.sh / run-gpu.sh): reads the JMH JSON result and the
baselines' JSON lines in a results directory and prints, per kernel, our time, the baseline from
the same run, the ratio, GB/s and % of the bandwidth floor. Writes summary.md and summary.csv
beside the inputs. Standard library only.

    python3 benchmarks/summarize.py DIR [--gpu]
"""
import argparse
import csv
import json
import os
import re
import sys

SIZES = {"224": (224, 224, 3), "1080": (1080, 1920, 3), "native": (576, 768, 3)}
MIX_BATCH = {"224": (8, 128), "1080": (2, 16)}
DTYPE_SIZE = {"F32": 4, "BF16": 2}
# CRC32 of numpy.median(frames, axis=0).astype(uint8) for the benchmark inputs (SplitMix64, seed
# 20211206; numpy 1.24.2) and for vtest.avi (cv2 4.6 decode): the reference when a run has no
# numpy baseline of its own (run-gpu.sh).
NUMPY_CRC = {("224", 16): "ee738ac7", ("224", 72): "4560df72", ("224", 300): "cf6f47e5",
             ("1080", 16): "cad07b60", ("1080", 72): "74f9db34", ("1080", 300): "eb3ab9fe",
             ("224", 500): "c0ccfcd1", ("1080", 500): "c3bf1400",  # numpy 2.x, session 9 (T = 300 rechecked)
             ("vtest-224", 795): "6a0e005c", ("vtest-native", 795): "568c0908"}


def read_jsonl(path):
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


def read_jmh(path):
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        text = f.read().strip()
    return json.loads(text) if text else []


def checks(log_path):
    """comix-check lines of the JMH log: {(bench, device, size, T): crc32}."""
    out = {}
    if not os.path.isfile(log_path):
        return out
    pat = re.compile(r"comix-check (\S+) device=(\S+) size=(\S+) T=(\d+) crc32=([0-9a-f]{8})")
    with open(log_path) as f:
        for line in f:
            m = pat.search(line)
            if m:
                out[(m.group(1), m.group(3), int(m.group(4)))] = m.group(5)
    return out


def fmt(x, nd=1):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if abs(x) >= 100:
        return "%.0f" % x
    if abs(x) >= 10:
        return "%.1f" % x
    return ("%." + str(max(nd, 2)) + "f") % x


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(fmt(c) for c in r) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--gpu", action="store_true", help="a run-gpu.sh directory (CUDA rows, copy bandwidth)")
    args = ap.parse_args()
    d = args.dir
    jmh = read_jmh(os.path.join(d, "jmh.json"))
    crc = checks(os.path.join(d, "jmh.log"))
    base = read_jsonl(os.path.join(d, "median.jsonl")) + read_jsonl(os.path.join(d, "mix.jsonl"))
    vtest = read_jsonl(os.path.join(d, "vtest.jsonl"))
    membw = read_jsonl(os.path.join(d, "membw.jsonl"))

    def ours(bench, **params):
        for r in jmh:
            if r["benchmark"].endswith("." + bench) and all(str(r["params"].get(k)) == str(v) for k, v in params.items()):
                pm = r["primaryMetric"]
                return pm["score"], pm["scoreError"], pm.get("scoreUnit")
        return None

    def baseline(bench, impl, **kv):
        for r in base + vtest:
            if r.get("bench") == bench and r.get("impl") == impl and all(str(r.get(k)) == str(v) for k, v in kv.items()):
                return r
        return None

    # The floor uses the best of the bandwidth repeats (the machine's capability: on a loaded
    # machine the median repeat understates it).
    def best(m, key):
        return m[key] * m["ms"] / m["ms_min"]

    read_bw = max((best(m, "rw_GBps") for m in membw if "read only" in m["impl"]), default=None)
    copy_rw = max((best(m, "rw_GBps") for m in membw if "copy" in m["impl"]), default=None)
    copy_copied = max((best(m, "copy_GBps") for m in membw if "copy" in m["impl"]), default=None)
    out_md, csv_rows = [], []
    dev = "cuda" if args.gpu else "cpu"
    out_md.append("Results in %s (%s)" % (d, dev))
    if membw:
        out_md.append("Memory bandwidth, this run (best of repeats): read-only %s GB/s; copy %s GB/s counting bytes "
                      "read + written (%s GB/s of bytes copied). %% of floor = (bytes / bandwidth) / time." % (
                          fmt(read_bw), fmt(copy_rw), fmt(copy_copied)))

    # --- median
    rows = []
    # every frame count the run has (run-gpu.sh TS=..., median_baseline.py --T ...), in order
    median_ts = sorted({int(r["params"]["T"]) for r in jmh if r["benchmark"].endswith(".MedianBench.median")}
                       | {int(r["T"]) for r in base if r.get("bench") == "median"})
    for size in ("224", "1080"):
        for T in median_ts:
            o = ours("MedianBench.median", size=size, T=T, device=dev)
            nb = T * SIZES[size][0] * SIZES[size][1] * SIZES[size][2]
            if args.gpu:
                b = baseline("median", "torch.median", size=size, T=T, device="cuda")
            else:
                b = baseline("median", "numpy.median", size=size, T=T)
            if o is None and b is None:
                continue
            ms = o[0] if o else None
            bms = b["ms"] if b else None
            gbps = nb / ms / 1e6 if ms else None
            bw = copy_rw if args.gpu else read_bw
            floor_pct = 100.0 * (nb / bw / 1e6) / ms if (ms and bw) else None
            c = crc.get(("median", size, T))
            want = b["crc32"] if (b and b.get("impl") == "numpy.median") else NUMPY_CRC.get((size, T))
            crc_ok = ("yes" if c == want else "NO") if (c and want) else None
            if args.gpu:
                pct_copied = 100.0 * gbps / copy_copied if (gbps and copy_copied) else None
                row = ["%s T=%d" % (size, T), ms, o[1] if o else None,
                       bms, (bms / ms) if (ms and bms) else None, gbps, floor_pct, pct_copied, crc_ok]
            else:
                part = baseline("median", "numpy.partition", size=size, T=T)
                tor = baseline("median", "torch.median", size=size, T=T, device="cpu")
                row = ["%s T=%d" % (size, T), ms, o[1] if o else None, bms, (bms / ms) if (ms and bms) else None,
                       part["ms"] if part else None, tor["ms"] if tor else None, gbps, floor_pct, crc_ok]
            rows.append(row)
    if args.gpu:
        hdr = ["median case", "comix ms", "±", "torch.median ms", "ratio", "comix GB/s (frames)",
               "% of copy BW (rw)", "% of copy BW (copied)", "same as numpy"]
    else:
        hdr = ["median case", "comix ms", "±", "numpy.median ms", "ratio", "numpy.partition ms", "torch.median ms",
               "comix GB/s (frames)", "% of floor", "same as numpy"]
    out_md.append("\nTemporal median (frames [T,H,W,3] u8; size 1080 = 1920x1080):\n" + table(hdr, rows))
    csv_rows += [["median"] + r for r in rows]

    # --- vtest (CPU)
    rows = []
    dec = next((r for r in vtest if r.get("impl", "").startswith("cv2.VideoCapture")), None)
    for size in ("224", "native"):
        o = ours("VtestMedianBench.median", scale=size, device=dev)
        b = baseline("vtest", "numpy.median", size=size)
        if o is None and b is None:
            continue
        ms = o[0] if o else None
        T = b["T"] if b else (dec["T"] if dec else None)
        nb = T * SIZES[size][0] * SIZES[size][1] * 3 if T else None
        c = crc.get(("vtest-median", size, T)) if T else None
        rows.append(["vtest %s (%s frames)" % ("224x224" if size == "224" else "768x576", T), ms, o[1] if o else None,
                     b["ms"] if b else None, (b["ms"] / ms) if (b and ms) else None,
                     nb / ms / 1e6 if (nb and ms) else None,
                     100.0 * (nb / read_bw / 1e6) / ms if (nb and ms and read_bw) else None,
                     ("yes" if c == b.get("crc32") else "NO") if (c and b) else None])
    if rows:
        out_md.append("\nvtest.avi, all frames decoded (decode timed separately: %s ms for %s frames with "
                      "cv2.VideoCapture incl. BGR->RGB%s):\n" % (
                          fmt(dec["ms"]) if dec else "-", dec["T"] if dec else "-",
                          "; resize to 224x224 %s ms" % fmt(next((r["ms"] for r in vtest if "resize" in r.get("impl", "")), None))
                      ) + table(["vtest case", "comix ms", "±", "numpy.median ms", "ratio", "comix GB/s", "% of floor",
                                 "same as numpy"], rows))
        csv_rows += [["vtest"] + r for r in rows]

    # --- mix
    rows = []
    for size in ("224", "1080"):
        for out in ("F32", "BF16"):
            o = ours("MixBench.mix", size=size, out=out, device=dev)
            b = baseline("mix", "torch eager", size=size, out=out, device=dev)
            if o is None and b is None:
                continue
            B, F = MIX_BATCH[size]
            n = SIZES[size][0] * SIZES[size][1] * 3
            moved = B * F * n + B * n + B * F * n * DTYPE_SIZE[out]
            ms = o[0] if o else None
            gbps = moved / ms / 1e6 if ms else None
            rows.append(["%s [%d,%d] %s" % (size, B, F, out), ms, o[1] if o else None, b["ms"] if b else None,
                         (b["ms"] / ms) if (b and ms) else None, gbps,
                         100.0 * gbps / copy_rw if (gbps and copy_rw) else None])
    out_md.append("\nBackground mix (x u8 [B,F,H,W,3], bg [B,H,W,3], gamma 0.3):\n" + table(
        ["mix case", "comix ms", "±", "torch eager ms", "ratio", "comix GB/s (x+bg+out)", "% of copy BW (rw)"], rows))
    csv_rows += [["mix"] + r for r in rows]

    text = "\n".join(out_md) + "\n"
    print(text)
    with open(os.path.join(d, "summary.md"), "w") as f:
        f.write(text)
    with open(os.path.join(d, "summary.csv"), "w", newline="") as f:
        csv.writer(f).writerows(csv_rows)


if __name__ == "__main__":
    sys.exit(main())
