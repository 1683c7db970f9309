"""One PNG per case in the form of the paper's Figure 2.

Columns: input (when a source image is given), synthetic, ground truth, difference map
(synthetic - ground truth) and SSIM map; rows: the axial slice with the most brain and, when
the case has tumour labels, the slice with the most tumour. Everything is shown on the
evaluation scale (normalised [0, 1]) in radiological orientation (see ``display.py``).
"""
from __future__ import annotations

import os

import numpy as np

from autosynth.dataset.image_io import Geometry
from autosynth.evaluation.display import display_spacing, original_slice_index, to_display
from autosynth.utils.files import atomic_path
from autosynth.evaluation.ssim import ssim_maps
import matplotlib
import matplotlib.pyplot as plt

MIN_DIFFERENCE_RANGE = 0.05


def chosen_slices(brain: np.ndarray, labels: np.ndarray | None) -> list[tuple[str, int]]:
    """(title, index) along display axis 0: most brain, then most tumour when there is one."""
    out = [("most brain", int(np.argmax(brain.sum(axis=(1, 2)))))]
    if labels is not None and np.any(labels > 0):
        out.append(("most tumour", int(np.argmax((labels > 0).sum(axis=(1, 2))))))
    return out


def _slice_ssim(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:

    try:
        return ssim_maps(pred, ref, 1.0, volume=True, slices=False).volume.numpy()
    except ValueError:  # a slice smaller than the 11-pixel SSIM window
        return np.full(pred.shape, np.nan, np.float32)


def _window(image: np.ndarray, brain: np.ndarray) -> tuple[float, float]:
    values = image[brain] if brain.any() else image.ravel()
    low, high = np.percentile(values, (0.5, 99.5)) if values.size else (0.0, 1.0)
    return float(min(low, 0.0)), float(high if high > low else low + 1.0)


def case_figure(path: str | os.PathLike, case_id: str, geometry: Geometry, prediction: np.ndarray,
                reference: np.ndarray, brain: np.ndarray, labels: np.ndarray | None = None,
                source: np.ndarray | None = None, title: str = "") -> None:
    """Write the figure of one case (arrays on the original (Z, Y, X) grid)."""

    matplotlib.use("Agg")

    view = {name: None if a is None else to_display(a, geometry) for name, a in
            (("pred", prediction), ("ref", reference), ("brain", brain), ("labels", labels),
             ("source", source))}
    _, row_mm, col_mm = display_spacing(geometry)
    rows = chosen_slices(view["brain"], view["labels"])
    columns = (["input"] if source is not None else []) + ["synthetic", "ground truth",
                                                           "difference", "SSIM map"]
    fig, axes = plt.subplots(len(rows), len(columns), squeeze=False, dpi=100,
                             figsize=(2.6 * len(columns), 2.7 * len(rows) + 0.4))
    for r, (row_title, index) in enumerate(rows):
        pred, ref = (np.ascontiguousarray(view[k][index], dtype=np.float32)
                     for k in ("pred", "ref"))
        difference = pred - ref
        limit = max(MIN_DIFFERENCE_RANGE, float(np.abs(difference).max()))
        panels = []
        if source is not None:
            s = view["source"][index]
            panels.append((s, "gray", *_window(s, view["brain"][index])))
        panels += [(pred, "gray", 0.0, 1.0), (ref, "gray", 0.0, 1.0),
                   (difference, "RdBu_r", -limit, limit), (_slice_ssim(pred, ref), "gray", 0, 1)]
        for c, (image, cmap, vmin, vmax) in enumerate(panels):
            axis = axes[r, c]
            shown = axis.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, aspect=row_mm / col_mm,
                                interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(columns[c], fontsize=10)
            if c == 0:
                letter, original = original_slice_index(index, geometry)
                axis.set_ylabel(f"{row_title}\n({letter} = {original})", fontsize=9)
            if columns[c] in ("difference", "SSIM map"):
                fig.colorbar(shown, ax=axis, fraction=0.046, pad=0.02)
    fig.suptitle(title or case_id, fontsize=11)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
