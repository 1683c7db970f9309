"""SSIM (Wang et al. 2004) in torch, equal to scikit-image's with Gaussian weights.

Reference: ``skimage.metrics.structural_similarity(ref, pred, data_range=R,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``: an 11-tap Gaussian (sigma 1.5,
truncate 3.5) with scipy's 'reflect' boundary, K1 = 0.01, K2 = 0.03, population covariances, and
the mean taken after cropping (win_size - 1) // 2 = 5 voxels from every side. On a 3D array
skimage uses a 3D Gaussian window; the paper averaged 2D SSIMs over slices. Both are here, and
both come from one computation: the in-plane filtering gives the per-slice maps, one more filter
along the slice axis the volume map. Maps are returned in the input's axis order (as views of
the computation's own layout).

Masked means (brain, tumour) average the full SSIM map over the mask, border voxels included:
their windows use the same reflected boundary as skimage's full map (``full=True``), and a brain
mask rarely reaches the border anyway. Only the unmasked mean crops, to match skimage.

Precision: float32 by default (about 1.5x faster than float64 on this CPU). The images are
shifted by -data_range/2 before the moments are taken (variances do not change, means get the
shift back), which cuts the cancellation in E[x^2] - E[x]^2 about 3x. Against skimage's float64 the float32
mean differs by ~1e-7 and single voxels by up to ~2e-4 (flat bright regions with little noise,
where vx + vy + C2 is smallest); ``dtype=torch.float64`` agrees to ~1e-12.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from autosynth.evaluation.gaussian import filter_first_axis, filter_last_axis, kernel_radius
from autosynth.utils.gaussian_window import K1, K2, SIGMA, TRUNCATE  # noqa: F401 (re-exported)

GROUP_VOXELS = 2 ** 18   # voxels per cache-sized work chunk (x 5 moments x 4 bytes = 5 MiB)
ArrayLike = np.ndarray | torch.Tensor


@dataclass
class SSIMMaps:
    """SSIM maps in the input's own axis order (None when not requested)."""

    volume: torch.Tensor | None   # 3D window (or the 2D map for a 2D image)
    slices: torch.Tensor | None   # 2D window within each slice (3D input only)
    slice_axis: int
    crop: int                     # (win_size - 1) // 2, the border skimage leaves out of the mean

    def mean(self, which: str = "volume") -> float:
        """skimage's mean: the map without a ``crop``-wide border on every (filtered) axis."""
        s_map = self.volume if which == "volume" else self.slices
        index = [slice(self.crop, -self.crop)] * s_map.ndim
        if which == "slices":
            index[self.slice_axis] = slice(None)
        return float(s_map[tuple(index)].mean(dtype=torch.float64))

    def per_slice_means(self) -> torch.Tensor:
        """skimage's 2D SSIM of every slice (float64 vector along the slice axis)."""
        s_map = self.slices.movedim(self.slice_axis, 0)
        c = self.crop
        return s_map[:, c:-c, c:-c].mean(dim=(1, 2), dtype=torch.float64)


def _ssim_from_moments(ux: torch.Tensor, uy: torch.Tensor, uxx: torch.Tensor, uyy: torch.Tensor,
                       uxy: torch.Tensor, c1: float, c2: float, shift: float) -> torch.Tensor:
    """((2 ux uy + C1)(2 vxy + C2)) / ((ux^2 + uy^2 + C1)(vx + vy + C2)) from the moments of
    images shifted by ``-shift`` (variances are shift-free; means get ``shift`` back). The
    inputs are left untouched (they may be views of a stack that is filtered again)."""
    mean_product = torch.mul(ux, uy)
    numerator = torch.sub(uxy, mean_product).mul_(2).add_(c2)          # 2 vxy + C2
    squares = torch.mul(ux, ux).addcmul_(uy, uy)
    denominator = torch.add(uxx, uyy).sub_(squares).add_(c2)           # vx + vy + C2
    # luminance from unshifted means: near zero (background) ux^2 + uy^2 + C1 ~ C1 must not
    # come out of O(1) terms cancelling
    ux = torch.add(ux, shift, out=squares)            # reuse the two buffers no longer needed
    uy = torch.add(uy, shift, out=mean_product)
    numerator.mul_(torch.mul(ux, uy).mul_(2).add_(c1))
    denominator.mul_(ux.mul_(ux).addcmul_(uy, uy).add_(c1))
    return numerator.div_(denominator)


def _as_tensor(image: ArrayLike, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A CPU tensor view of ``image`` where possible (numpy arrays are not copied unless they are
    big-endian, as NIfTI often is, or of a type torch handles poorly); cast when ``dtype``."""
    if isinstance(image, torch.Tensor):
        tensor = image.detach().cpu()
    else:
        array = np.asarray(image)
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        if array.dtype.kind == "u" and array.itemsize > 1:
            array = array.astype(np.int64)
        elif array.dtype.kind == "f" and array.itemsize < 4:
            array = array.astype(np.float32)
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor if dtype is None else tensor.to(dtype)


def _fill_moments(x: torch.Tensor, y: torch.Tensor, shift: float, out: torch.Tensor) -> None:
    """out[0..4] = x', y', x'^2, y'^2, x'y' with x' = x - shift."""
    torch.sub(x, shift, out=out[0])
    torch.sub(y, shift, out=out[1])
    torch.mul(out[0], out[0], out=out[2])
    torch.mul(out[1], out[1], out=out[3])
    torch.mul(out[0], out[1], out=out[4])


def ssim_maps(pred: ArrayLike, ref: ArrayLike, data_range: float = 1.0, slice_axis: int = 0,
              volume: bool = True, slices: bool = True,
              dtype: torch.dtype = torch.float32) -> SSIMMaps:
    """SSIM maps of a 2D image or a 3D volume (slices along ``slice_axis``).

    Two cache-sized passes instead of whole-volume steps (memory traffic, not arithmetic, is
    what costs here): (1) groups of slices are filtered in-plane, giving the per-slice maps and
    the in-plane filtered moments; (2) column chunks of those moments are filtered along the
    slice axis, giving the volume map.
    """
    x, y = _as_tensor(ref, dtype), _as_tensor(pred, dtype)
    if x.shape != y.shape or x.ndim not in (2, 3):
        raise ValueError(f"need two 2D or 3D images of one shape, got {tuple(y.shape)} (pred) "
                         f"and {tuple(x.shape)} (ref)")
    crop = kernel_radius(SIGMA, TRUNCATE)
    three_d = x.ndim == 3
    volume, slices = volume and three_d, slices or not three_d
    slice_axis = slice_axis % 3 if three_d else -1
    x, y = (x.movedim(slice_axis, 0), y.movedim(slice_axis, 0)) if three_d else (x[None], y[None])
    n_slices, height, width = x.shape
    if min(x.shape[1:] if not volume else x.shape) < 2 * crop + 1:
        raise ValueError(f"every filtered axis needs at least {2 * crop + 1} voxels (as in "
                         f"skimage), got shape {tuple(x.shape) if three_d else tuple(x.shape[1:])}")
    c1, c2, shift = (K1 * data_range) ** 2, (K2 * data_range) ** 2, data_range / 2

    # pass 1: (5, g, H, W) -W to front-> (W, 5, g, H) -H in place-> (W, 5, g, H)
    group = max(1, min(n_slices, GROUP_VOXELS // (height * width)))
    work = [torch.empty(5 * group * height * width, dtype=dtype) for _ in range(2)]
    slice_map = torch.empty(n_slices, width, height, dtype=dtype) if slices else None
    moments = torch.empty(n_slices, 5, width, height, dtype=dtype) if volume else None
    for start in range(0, n_slices, group):
        stop = min(start + group, n_slices)
        size = 5 * (stop - start) * height * width
        stack = work[0][:size].view(5, stop - start, height, width)
        _fill_moments(x[start:stop], y[start:stop], shift, stack)
        stack = filter_last_axis(stack, SIGMA, TRUNCATE, to_front=True, out=work[1][:size])
        stack = filter_last_axis(stack, SIGMA, TRUNCATE, out=work[0][:size])
        if slices:
            s_map = _ssim_from_moments(*stack.unbind(1), c1, c2, shift)    # (W, g, H)
            slice_map[start:stop].copy_(s_map.permute(1, 0, 2))
        if volume:
            moments[start:stop].copy_(stack.permute(2, 1, 0, 3))

    volume_map = None
    if volume:  # pass 2: columns of (S, 5, W*H), filtered along S
        flat = moments.view(n_slices, 5, width * height)
        volume_map = torch.empty(n_slices, width * height, dtype=dtype)
        columns = max(1, GROUP_VOXELS // n_slices)
        filtered = torch.empty(5, n_slices * columns, dtype=dtype)
        for start in range(0, width * height, columns):
            stop = min(start + columns, width * height)
            chunk = filtered[:, :n_slices * (stop - start)].view(5, n_slices, stop - start)
            for k in range(5):
                filter_first_axis(flat[:, k, start:stop], SIGMA, TRUNCATE, out=chunk[k])
            volume_map[:, start:stop] = _ssim_from_moments(*chunk.unbind(0), c1, c2, shift)
        volume_map = volume_map.view(n_slices, width, height)

    def to_input_order(s_map: torch.Tensor | None) -> torch.Tensor | None:
        if s_map is None:
            return None
        s_map = s_map.transpose(1, 2)      # (S, H, W)
        return s_map.movedim(0, slice_axis) if three_d else s_map[0]

    if not three_d:
        return SSIMMaps(to_input_order(slice_map), None, slice_axis, crop)
    return SSIMMaps(to_input_order(volume_map), to_input_order(slice_map), slice_axis, crop)


def ssim(pred: ArrayLike, ref: ArrayLike, data_range: float = 1.0, per_slice: bool = False,
         slice_axis: int = 0, mask: ArrayLike | None = None, full: bool = False,
         dtype: torch.dtype = torch.float32) -> float | tuple[float, np.ndarray]:
    """Mean SSIM (and the map with ``full=True``).

    3D input: ``per_slice=False`` is skimage on the volume (3D window); ``per_slice=True`` the
    paper's mean of 2D SSIMs over slices along ``slice_axis``. With ``mask``, the mean of the map
    inside the mask (no border crop); for ``per_slice`` the map is the stack of 2D maps.
    """
    three_d = np.ndim(ref) == 3
    maps = ssim_maps(pred, ref, data_range, slice_axis, volume=not (three_d and per_slice),
                     slices=three_d and per_slice, dtype=dtype)
    which = "slices" if three_d and per_slice else "volume"
    s_map = maps.slices if which == "slices" else maps.volume
    if mask is None:
        value = maps.mean(which)
    else:
        value = masked_mean(s_map, mask)
    return (value, np.ascontiguousarray(s_map.numpy())) if full else value


def masked_mean(values: torch.Tensor, mask: ArrayLike) -> float:
    """Mean of ``values`` where ``mask`` is true (float64 accumulation; NaN for an empty mask).
    Sums through torch.where: boolean indexing (nonzero + gather) is several times slower."""
    mask_t = _as_tensor(mask, torch.bool)
    if mask_t.shape != values.shape:
        raise ValueError(f"mask shape {tuple(mask_t.shape)} != image shape {tuple(values.shape)}")
    count = int(mask_t.sum())
    if count == 0:
        return float("nan")
    return float(torch.where(mask_t, values, 0).sum(dtype=torch.float64)) / count
