"""Training losses: MSE, L1 and L1 + (1 - SSIM), optionally in the brain and tumour-weighted.

``build_loss(name, in_brain, tumour_weight)`` returns a module called as
``loss(output, target, mask=None, labels=None)``, tensors ``(B, 1, *spatial)`` (2D or 3D).

- Voxel weights: 1, or ``tumour_weight`` where ``labels > 0`` (when labels are given; a
  dataset without labels trains unweighted). The loss is the weighted sum divided by the
  *number* of voxels of the region (not by the weights' sum), so a tumour weight w multiplies
  the tumour voxels' contribution by exactly w and leaves the rest as it was.
- ``in_brain``: the region is the brain mask (required then: a plan asking for it with a loader
  that provides no mask is an error, not a silent whole-patch loss). An empty region gives 0
  (with zero gradients), never NaN.
- SSIM: the evaluation's Gaussian window and constants (11 taps, sigma 1.5, K1 0.01, K2 0.03:
  ``utils.gaussian_window``, which the evaluation's SSIM uses too), data range 1, computed on the
  "valid" part of the patch (centres at least the window radius from every side, so no padding
  rule enters the gradient); its mean there is scikit-image's SSIM mean. Every axis is
  filtered (a 3D window for 3D patches). In the brain the window moments come from brain
  voxels only (normalised convolution, as ``evaluation.masked_ssim`` does), and the map is
  averaged over the brain voxels of the valid part. ``l1_ssim`` = L1 + mean(1 - SSIM), each
  with the same voxel weights.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from autosynth.utils.gaussian_window import (K1, K2, SIGMA, TRUNCATE, WEIGHT_FLOOR,
                                             gaussian_taps, kernel_radius)

LOSSES = ("mse", "l1", "mae", "l1_ssim")
ALIASES = {"mae": "l1"}
DATA_RANGE = 1.0  # images are trained on the [0, 1] scale
CONVOLUTIONS = {2: F.conv2d, 3: F.conv3d}


class SynthesisLoss(nn.Module):
    """One of :data:`LOSSES`, with the region and tumour weighting of the plan."""

    def __init__(self, name: str, in_brain: bool = False, tumour_weight: float = 1.0) -> None:
        super().__init__()
        if name not in LOSSES:
            raise ValueError(f"unknown loss '{name}'; known: {', '.join(LOSSES)}")
        if not tumour_weight > 0:
            raise ValueError(f"tumour_weight must be positive, got {tumour_weight}")
        self.name = ALIASES.get(name, name)
        self.in_brain, self.tumour_weight = bool(in_brain), float(tumour_weight)
        self.radius = kernel_radius(SIGMA, TRUNCATE)

    def extra_repr(self) -> str:
        return f"{self.name}, in_brain={self.in_brain}, tumour_weight={self.tumour_weight}"

    def forward(self, output: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor | None = None, labels: torch.Tensor | None = None
                ) -> torch.Tensor:
        if output.shape != target.shape or output.ndim not in (4, 5) or output.shape[1] != 1:
            raise ValueError(f"output {tuple(output.shape)} and target {tuple(target.shape)} "
                             "must both be (B, 1, *spatial) with 2 or 3 spatial axes")
        region = self._region(target, mask)
        weight = self._weights(target, region, labels)
        if weight is None:  # plain: exactly nn.MSELoss / nn.L1Loss, as before these options
            loss = (F.mse_loss if self.name == "mse" else F.l1_loss)(output, target)
        else:
            count = region.sum() if region is not None else torch.tensor(float(target.numel()))
            difference = output - target
            error = difference.square() if self.name == "mse" else difference.abs()
            loss = (error * weight).sum() / count.clamp_min(1)
        if self.name == "l1_ssim":
            loss = loss + self._ssim_term(output, target, region, weight)
        return loss

    # -- weights -----------------------------------------------------------------------------
    def _region(self, target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        if not self.in_brain:
            return None
        if mask is None:
            raise ValueError("the loss is restricted to the brain (training.loss_in_brain) but "
                             "the batch carries no brain mask")
        if mask.shape != target.shape:
            raise ValueError(f"mask {tuple(mask.shape)} must have the target's shape "
                             f"{tuple(target.shape)}")
        return (mask != 0).to(target.dtype)

    def _weights(self, target: torch.Tensor, region: torch.Tensor | None,
                 labels: torch.Tensor | None) -> torch.Tensor | None:
        """Voxel weights; None when every voxel weighs 1."""
        weighted = labels is not None and self.tumour_weight != 1.0
        if region is None and not weighted:
            return None
        weight = torch.ones_like(target) if region is None else region
        if weighted:
            if labels.shape != target.shape:
                raise ValueError(f"labels {tuple(labels.shape)} must have the target's shape "
                                 f"{tuple(target.shape)}")
            weight = weight * torch.where(labels > 0, self.tumour_weight, 1.0).to(target.dtype)
        return weight

    # -- SSIM --------------------------------------------------------------------------------
    def _ssim_term(self, output: torch.Tensor, target: torch.Tensor,
                   region: torch.Tensor | None, weight: torch.Tensor | None) -> torch.Tensor:
        """Weighted mean of 1 - SSIM over the (brain) voxels of the valid part."""
        s_map = ssim_map(output, target, region)
        if weight is None:
            return (1 - s_map).mean()
        inner = valid_part(weight, self.radius)
        count = (valid_part(region, self.radius).sum() if region is not None
                 else torch.tensor(float(inner.numel())))
        return ((1 - s_map) * inner).sum() / count.clamp_min(1)


def valid_part(x: torch.Tensor, radius: int) -> torch.Tensor:
    """``x`` without ``radius`` voxels on each side of every spatial axis."""
    return x[(slice(None), slice(None)) + (slice(radius, -radius),) * (x.ndim - 2)]


def _smooth(stack: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter of every channel, 'valid' (no padding) along every axis."""
    dims, channels = stack.ndim - 2, stack.shape[1]
    taps = gaussian_taps(SIGMA, TRUNCATE, stack.dtype, stack.device)
    for axis in range(dims):
        shape = [1, 1] + [1] * dims
        shape[2 + axis] = taps.numel()
        kernel = taps.reshape(shape).expand(channels, *shape[1:])
        stack = CONVOLUTIONS[dims](stack, kernel, groups=channels)
    return stack


def ssim_map(output: torch.Tensor, target: torch.Tensor,
             region: torch.Tensor | None = None) -> torch.Tensor:
    """Differentiable SSIM map on the valid part, ``(B, 1, *spatial - 2 * radius)``; with
    ``region`` (0/1) the window moments come from region voxels only."""
    radius = kernel_radius(SIGMA, TRUNCATE)
    if min(output.shape[2:]) <= 2 * radius:
        raise ValueError(f"the SSIM loss needs every patch side > {2 * radius} (its window), "
                         f"got {list(output.shape[2:])}")
    shift = DATA_RANGE / 2          # smaller E[x^2] - E[x]^2 cancellation, as in evaluation
    x, y = target - shift, output - shift
    if region is None:
        moments = _smooth(torch.cat([x, y, x * x, y * y, x * y], dim=1))
        ux, uy, uxx, uyy, uxy = moments.split(1, dim=1)
    else:
        xs, ys = x * region, y * region
        moments = _smooth(torch.cat([region, xs, ys, xs * x, ys * y, xs * y], dim=1))
        w, sx, sy, sxx, syy, sxy = moments.split(1, dim=1)
        w = w.clamp_min(WEIGHT_FLOOR)
        ux, uy, uxx, uyy, uxy = sx / w, sy / w, sxx / w, syy / w, sxy / w
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    ux, uy = ux + shift, uy + shift
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))


def build_loss(name: str, in_brain: bool = False, tumour_weight: float = 1.0) -> nn.Module:
    """The loss a plan names (``mae`` is ``l1``), restricted and weighted as the plan says."""
    return SynthesisLoss(name.lower(), in_brain, tumour_weight)
