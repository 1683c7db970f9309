"""A picture of the cohort to look at: a few subjects x (T1, T2, FLAIR, labels on FLAIR).

Each row shows one subject at the axial slice where its lesion is largest (the middle of the
brain when it has none), read back from the written files, so the picture shows what is on
disk. Slices are in radiological convention (patient's right on the left, anterior up), each
contrast windowed from the 0.5th to the 99.5th percentile of its brain voxels, as a viewer's
auto-window does: a window from 0 spends the grey levels below CSF on nothing and flattens the
grey/white contrast of T1 (where CSF is about half as bright as white matter).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the non-interactive backend)
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from autosynth.dataset.image_io import read_image  # noqa: E402
from autosynth.utils.files import atomic_path, read_json  # noqa: E402
from dataset_conversion.simulated_brats.signal import CONTRASTS  # noqa: E402
from dataset_conversion.simulated_brats.subject import case_files, parameters_file  # noqa: E402

WINDOW_PERCENTILES = (0.5, 99.5)
LABEL_COLOURS = {1: ("necrosis", "#e41a1c"), 2: ("oedema", "#4daf4a"),
                 3: ("enhancing", "#ffd92f")}


def _axial(volume: np.ndarray, z: int) -> np.ndarray:
    """Axial slice ``z`` of an LPS (Z, Y, X) array, anterior up, patient's right on the left."""
    return volume[z, ::-1, ::-1]


def display_window(image: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(low, high) grey levels: ``WINDOW_PERCENTILES`` of the image inside the brain mask."""
    low, high = np.percentile(image[mask > 0], WINDOW_PERCENTILES)
    return float(low), float(max(high, low + 1e-6))


def _sequence_name(folder: Path, case: str, contrast: str) -> str:
    """``"T1 MPRAGE"`` / ``"T1 SE"`` from the case's parameters file; the contrast otherwise."""
    if contrast != "T1":
        return contrast
    kind = read_json(parameters_file(folder, case))["protocol"]["T1"].get("kind", "spin echo")
    return "T1 SE" if kind == "spin echo" else f"T1 {kind}"


def _pick_slice(labels: np.ndarray, mask: np.ndarray) -> int:
    area = (labels > 0).sum(axis=(1, 2))
    if area.max() > 0:
        return int(np.argmax(area))
    z = np.flatnonzero(mask.any(axis=(1, 2)))
    return int(z[len(z) * 3 // 5])


def _choose_cases(folder: Path, cases: list[str], rows: int) -> list[tuple[str, list]]:
    """Up to ``rows`` cases, those with a lesion first, with their arrays."""
    chosen, spare = [], []
    for case in cases:
        arrays = [read_image(p)[0] for p in case_files(folder, case)]
        (chosen if arrays[-1].any() else spare).append((case, arrays))
        if len(chosen) == rows:
            break
    return (chosen + spare)[:rows]


def write_montage(folder: Path, cases: list[str], path: Path, rows: int = 4,
                  dpi: int = 80) -> Path:
    """Write the montage PNG of the first ``rows`` cases of ``folder`` (lesions preferred)."""
    picked = _choose_cases(folder, cases, rows)
    colours = ListedColormap(["none"] + [c for _, c in LABEL_COLOURS.values()])
    fig, axes = plt.subplots(len(picked), 4, figsize=(8, 2.2 * len(picked) + 0.4),
                             squeeze=False, facecolor="black")
    for row, (case, arrays) in zip(axes, picked):
        *images, mask, labels = arrays
        z = _pick_slice(labels, mask)
        for ax, contrast, image in zip(row, CONTRASTS, images):
            low, high = display_window(image, mask)
            ax.imshow(_axial(image, z), cmap="gray", vmin=low, vmax=high, interpolation="none")
            ax.set_title(f"{case} {_sequence_name(folder, case, contrast)}", color="white",
                         fontsize=8)
        flair = images[CONTRASTS.index("FLAIR")]
        low, high = display_window(flair, mask)
        row[3].imshow(_axial(flair, z), cmap="gray", vmin=low, vmax=high, interpolation="none")
        row[3].imshow(np.ma.masked_equal(_axial(labels, z), 0), cmap=colours, vmin=0, vmax=3,
                      alpha=0.6, interpolation="none")
        row[3].set_title("labels on FLAIR", color="white", fontsize=8)
        for ax in row:
            ax.axis("off")
    fig.legend(handles=[Patch(color=c, label=f"{k} {n}") for k, (n, c) in LABEL_COLOURS.items()],
               loc="lower center", ncol=3, fontsize=8, frameon=False, labelcolor="white")
    fig.suptitle("Simulated demo cohort (MNI ICBM152 anatomy, simulated MR physics)",
                 color="white", fontsize=9)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, facecolor="black", format="png")
    plt.close(fig)
    return path
