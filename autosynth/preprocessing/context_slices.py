"""2.5D input: each source contributes ``k`` neighbouring slices as channels.

One rule for training and prediction: channel ``c * k + j`` of the network's input is source
``c`` at slice offset ``j - k // 2`` from the target slice (source-major, offsets ascending);
slices beyond the stored run are zeros, as background is.
"""
from __future__ import annotations

import numpy as np


def neighbour_block(data: np.ndarray, channels: list[int], centre: int, k: int,
                    rows: slice, cols: slice) -> np.ndarray:
    """``(len(channels), k, h, w)`` float32: the ``k`` slices from ``centre - k // 2`` on of
    the stored ``(C, S, H, W)`` array (for odd k, centred), zeros where they fall outside."""
    count = data.shape[1]
    first = centre - k // 2
    last = first + k
    inside = slice(max(first, 0), min(last, count))
    block = np.asarray(data[channels, inside, rows, cols], dtype=np.float32)
    if block.shape[1] == k:
        return block
    out = np.zeros((block.shape[0], k, *block.shape[2:]), dtype=np.float32)
    out[:, inside.start - first:inside.start - first + block.shape[1]] = block
    return out


def as_channels(block: np.ndarray) -> np.ndarray:
    """``(C, k, ...)`` -> ``(C * k, ...)`` in the channel order of this module."""
    return block.reshape(block.shape[0] * block.shape[1], *block.shape[2:])


def stack_neighbours(data: np.ndarray, k: int) -> np.ndarray:
    """A whole stored case ``(C, S, H, W)`` -> ``(C * k, S, H, W)``: slice ``s`` of channel
    ``c * k + j`` is slice ``s + j - k // 2`` of source ``c`` (zeros beyond the ends)."""
    if k == 1:
        return np.asarray(data, dtype=np.float32)
    channels, count = data.shape[:2]
    out = np.zeros((channels, k, *data.shape[1:]), dtype=np.float32)
    for j in range(k):
        offset = j - k // 2
        lo, hi = max(0, -offset), min(count, count - offset)
        out[:, j, lo:hi] = data[:, lo + offset:hi + offset]
    return as_channels(out)
