#!/usr/bin/python3
"""Makes the I3D parity fixtures in this folder (run from anywhere, with Debian's python3-torch):

    /usr/bin/python3 java/src/test/resources/weights/make_i3d_parity.py

Made with torch 1.13 (CPU) and numpy 1.24. A minimal, independent re-implementation of
piergiaj/pytorch-i3d's InceptionI3d as COMIX-SPEC §1.1 describes it (written from the spec, no
fetched code): Unit3D = Conv3d with TF-SAME padding computed per forward and applied with F.pad
(zeros), no bias -> BatchNorm3d(eps 1e-3, momentum 0.01) -> ReLU; MaxPool3dSamePadding = zero F.pad
then nn.MaxPool3d; InceptionModule branches b0, b1a->b1b, b2a->b2b, b3a(pool)->b3b concatenated in
that order; blocks Conv3d_1a_7x7 .. Mixed_5c; final avg pool; unused logits unit (400, bias).

Width: every backbone channel count c becomes max(1, floor(c*w + 0.5)) (the Java model's rule;
w = 1/32 here). Final pool (the Java model's documented rule): AvgPool3d kernel
(1, min(7, H'), min(7, W')), stride 1, valid, then the mean over every remaining position; at 224^2
that is pytorch-i3d's (1, 7, 7) pool exactly.

Weights: random (fixed seed), BN weight/bias random and BN running_mean/running_var random too, so
the eval-mode forward really uses them. Outputs (all float32, little endian):
  i3d_w32.pt              model.state_dict() of the width-1/32 model, torch.save zip format; it has
                          the *.num_batches_tracked entries of a real PyTorch 1.13 state dict
  i3d_w32_input.npy       input [2, 8, 16, 16, 3], NDHWC (the Java layout; PyTorch got it as NCDHW)
  i3d_w32_features.npy    eval-mode features [2, 32] for that input
  i3d_w32_224_features.npy eval-mode features [1, 32] for the deterministic 1x3x8x224x224 input
                          x[n,c,t,h,w] = sin(0.1*t + 0.05*h - 0.07*w + 0.9*c + 1.3*n) * 0.9 (too big
                          to store; the test builds the same input), exercising the real 7x7 pool
  i3d_w32_train_*.npy     a training step from the same weights on the input lcg_input(2, 8, 32, 32) (a
                          31-bit LCG, exact in Python and Java; NDHWC order): model.train(), features y
                          (BN batch statistics), L = sum(y * R) with R[n, k] = cos(0.3k + 1.1n),
                          L.backward(); computed in float64 (a copy of the model in double), saved as
                          float32: features y [2, 32], the gradients of Conv3d_1a_7x7.conv3d.weight,
                          Mixed_3b.b1b.conv3d.weight, Mixed_5c.b1b.conv3d.weight, Mixed_4c.b0.bn.weight and
                          .bn.bias, the updated running_mean / running_var of Conv3d_1a_7x7.bn and
                          Mixed_5c.b3b.bn, and dL/dx of the first frame, top-left 16x16, dx[:, 0, :16, :16] in NDHWC ([2, 16, 16, 3]);
                          each file is named after its tensor (i3d_w32_train_<name>.npy). Training-mode
                          BN at this tiny width (1-2 channels in places, few values per channel) is
                          ill-conditioned: PyTorch's own float32 step differs from float64 by ~1e-6
                          (features) and ~1e-4 (gradients) relative, which the script prints; the
                          Java test compares its float32 step with the float64 reference.
"""
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 1.0 / 32


def ch(c, w=WIDTH):
    return max(1, int(math.floor(c * w + 0.5)))


def same_pad(size, k, s):
    p = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
    return p // 2, p - p // 2


def pad_same(x, kernel, stride):
    t, h, w = x.shape[2:]
    pt, ph, pw = same_pad(t, kernel[0], stride[0]), same_pad(h, kernel[1], stride[1]), same_pad(w, kernel[2], stride[2])
    return F.pad(x, (pw[0], pw[1], ph[0], ph[1], pt[0], pt[1]))  # zeros


class MaxPoolSame(nn.Module):
    def __init__(self, k, s):
        super().__init__()
        self.k, self.s = k, s
        self.pool = nn.MaxPool3d(k, s)

    def forward(self, x):
        return self.pool(pad_same(x, self.k, self.s))


class Unit(nn.Module):
    def __init__(self, cin, cout, k=(1, 1, 1), s=(1, 1, 1), bn=True, bias=False, relu=True):
        super().__init__()
        self.k, self.s, self.relu = k, s, relu
        self.conv3d = nn.Conv3d(cin, cout, k, s, padding=0, bias=bias)
        self.use_bn = bn
        if bn:
            self.bn = nn.BatchNorm3d(cout, eps=1e-3, momentum=0.01)

    def forward(self, x):
        x = self.conv3d(pad_same(x, self.k, self.s))
        if self.use_bn:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class Mixed(nn.Module):
    def __init__(self, cin, out):
        super().__init__()
        self.b0 = Unit(cin, out[0])
        self.b1a = Unit(cin, out[1])
        self.b1b = Unit(out[1], out[2], (3, 3, 3))
        self.b2a = Unit(cin, out[3])
        self.b2b = Unit(out[3], out[4], (3, 3, 3))
        self.b3a = MaxPoolSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit(cin, out[5])
        self.cout = out[0] + out[2] + out[4] + out[5]

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


MIXED = [("Mixed_3b", (64, 96, 128, 16, 32, 32)), ("Mixed_3c", (128, 128, 192, 32, 96, 64)), "MaxPool3d_4a_3x3",
         ("Mixed_4b", (192, 96, 208, 16, 48, 64)), ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
         ("Mixed_4d", (128, 128, 256, 24, 64, 64)), ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
         ("Mixed_4f", (256, 160, 320, 32, 128, 128)), "MaxPool3d_5a_2x2",
         ("Mixed_5b", (256, 160, 320, 32, 128, 128)), ("Mixed_5c", (384, 192, 384, 48, 128, 128))]


class I3D(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.order = []

        def add(name, m):
            self.add_module(name, m)
            self.order.append(name)

        c = ch(64, w)
        add("Conv3d_1a_7x7", Unit(3, c, (7, 7, 7), (2, 2, 2)))
        add("MaxPool3d_2a_3x3", MaxPoolSame((1, 3, 3), (1, 2, 2)))
        add("Conv3d_2b_1x1", Unit(c, c))
        add("Conv3d_2c_3x3", Unit(c, ch(192, w), (3, 3, 3)))
        c = ch(192, w)
        add("MaxPool3d_3a_3x3", MaxPoolSame((1, 3, 3), (1, 2, 2)))
        for item in MIXED:
            if item == "MaxPool3d_4a_3x3":
                add(item, MaxPoolSame((3, 3, 3), (2, 2, 2)))
            elif item == "MaxPool3d_5a_2x2":
                add(item, MaxPoolSame((2, 2, 2), (2, 2, 2)))
            else:
                m = Mixed(c, [ch(v, w) for v in item[1]])
                add(item[0], m)
                c = m.cout
        self.features = c
        self.logits = Unit(c, 400, bn=False, bias=True, relu=False)

    def forward(self, x):
        for name in self.order:
            x = getattr(self, name)(x)
        h, w = x.shape[3], x.shape[4]
        x = F.avg_pool3d(x, (1, min(7, h), min(7, w)), stride=1)
        return x.mean(dim=(2, 3, 4))  # [N, C]


def randomise(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("conv3d.weight"):
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) * math.sqrt(2.0 / fan_in))
            elif name.endswith("bn.weight"):
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
            else:  # bn.bias, logits bias
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.2)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) * 1.5 + 0.5)
            elif name.endswith("num_batches_tracked"):
                b.fill_(17)


def sin_input(n, t, h, w):
    N, C, T, H, W = np.meshgrid(np.arange(n), np.arange(3), np.arange(t), np.arange(h), np.arange(w), indexing="ij")
    return (np.sin(0.1 * T + 0.05 * H - 0.07 * W + 0.9 * C + 1.3 * N) * 0.9).astype(np.float32)


TRAIN_GRADS = ["Conv3d_1a_7x7.conv3d.weight", "Mixed_3b.b1b.conv3d.weight", "Mixed_5c.b1b.conv3d.weight",
               "Mixed_4c.b0.bn.weight", "Mixed_4c.b0.bn.bias"]
TRAIN_BUFFERS = ["Conv3d_1a_7x7.bn.running_mean", "Conv3d_1a_7x7.bn.running_var", "Mixed_5c.b3b.bn.running_mean",
                 "Mixed_5c.b3b.bn.running_var"]


def lcg_input(n, t, h, w):
    """[n, t, h, w, 3] float32 in [-1, 1): s <- (1103515245 s + 12345) mod 2^31 from s = 2021, x = s / 2^30 - 1."""
    s, out = 2021, np.empty(n * t * h * w * 3, dtype=np.float64)
    for i in range(out.size):
        s = (1103515245 * s + 12345) % (1 << 31)
        out[i] = s / float(1 << 30) - 1.0
    return out.astype(np.float32).reshape(n, t, h, w, 3)


def train_step(model32, here):
    import copy
    xn = lcg_input(2, 8, 32, 32)
    rel = lambda a, b: float(np.abs(a - b).max() / np.abs(b).max())
    res = {}
    for dtype in (torch.float32, torch.float64):
        model = copy.deepcopy(model32).to(dtype)
        model.train()
        out = run_train(model, torch.from_numpy(xn).permute(0, 4, 1, 2, 3).to(dtype))
        res[dtype] = out
    for name, t in res[torch.float64].items():
        print("train %-40s torch f32 vs f64 rel err %.2e" % (name, rel(res[torch.float32][name], t)))
        np.save(os.path.join(here, "i3d_w32_train_%s.npy" % name), np.ascontiguousarray(t.astype(np.float32)))


def run_train(model, x):
    x = x.clone().requires_grad_(True)
    y = model(x)
    n, k = np.meshgrid(np.arange(y.shape[0]), np.arange(y.shape[1]), indexing="ij")
    r = torch.from_numpy(np.cos(0.3 * k + 1.1 * n).astype(np.float32)).to(y.dtype)
    (y * r).sum().backward()
    out = {"features": y.detach()}
    params, buffers = dict(model.named_parameters()), dict(model.named_buffers())
    for name in TRAIN_GRADS:
        out[name + ".grad"] = params[name].grad
    for name in TRAIN_BUFFERS:
        out[name] = buffers[name]
    out["input.grad.frame0"] = x.grad[:, :, 0, :16, :16].permute(0, 2, 3, 1)
    return {k: v.detach().numpy().astype(np.float64) for k, v in out.items()}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    gen = torch.Generator().manual_seed(2021)
    model = I3D(WIDTH)
    randomise(model, gen)
    model.eval()
    assert model.features == 32, model.features
    x = (torch.rand((2, 3, 8, 16, 16), generator=gen) * 2 - 1).float()
    with torch.no_grad():
        y = model(x)
        y224 = model(torch.from_numpy(sin_input(1, 8, 224, 224)))
    torch.save(model.state_dict(), os.path.join(here, "i3d_w32.pt"))
    np.save(os.path.join(here, "i3d_w32_input.npy"), np.ascontiguousarray(x.permute(0, 2, 3, 4, 1).numpy()))
    np.save(os.path.join(here, "i3d_w32_features.npy"), y.numpy().astype(np.float32))
    np.save(os.path.join(here, "i3d_w32_224_features.npy"), y224.numpy().astype(np.float32))
    train_step(model, here)
    print("features", tuple(y.shape), "224:", tuple(y224.shape), "state dict", len(model.state_dict()), "tensors,",
          sum(v.numel() for v in model.state_dict().values()), "elements")
    print("y[0,:4]", y[0, :4].tolist(), "y224[0,:4]", y224[0, :4].tolist())


if __name__ == "__main__":
    main()
