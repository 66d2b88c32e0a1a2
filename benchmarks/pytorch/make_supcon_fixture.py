"""Writes the fixed SupCon test inputs and the loss and gradient the original PyTorch formula
gives for them, in float64, into the directory given (the JUnit fixture test reads it).

  /usr/bin/python3 benchmarks/pytorch/make_supcon_fixture.py \
      java/src/test/resources/dev/comix/loss/supcon-fixture
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from supcon_formula import supcon  # noqa: E402


def case(out, name, features, labels=None, mask=None, **kw):
    x = torch.tensor(features, dtype=torch.float64, requires_grad=True)
    lab = torch.tensor(labels) if labels is not None else None
    msk = torch.tensor(mask) if mask is not None else None
    loss = supcon(x, lab, msk, **kw)
    loss.backward()
    np.save(os.path.join(out, name + "_features.npy"), features.astype(np.float64))
    if labels is not None:
        np.save(os.path.join(out, name + "_labels.npy"), labels.astype(np.int64))
    if mask is not None:
        np.save(os.path.join(out, name + "_mask.npy"), mask.astype(np.bool_))
    np.save(os.path.join(out, name + "_grad.npy"), x.grad.numpy())
    meta = dict(kw, loss=float(loss.item()), torch=torch.__version__)
    with open(os.path.join(out, name + ".json"), "w") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)
    print(name, repr(loss.item()))


def comix_case(out, rng):
    """The CoMix objective (COMIX-SPEC 4.1-4.4) the way the original adapt.py composes it."""
    B, C, lam_bgm, lam_tpl = 8, 12, 0.1, 0.01
    src_np = rng.normal(size=(2, 2 * B, C)) * 1.5
    tgt_np = rng.normal(size=(2, 2 * B, C)) * 1.5
    tgt_np[:, :B:2, 3] += 6.0  # some confident target videos (pseudo label 3)
    tgt_np[:, 1:B:4, 7] += 6.0  # and some with pseudo label 7
    labels = rng.integers(0, C, size=B)
    src = torch.tensor(src_np, requires_grad=True)
    tgt = torch.tensor(tgt_np, requires_grad=True)
    y = torch.tensor(labels)
    # (a) label-smoothed CE on the source fast view of the originals
    logp = torch.log_softmax(src[0, :B], dim=1)
    t = torch.zeros_like(logp).scatter_(1, y.view(-1, 1), 1.0) * 0.9 + 0.1 / C
    ce = (-t * logp).mean(0).sum()
    # (b)+(c) BGM per domain: rows = originals then mixed copies, views = (fast, slow)
    virt = torch.cat([torch.arange(B), torch.arange(B)])

    def bgm(lg):
        p = torch.softmax(lg, dim=2)
        return supcon(torch.stack([p[0], p[1]], dim=1), virt, temperature=0.5, base_temperature=0.07)

    bgm_s, bgm_t = bgm(src), bgm(tgt)
    # (d) TPL: detached temporal ensemble of the original target videos
    fused = (tgt.data[0, :B] + tgt.data[1, :B]) / 2
    conf, yhat = torch.softmax(fused, dim=1).max(1)
    keep = conf >= 0.7
    if int(keep.sum()) > 0:
        feats = torch.stack([torch.softmax(tgt[0, :B], 1)[keep], torch.softmax(tgt[1, :B], 1)[keep]], dim=1)
        tpl = supcon(feats, yhat[keep], temperature=0.5, base_temperature=0.07)
    else:
        tpl = torch.zeros((), dtype=torch.float64)
    total = ce + lam_bgm * (bgm_s + bgm_t) + lam_tpl * tpl
    total.backward()
    np.save(os.path.join(out, "comix_source_logits.npy"), src_np)
    np.save(os.path.join(out, "comix_target_logits.npy"), tgt_np)
    np.save(os.path.join(out, "comix_source_labels.npy"), labels.astype(np.int64))
    np.save(os.path.join(out, "comix_source_grad.npy"), src.grad.numpy())
    np.save(os.path.join(out, "comix_target_grad.npy"), tgt.grad.numpy())
    meta = dict(total=float(total), ce=float(ce), bgm_source=float(bgm_s), bgm_target=float(bgm_t), tpl=float(tpl),
                confident=int(keep.sum()), lambda_bgm=lam_bgm, lambda_tpl=lam_tpl, torch=torch.__version__)
    with open(os.path.join(out, "comix.json"), "w") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)
    print("comix", meta)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20211206)
    # CoMix BGM shape: softmax probabilities of 2B = 16 rows x 2 views x C = 12, virtual labels
    logits = rng.normal(size=(16, 2, 12)) * 2.0
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    case(out, "comix_bgm", probs, labels=np.array(list(range(8)) * 2), temperature=0.5, base_temperature=0.07)
    # InfoNCE / NT-Xent over normalised embeddings, 3 views
    case(out, "infonce_norm", rng.normal(size=(7, 3, 5)), temperature=0.1, base_temperature=0.1, normalize=True)
    # TPL-like: pseudo labels with a keep mask
    case(out, "tpl_masked", rng.normal(size=(8, 2, 6)) * 0.5, labels=rng.integers(0, 3, size=8),
         mask=np.array([1, 0, 1, 1, 0, 1, 1, 1]), temperature=0.5, base_temperature=0.07)
    comix_case(out, rng)


if __name__ == "__main__":
    main()
