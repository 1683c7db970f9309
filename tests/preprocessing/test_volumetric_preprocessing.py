"""3D patches: slices resampled to the plan's slice spacing, padded to the patch depth, and put
back exactly; 2.5D and 3D keep one unbroken run of slices."""
import dataclasses

import numpy as np

from autosynth.dataset.image_io import Geometry
from autosynth.experiment_planning.network_topology import residual_unet
from autosynth.preprocessing import preprocess_case, restore_to_original
from tests.builders import LPS_DIRECTION, make_case_arrays
from tests.preprocessing.test_case_preprocessing import CONTRASTS, config


def config_3d(patch=(16, 32, 32), slice_spacing=1.0):
    return dataclasses.replace(config(patch=patch[1:]), patch_size=list(patch),
                               slice_spacing=slice_spacing,
                               network=residual_unet(2, dimensions=3))


def test_3d_slices_resampled_padded_and_restored_exactly():
    # 2 mm slices (LPS: ITK spacing x, y, z), planned at 1 mm: twice the slices
    geometry = Geometry((32, 32, 12), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), LPS_DIRECTION)
    images, mask, labels = make_case_arrays((12, 32, 32), seed=5)
    data, out_mask, out_labels, props = preprocess_case(
        images, mask, geometry, config_3d(patch=(32, 32, 32), slice_spacing=1.0), CONTRASTS,
        labels)
    kept = len(props.kept_slices)
    resampling = props.slice_resampling
    assert resampling["resampled_slices"] == 2 * kept and resampling["stored_slices"] == 32
    assert data.shape[1] == out_mask.shape[0] == 32
    pad = resampling["pad_before"]
    assert not out_mask[:pad].any() and not out_mask[pad + 2 * kept:].any()
    # nearest sampling at a factor of 2 goes there and back exactly
    np.testing.assert_array_equal(restore_to_original(out_labels, props, order=0), labels)
    np.testing.assert_array_equal(restore_to_original(out_mask, props, order=0) > 0.5, mask > 0)
    restored = restore_to_original(data, props, order=3)
    assert restored.shape == (3, 12, 32, 32)


def test_3d_at_the_acquired_spacing_is_exact():
    geometry = Geometry((32, 32, 24), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), LPS_DIRECTION)
    images, mask, labels = make_case_arrays((24, 32, 32), seed=6)
    data, _, _, props = preprocess_case(images, mask, geometry, config_3d(), CONTRASTS, labels)
    first = restore_to_original(data, props)
    again = restore_to_original(preprocess_case(first, mask, geometry, dataclasses.replace(
        config_3d(), normalization={c: dataclasses.replace(
            config_3d().normalization[c], scheme="none") for c in CONTRASTS}), CONTRASTS)[0],
        props)
    np.testing.assert_allclose(again, first, atol=1e-6)


def test_contiguous_runs_for_neighbour_configurations():
    geometry = Geometry((32, 32, 24), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), LPS_DIRECTION)
    images, mask, labels = make_case_arrays((24, 32, 32), seed=7)
    mask = mask.copy()
    mask[12] = 0                                         # a slice without brain in the middle
    images = images * mask
    slicewise = preprocess_case(images, mask, geometry, config(), CONTRASTS)[3]
    neighbours = preprocess_case(images, mask, geometry, dataclasses.replace(
        config(), context_slices=3), CONTRASTS)[3]
    assert 12 not in slicewise.kept_slices
    assert neighbours.kept_slices == list(range(neighbours.kept_slices[0],
                                                neighbours.kept_slices[-1] + 1))
