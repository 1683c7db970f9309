"""preprocess_case / restore_to_original / denormalize: layout, exact inversion, round trips."""
import numpy as np
import pytest
from scipy import ndimage

from autosynth.dataset.image_io import Geometry, read_image, write_image
from autosynth.experiment_planning.network_topology import paper_network, unet_for_poolings
from autosynth.experiment_planning.plans import (ConfigurationPlan, NormalizationPlan,
                                                 TrainingPlan)
from autosynth.preprocessing import denormalize, normalize, preprocess_case, restore_to_original
from autosynth.preprocessing.case_preprocessing import PreprocessingError
from tests.builders import LPS_DIRECTION, make_case_arrays

CONTRASTS = ["T1", "T2", "FLAIR"]
GEOMETRY = Geometry((32, 32, 24), (1.0, 1.0, 1.0), (-10.0, 12.5, -3.0), LPS_DIRECTION)


def config(patch=(32, 32), spacing=(1.0, 1.0), resize="spacing", slice_axis=0,
           null_fraction=0.0, scheme="brain_zscore_01", dtype="float32", stages=2):
    norm = NormalizationPlan(scheme, -3.0, 3.0) if scheme == "brain_zscore_01" else \
        NormalizationPlan(scheme, percentile_low=0.5, percentile_high=99.5) \
        if scheme == "percentile_01" else NormalizationPlan("none")
    return ConfigurationPlan(
        data_folder="x", slice_axis=slice_axis, patch_size=list(patch),
        inplane_spacing=list(spacing) if spacing else None, resize=resize,
        crop_to_brain=resize == "spacing", null_slice_fraction=null_fraction,
        storage_dtype=dtype, batch_size=2, normalization={c: norm for c in CONTRASTS},
        network=paper_network() if stages == 5 else unet_for_poolings(stages - 1),
        training=TrainingPlan(1, 1, 1, 1))


@pytest.fixture(scope="module")
def case():
    return make_case_arrays((24, 32, 32), seed=3)


def normalised_reference(images, mask, properties):
    return np.stack([normalize(images[c], mask > 0, properties.normalization[name])
                     for c, name in enumerate(CONTRASTS)])


def test_layout_and_dtypes(case):
    images, mask, labels = case
    data, out_mask, out_labels, props = preprocess_case(images, mask, GEOMETRY, config(),
                                                        CONTRASTS, labels)
    n_kept = int((mask.reshape(24, -1).sum(1) > 0).sum())
    assert data.shape == (3, n_kept, 32, 32) and data.dtype == np.float32
    assert out_mask.shape == out_labels.shape == (n_kept, 32, 32)
    assert out_mask.dtype == out_labels.dtype == np.uint8
    assert props.kept_slices == [int(i) for i in np.flatnonzero(mask.reshape(24, -1).any(1))]
    assert data.min() >= 0 and data.max() <= 1
    assert not data[:, out_mask == 0].any()  # background is 0
    assert set(np.unique(out_labels)) <= {0, 1, 2, 3}


def test_exact_round_trip_without_resampling(case):
    images, mask, labels = case
    data, _, out_labels, props = preprocess_case(images, mask, GEOMETRY, config(), CONTRASTS,
                                                 labels)
    assert props.scale_factors == [1.0, 1.0]
    restored = restore_to_original(data, props)
    assert restored.shape == (3, 24, 32, 32)
    np.testing.assert_allclose(restored, normalised_reference(images, mask, props), atol=1e-6)
    np.testing.assert_array_equal(restore_to_original(out_labels, props, order=0), labels)


def test_round_trip_with_resampling_restores_grid_and_brain(case, tmp_path):
    images, mask, labels = case
    plan = config(patch=(40, 36), spacing=(0.8, 0.8))  # 1.25x up-sampling, then padding
    data, _, out_labels, props = preprocess_case(images, mask, GEOMETRY, plan, CONTRASTS,
                                                 labels)
    assert props.scale_factors[0] == pytest.approx(1.25, abs=0.05)
    assert props.original_geometry == GEOMETRY
    restored = restore_to_original(data, props)
    reference = normalised_reference(images, mask, props)
    inner = ndimage.binary_erosion(mask > 0)
    error = np.abs(restored - reference)[:, inner]
    assert error.mean() < 0.02 and np.percentile(error, 99) < 0.1
    agree = restore_to_original(out_labels, props, order=0) == labels
    assert agree.mean() > 0.98
    write_image(restored[0], props.original_geometry, tmp_path / "restored.nii.gz")
    assert read_image(tmp_path / "restored.nii.gz")[1] == GEOMETRY


def test_dropped_slices_and_outside_crop_are_zero(case):
    images, mask, labels = case
    data, _, _, props = preprocess_case(images, mask, GEOMETRY, config(null_fraction=0.5),
                                        CONTRASTS)
    restored = restore_to_original(np.ones_like(data[0]), props)
    dropped = sorted(set(range(24)) - set(props.kept_slices))
    assert dropped and not restored[dropped].any()
    (a0, a1), (b0, b1) = props.crop_box
    assert not restored[:, :a0].any() and not restored[:, a1:].any()
    assert not restored[:, :, :b0].any() and not restored[:, :, b1:].any()
    _, _, _, keep_all = preprocess_case(images, mask, GEOMETRY, config(null_fraction=0.5),
                                        CONTRASTS, null_slice_fraction=0.0)
    assert len(keep_all.kept_slices) > len(props.kept_slices)


def test_stretch_resizes_whole_slices_to_224(case):
    images, mask, _ = case
    plan = config(patch=(224, 224), spacing=None, resize="stretch", stages=5)
    data, _, _, props = preprocess_case(images, mask, GEOMETRY, plan, CONTRASTS)
    assert data.shape[2:] == (224, 224) and props.crop_box == [[0, 32], [0, 32]]
    assert props.scale_factors == [7.0, 7.0]
    assert restore_to_original(data, props).shape == (3, 24, 32, 32)


def test_slice_axis_is_moved_first(case):
    images, mask, _ = case
    data, _, _, props = preprocess_case(images, mask, GEOMETRY, config(slice_axis=2,
                                                                       patch=(24, 32)),
                                        CONTRASTS)
    assert props.inplane_axes == (0, 1) and data.shape[2:] == (24, 32)
    assert data.shape[1] == len(props.kept_slices) <= 32
    assert restore_to_original(data, props).shape == (3, 24, 32, 32)


@pytest.mark.parametrize("scheme", ["brain_zscore_01", "percentile_01", "none"])
def test_denormalize_inverts_normalisation_inside_the_window(case, scheme):
    images, mask, _ = case
    _, _, _, props = preprocess_case(images, mask, GEOMETRY, config(scheme=scheme), CONTRASTS)
    params = props.normalization["T2"]
    normalised = normalize(images[1], mask > 0, params)
    restored = denormalize(normalised, params, mask > 0)
    inside = (mask > 0) & (normalised > 0) & (normalised < 1) if scheme != "none" else mask > 0
    np.testing.assert_allclose(restored[inside], images[1][inside], rtol=1e-4)
    assert not restored[mask == 0].any()


def test_derived_mask_and_float16(case):
    images, mask, _ = case
    data, out_mask, _, props = preprocess_case(images, None, GEOMETRY, config(dtype="float16"),
                                               CONTRASTS)
    assert props.mask_source == "derived" and data.dtype == np.float16
    assert out_mask.sum() > 0


def test_mismatched_shapes_are_clear_errors(case):
    images, mask, _ = case
    with pytest.raises(PreprocessingError, match="case c7: mask shape"):
        preprocess_case(images, mask[:, :5], GEOMETRY, config(), CONTRASTS, case_id="c7")
    with pytest.raises(PreprocessingError, match="does not match the stored"):
        _, _, _, props = preprocess_case(images, mask, GEOMETRY, config(), CONTRASTS)
        restore_to_original(np.zeros((3, 5, 5)), props)
