"""Dice and HD95 against hand-computed values, empty masks by the BraTS convention."""
import math

import numpy as np
import pytest

from autosynth.evaluation.overlap import (dice, empty_penalty, hd95, overlap_metrics,
                                          regions_of)


def line(length: int, shape=(1, 1, 8)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[0, 0, :length] = True
    return mask


def test_dice_by_hand():
    # |A| = 4, |B| = 2, |A and B| = 2: 2 * 2 / 6
    assert dice(line(4), line(2)) == pytest.approx(2 / 3)
    assert dice(line(3), line(3)) == 1.0
    assert dice(line(0), line(0)) == 1.0          # both empty: the challenge's 1
    assert dice(line(3), line(0)) == 0.0


def test_hd95_by_hand_line():
    # reference x = 0..3, prediction x = 0..1; a line has no interior, so every voxel is
    # surface. prediction -> reference: 0, 0; reference -> prediction: 0, 0, 1, 2 (voxels).
    # pooled [0, 0, 0, 0, 1, 2]: 95th percentile (linear) at rank 4.75 -> 1 + 0.75 = 1.75
    assert hd95(line(4), line(2)) == pytest.approx(1.75)
    # with 2 mm voxels along x every distance doubles
    assert hd95(line(4), line(2), (1.0, 1.0, 2.0)) == pytest.approx(3.5)


def test_hd95_shifted_voxel_and_interior():
    a = np.zeros((5, 5, 9), bool)
    b = np.zeros_like(a)
    a[2, 2, 1] = True
    b[2, 2, 4] = True
    assert hd95(a, b, (1.0, 1.0, 2.0)) == pytest.approx(6.0)   # 3 voxels of 2 mm
    cube = np.zeros((7, 7, 7), bool)
    cube[1:6, 1:6, 1:6] = True                 # 5^3 cube: its centre is interior, not surface
    assert hd95(cube, cube) == 0.0


def test_empty_masks_brats_convention():
    empty = np.zeros((4, 5, 6), bool)
    some = empty.copy()
    some[1, 1, 1] = True
    assert hd95(empty, empty) == 0.0
    diagonal = math.sqrt(4 ** 2 + (5 * 2) ** 2 + 6 ** 2)
    assert hd95(some, empty, (1.0, 2.0, 1.0)) == pytest.approx(diagonal)
    assert hd95(empty, some, (1.0, 2.0, 1.0)) == pytest.approx(diagonal)
    # the BraTS grid gives the challenge's constant
    assert empty_penalty((155, 240, 240), (1.0, 1.0, 1.0)) == pytest.approx(373.13, abs=0.005)


def test_regions_and_metrics():
    assert regions_of([0, 1, 2, 3]) == {"whole tumour": (1, 2, 3), "tumour core": (1, 3),
                                        "enhancing tumour": (3,)}
    assert regions_of([0, 2]) == {"whole tumour": (2,)}
    reference = np.zeros((1, 1, 8), np.uint8)
    reference[0, 0, :4] = [1, 2, 2, 3]
    prediction = np.zeros_like(reference)
    prediction[0, 0, :2] = [2, 2]               # whole tumour x = 0..1; no core, no enhancing
    metrics = overlap_metrics(reference, prediction, (1.0, 1.0, 1.0), regions_of([1, 2, 3]))
    assert metrics["dice_wt"] == pytest.approx(2 / 3)
    assert metrics["hd95_wt"] == pytest.approx(1.75)
    assert metrics["dice_tc"] == 0.0 and metrics["dice_et"] == 0.0
    assert metrics["hd95_et"] == pytest.approx(math.sqrt(1 + 1 + 64))
