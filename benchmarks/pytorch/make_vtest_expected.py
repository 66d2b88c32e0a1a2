#!/usr/bin/python3
"""Expected background of vtest.avi for the bit-exact median test, and the numpy figures of the
acceptance criterion on real frames.

Decodes ALL frames of vtest.avi with cv2.VideoCapture (BGR, converted to RGB), computes
numpy.median(frames, axis=0).astype(numpy.uint8) at the native 768x576 and writes it as a
lossless PNG (cv2.imwrite of the array converted back to BGR, so the PNG holds the right RGB
image). Frame count with Debian's cv2 4.6 (libavcodec 59): 795. Also times, separately: decoding,
numpy.median at native size, the resize of every frame to 224x224 (cv2.INTER_AREA, on the RGB
frames) and numpy.median at 224x224. With --raw-dir it also writes the decoded RGB frames
(vtest_native.u8 [795,576,768,3], vtest_224.u8 [795,224,224,3]) for VtestMedianBench.

The expected file was made with exactly (from the repository root, Debian 12's python3 with
numpy 1.24.2 and cv2 4.6.0):
    /usr/bin/python3 benchmarks/pytorch/make_vtest_expected.py
which wrote java/src/test/resources/expected/vtest_median_native.png from 795 frames.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_data as bd  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_VIDEO = os.path.join(ROOT, "..", "shared", "data", "vtest.avi")
DEFAULT_PNG = os.path.join(ROOT, "java", "src", "test", "resources", "expected", "vtest_median_native.png")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", default=DEFAULT_VIDEO)
    ap.add_argument("--png", default=DEFAULT_PNG, help="where to write the expected median PNG")
    ap.add_argument("--raw-dir", default=None, help="also write the decoded RGB frames here (vtest_*.u8)")
    ap.add_argument("--reps", type=int, default=3, help="numpy.median repeats at 224x224 (native: 1)")
    ap.add_argument("--out", default=None, help="also append the JSON lines to this file")
    args = ap.parse_args()
    import cv2

    if not os.path.isfile(args.video):
        sys.exit("make_vtest_expected: %s not found (the shared test data lives beside the project)" % args.video)
    vers = {"python": sys.version.split()[0], "numpy": np.__version__, "cv2": cv2.__version__}
    try:
        vers["load"] = os.getloadavg()[0]
    except OSError:
        pass

    t0 = time.perf_counter()
    cap = cv2.VideoCapture(args.video)
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    decode_ms = (time.perf_counter() - t0) * 1e3
    if not frames:
        sys.exit("make_vtest_expected: no frame decoded from " + args.video)
    t0 = time.perf_counter()
    native = np.stack(frames)
    del frames
    stack_ms = (time.perf_counter() - t0) * 1e3
    T = native.shape[0]
    base = {"bench": "vtest", "video": os.path.basename(args.video), "T": T, "versions": vers}
    bd.emit(dict(base, impl="cv2.VideoCapture decode + BGR2RGB", shape=list(native.shape), ms=decode_ms,
                 stack_ms=stack_ms), args.out)

    t0 = time.perf_counter()
    med = np.median(native, axis=0).astype(np.uint8)
    ms = (time.perf_counter() - t0) * 1e3
    bd.emit(dict(base, impl="numpy.median", size="native", shape=list(native.shape), frame_bytes=native.nbytes,
                 ms=ms, repeats=1, GBps=native.nbytes / ms / 1e6, crc32=bd.crc32(med)), args.out)

    os.makedirs(os.path.dirname(os.path.abspath(args.png)), exist_ok=True)
    if not cv2.imwrite(args.png, cv2.cvtColor(med, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        sys.exit("make_vtest_expected: could not write " + args.png)
    back = cv2.cvtColor(cv2.imread(args.png, cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)
    assert np.array_equal(back, med), "PNG round trip differs"

    t0 = time.perf_counter()
    small = np.stack([cv2.resize(f, (224, 224), interpolation=cv2.INTER_AREA) for f in native])
    resize_ms = (time.perf_counter() - t0) * 1e3
    bd.emit(dict(base, impl="cv2.resize INTER_AREA to 224x224", shape=list(small.shape), ms=resize_ms), args.out)
    times, med224 = bd.time_cpu(lambda: np.median(small, axis=0).astype(np.uint8), 0.0, args.reps,
                                min_reps=args.reps)
    bd.emit(dict(base, impl="numpy.median", size="224", shape=list(small.shape), frame_bytes=small.nbytes,
                 **bd.summary(times), GBps=small.nbytes / bd.summary(times)["ms"] / 1e6, crc32=bd.crc32(med224)),
            args.out)

    if args.raw_dir:
        os.makedirs(args.raw_dir, exist_ok=True)
        native.tofile(os.path.join(args.raw_dir, "vtest_native.u8"))
        small.tofile(os.path.join(args.raw_dir, "vtest_224.u8"))
    print("make_vtest_expected: %d frames, median %dx%d written to %s" % (T, med.shape[1], med.shape[0], args.png),
          file=sys.stderr)


if __name__ == "__main__":
    main()
