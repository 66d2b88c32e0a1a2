#!/usr/bin/python3
"""Makes the weight-IO test fixtures in this folder (run from anywhere, with Debian's python3-torch):

    /usr/bin/python3 java/src/test/resources/weights/make_fixtures.py

Made with torch 1.13 and numpy 1.24. Outputs (all small; random weights, fixed seed):
  tiny_i3d.pt          torch.save of a tiny-width I3D-style state dict (zip format): I3D key names,
                       float32 weights, plus tensors that exercise the reader: a storage offset
                       (slice of a bigger tensor), a non-contiguous view (transpose), two tensors
                       sharing one storage, a 0-d tensor, an empty tensor, and f16/bf16/f64/i64/
                       i32/u8/bool tensors
  tiny_i3d_module.pt   the same dict with a DataParallel "module." prefix (torch 1.13 names the
                       zip's top folder after the file, so the two .pt files differ there too)
  tiny_i3d_legacy.pt   the same dict in the legacy (non-zip) format (its bytes differ from run to run:
                       the legacy format names storages by their memory addresses; values do not)
  tiny_i3d.safetensors the same tensors made contiguous, written by the independent safetensors
                       writer below (the reference values for the .pt tests)
  arange.safetensors   a 2x3 float32 arange and a 4 int64 arange, with __metadata__
The safetensors reader/writer here is written from the format spec alone (u64 LE header length,
JSON header, data) because Debian has no python3-safetensors; `--check FILE` reads a file with it
and prints name, dtype, shape and a sum per tensor (tests use it to check files comix writes).
"""
import collections
import json
import os
import struct
import sys

import numpy as np

ST_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64,
             "I32": np.int32, "U8": np.uint8, "BOOL": np.bool_, "BF16": None}


def st_write(path, tensors, metadata=None):
    """tensors: name -> (dtype string, shape, raw little-endian bytes)."""
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def st_read(path):
    """Returns (metadata, OrderedDict name -> (dtype, shape, raw bytes)), validating strictly."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert 8 + n <= len(data), "header longer than file"
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    meta = header.pop("__metadata__", None)
    out, spans = collections.OrderedDict(), []
    for name, info in header.items():
        dtype, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        size = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "U8": 1, "BOOL": 1}[dtype]
        assert e - b == size * int(np.prod(shape, dtype=np.int64)), name
        assert 0 <= b <= e <= len(body), name
        spans.append((b, e))
        out[name] = (dtype, shape, body[b:e])
    spans.sort()
    pos = 0
    for b, e in spans:
        assert b == pos, "gap or overlap at %d" % b
        pos = e
    assert pos == len(body), "trailing bytes"
    return meta, out


def st_dtype(t):
    import torch
    return {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
            torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}[t.dtype]


def raw_bytes(t):
    import torch
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def check(path):
    meta, tensors = st_read(path)
    print("metadata", json.dumps(meta, sort_keys=True))
    for name, (dtype, shape, raw) in tensors.items():
        if dtype == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, np.dtype(ST_DTYPES[dtype]).newbyteorder("<"))
        print(name, dtype, list(shape), repr(float(a.astype(np.float64).sum())))


def tiny_i3d(torch):
    """I3D key names (piergiaj/pytorch-i3d) at tiny widths: 3 -> 4 -> 4 -> 6 channels."""
    sd = collections.OrderedDict()

    def unit(name, cin, cout, k):
        sd[name + ".conv3d.weight"] = torch.randn(cout, cin, *k)
        sd[name + ".bn.weight"] = torch.rand(cout) + 0.5
        sd[name + ".bn.bias"] = torch.randn(cout)
        sd[name + ".bn.running_mean"] = torch.randn(cout) * 0.1
        sd[name + ".bn.running_var"] = torch.rand(cout) + 0.5
        sd[name + ".bn.num_batches_tracked"] = torch.tensor(7)

    unit("Conv3d_1a_7x7", 3, 4, (7, 7, 7))
    unit("Conv3d_2b_1x1", 4, 4, (1, 1, 1))
    unit("Conv3d_2c_3x3", 4, 6, (3, 3, 3))
    for b, (cin, cout, k) in {"b0": (6, 2, 1), "b1a": (6, 2, 1), "b1b": (2, 2, 3), "b2a": (6, 1, 1),
                              "b2b": (1, 2, 3), "b3b": (6, 2, 1)}.items():
        unit("Mixed_3b." + b, cin, cout, (k, k, k))
    sd["logits.conv3d.weight"] = torch.randn(5, 8, 1, 1, 1)
    sd["logits.conv3d.bias"] = torch.randn(5)
    return sd


def reader_cases(torch):
    sd = collections.OrderedDict()
    big = torch.arange(100, dtype=torch.float32)
    sd["x.offset"] = big[10:22].view(3, 4)                     # storage offset 10, shares 'big'
    sd["x.shared"] = big[50:53]                                # same storage, another offset
    m = torch.arange(12, dtype=torch.float32).view(3, 4)
    sd["x.transposed"] = m.t()                                 # strides (1, 4)
    sd["x.strided"] = torch.arange(2 * 3 * 5, dtype=torch.float64).view(2, 3, 5)[:, ::2, 1:4]
    sd["x.scalar"] = torch.tensor(3.5)
    sd["x.empty"] = torch.zeros(0, 3)
    sd["x.f16"] = torch.tensor([1.0, -2.5, 65504.0, 1e-4], dtype=torch.float16)
    sd["x.bf16"] = torch.tensor([1.0, -2.5, 3.0e38, 1e-3], dtype=torch.bfloat16)
    sd["x.i64"] = torch.tensor([-(2 ** 40), 0, 2 ** 40 + 3], dtype=torch.int64)
    sd["x.i32"] = torch.tensor([[-7, 8], [9, 2 ** 31 - 1]], dtype=torch.int32)
    sd["x.u8"] = torch.tensor([0, 1, 255], dtype=torch.uint8)
    sd["x.bool"] = torch.tensor([True, False, True])
    sd["x.param"] = torch.nn.Parameter(torch.tensor([[0.25, -0.5]]))
    return sd


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
        return
    import torch
    torch.manual_seed(2021)
    here = os.path.dirname(os.path.abspath(__file__))
    sd = tiny_i3d(torch)
    sd.update(reader_cases(torch))
    # what Module.state_dict() attaches; pickled as a BUILD on the OrderedDict
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("Conv3d_1a_7x7.bn", {"version": 2})])
    torch.save(sd, os.path.join(here, "tiny_i3d.pt"))
    mod = collections.OrderedDict(("module." + k, v) for k, v in sd.items())
    torch.save(mod, os.path.join(here, "tiny_i3d_module.pt"))
    torch.save(sd, os.path.join(here, "tiny_i3d_legacy.pt"), _use_new_zipfile_serialization=False)
    st_write(os.path.join(here, "tiny_i3d.safetensors"),
             {k: (st_dtype(v), tuple(v.shape), raw_bytes(v.detach())) for k, v in sd.items()})
    st_write(os.path.join(here, "arange.safetensors"),
             {"a": ("F32", (2, 3), np.arange(6, dtype="<f4").tobytes()),
              "b": ("I64", (4,), np.arange(4, dtype="<i8").tobytes())},
             metadata={"format": "pt", "made_by": "make_fixtures.py"})
    # verify what was written with the independent reader, against torch.load
    for f in ("tiny_i3d.pt", "tiny_i3d_module.pt", "tiny_i3d_legacy.pt"):
        loaded = torch.load(os.path.join(here, f))
        assert [k.replace("module.", "", 1) for k in loaded] == list(sd), f
    _, st = st_read(os.path.join(here, "tiny_i3d.safetensors"))
    for k, v in sd.items():
        assert st[k][2] == raw_bytes(v.detach()), k


if __name__ == "__main__":
    main()
