"""The SupConLoss formula exactly as CoMix uses it (HobbitLong/SupContrast losses.py,
contrast_mode='all', as copied into CVIR/CoMix core/losses.py), written out here so the
baselines and fixtures do not depend on either repository. Eager PyTorch: each line is one or
more kernels and several (N*V)^2 intermediates, which is what comix's fused op replaces.

Extensions used only where comix's options ask for them (defaults reproduce the original):
normalize (F.normalize on the last dim first) and a per-sample keep mask (samples with mask 0
are removed before the formula, i.e. exactly the TPL selection of the original adapt.py).
"""
import torch
import torch.nn.functional as F


def supcon_original(features, labels=None, temperature=0.5, base_temperature=0.07):
    """features [N, V, D]; labels [N] or None. Returns the scalar loss (autograd-able)."""
    device = features.device
    batch_size = features.shape[0]
    if labels is None:
        mask = torch.eye(batch_size, dtype=features.dtype, device=device)
    else:
        labels = labels.contiguous().view(-1, 1)
        mask = torch.eq(labels, labels.T).to(features.dtype)
    contrast_count = features.shape[1]
    contrast_feature = torch.cat(torch.unbind(features, dim=1), dim=0)
    anchor_feature = contrast_feature
    anchor_count = contrast_count
    anchor_dot_contrast = torch.div(torch.matmul(anchor_feature, contrast_feature.T), temperature)
    logits_max, _ = torch.max(anchor_dot_contrast, dim=1, keepdim=True)
    logits = anchor_dot_contrast - logits_max.detach()
    mask = mask.repeat(anchor_count, contrast_count)
    logits_mask = torch.scatter(torch.ones_like(mask), 1,
                                torch.arange(batch_size * anchor_count, device=device).view(-1, 1), 0)
    mask = mask * logits_mask
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask.sum(1)
    loss = -(temperature / base_temperature) * mean_log_prob_pos
    loss = loss.view(anchor_count, batch_size).mean()
    return loss


def supcon(features, labels=None, mask=None, temperature=0.5, base_temperature=0.07, normalize=False):
    """comix semantics on top of the original formula: optional normalisation and sample mask."""
    f = F.normalize(features, dim=-1) if normalize else features
    if mask is not None:
        keep = mask.bool()
        if int(keep.sum()) == 0:
            return (f * 0).sum()  # comix: no anchor -> loss 0, gradient 0
        f = f[keep]
        labels = labels[keep] if labels is not None else None
    return supcon_original(f, labels, temperature, base_temperature)
