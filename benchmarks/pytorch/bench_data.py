"""Benchmark inputs and timing helpers shared by the baselines.

Frames are the byte stream of SplitMix64 seeded with SEED: byte i is byte (i % 8), little-endian,
of output i // 8 (output w = mix64(SEED + (w + 1) * 0x9E3779B97F4A7C15)). The JMH benchmarks
(benchmarks/src/main/java/dev/comix/bench/BenchData.java) generate the same bytes, so both sides
time the same frames and the median checksums can be compared. Case (size, T) uses the first
T*H*W*3 bytes of the stream.
"""
import json
import os
import platform
import statistics
import sys
import time
import zlib

import numpy as np

SEED = 20211206
BG_SEED = SEED + 1
SIZES = {"224": (224, 224, 3), "1080": (1080, 1920, 3)}
MIX_BATCH = {"224": (8, 128), "1080": (2, 16)}  # [B, F] of the mixing benchmark, as MixBench
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix_bytes(seed, nbytes, chunk_words=1 << 22):
    """The first nbytes of the SplitMix64(seed) byte stream, as a uint8 array."""
    assert sys.byteorder == "little"
    nwords = (nbytes + 7) // 8
    out = np.empty(nwords, dtype=np.uint64)
    s = np.uint64(seed)
    with np.errstate(over="ignore"):
        for w0 in range(0, nwords, chunk_words):
            w1 = min(nwords, w0 + chunk_words)
            z = np.arange(w0 + 1, w1 + 1, dtype=np.uint64)
            z *= _GOLDEN
            z += s
            z ^= z >> np.uint64(30)
            z *= np.uint64(0xBF58476D1CE4E5B9)
            z ^= z >> np.uint64(27)
            z *= np.uint64(0x94D049BB133111EB)
            z ^= z >> np.uint64(31)
            out[w0:w1] = z
    return out.view(np.uint8)[:nbytes]


def frames(size, T, seed=SEED):
    """uint8 frames [T, H, W, 3] of the median benchmark."""
    shape = SIZES[size]
    n = shape[0] * shape[1] * shape[2]
    return splitmix_bytes(seed, T * n).reshape((T,) + shape)


def crc32(a):
    return "%08x" % (zlib.crc32(np.ascontiguousarray(a).view(np.uint8).tobytes()) & 0xFFFFFFFF)


def time_cpu(fn, min_time=1.0, max_reps=7, min_reps=1, warmup=0):
    """Runs fn until min_time seconds have passed (at least min_reps, at most max_reps times).
    Returns (list of ms per run, last result)."""
    for _ in range(warmup):
        fn()
    times, result, t_all = [], None, time.perf_counter()
    while len(times) < max_reps and (len(times) < min_reps or time.perf_counter() - t_all < min_time):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times, result


def time_cuda(torch, fn, warmup=3, reps=20):
    """CUDA-event timing of fn (a GPU op), after warmup; returns (ms per run, last result)."""
    result = None
    for _ in range(warmup):
        result = fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        result = fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return times, result


def summary(times):
    return {"ms": statistics.median(times), "ms_min": min(times), "ms_max": max(times), "repeats": len(times)}


def versions(torch=None):
    v = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine()}
    if torch is not None:
        v["torch"] = torch.__version__
        v["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            v["cuda"] = torch.version.cuda
            v["gpu"] = torch.cuda.get_device_name(0)
    try:
        v["load"] = os.getloadavg()[0]
    except OSError:
        pass
    return v


def emit(record, out_path=None):
    """Prints one JSON line (and appends it to out_path)."""
    line = json.dumps(record, sort_keys=True)
    print(line, flush=True)
    if out_path:
        with open(out_path, "a") as f:
            f.write(line + "\n")


def parse_list(s):
    return [x for x in s.split(",") if x]
