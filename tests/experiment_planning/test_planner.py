"""Planned numbers: slice axis, patch, network, memory-driven batch size, the paper settings."""
import pytest

from autosynth.experiment_planning.fingerprint import extract_fingerprint
from autosynth.experiment_planning.memory import (activation_mib_per_slice,
                                                  batch_size_for_budget)
from autosynth.experiment_planning.network_topology import (count_parameters,
                                                            number_of_poolings, paper_network)
from autosynth.experiment_planning.planner import plan_2d, plan_2d_paper
from tests.builders import write_tiny_dataset
from tests.experiment_planning.fingerprints import synthetic_fingerprint

CONTRASTS = ["T1", "T2", "FLAIR"]


def test_paper_network_parameter_count_and_memory():
    network = paper_network()
    assert network.features_per_stage == [16, 32, 64, 128, 256]
    assert network.convs_per_stage == [2] * 5
    assert network.dropout_per_stage == [0.1, 0.1, 0.2, 0.2, 0.3]
    assert count_parameters(network) == 1_962_337  # the paper's published count
    assert activation_mib_per_slice((224, 224), network) == pytest.approx(75, rel=0.15)
    assert activation_mib_per_slice((224, 224), network, "bfloat16") == pytest.approx(39, rel=0.15)


def test_2d_paper_configuration_is_the_paper():
    config = plan_2d_paper(synthetic_fingerprint(), CONTRASTS)
    assert config.patch_size == [224, 224] and config.batch_size == 32
    assert config.resize == "stretch" and not config.crop_to_brain
    assert config.network == paper_network() and config.network.final_activation == "tanh"
    assert config.network.upsampling == "nearest" and config.network.norm == "none"
    training = config.training
    assert (training.epochs, training.patience, training.optimizer, training.learning_rate,
            training.loss, training.augmentation) == (120, 20, "adam", 1e-3, "mse", False)
    assert {n.scheme for n in config.normalization.values()} == {"brain_zscore_01"}


def test_2d_patch_and_topology_follow_the_median_brain():
    config = plan_2d(synthetic_fingerprint(), CONTRASTS)
    assert config.slice_axis == 0
    assert config.patch_size == [176, 144]  # 170 x 140 rounded up to multiples of 16
    assert config.network.n_stages == 5  # 140 / 2^4 = 8.75 <= 14
    assert config.network.features_per_stage == [16, 32, 64, 128, 256]
    assert config.normalization["T1"].z_low == -2.1 and config.normalization["T1"].z_high == 3.6


@pytest.mark.parametrize("side, poolings", [(14, 1), (28, 1), (29, 2), (224, 4), (225, 5)])
def test_bottleneck_is_7_to_14_pixels(side, poolings):
    assert number_of_poolings(side) == poolings
    assert 7 < side / 2 ** poolings <= 14 or side <= 14


def test_features_are_capped_at_256():
    config = plan_2d(synthetic_fingerprint(shape_zyx=(155, 600, 600),
                                           cropped_zyx=(140, 500, 500)), CONTRASTS)
    assert config.network.n_stages == 7
    assert config.network.features_per_stage[-2:] == [256, 256]


def test_more_memory_never_lowers_the_batch():
    fingerprint = synthetic_fingerprint()
    batches = [plan_2d(fingerprint, CONTRASTS, memory_gb=g).batch_size
               for g in (0.5, 1, 2, 4, 8, 16, 32, 64)]
    assert batches == sorted(batches)
    assert batches[0] == 2 and batches[-1] == 32 and len(set(batches)) > 2


def test_tiny_budget_gives_batch_two():
    assert plan_2d(synthetic_fingerprint(), CONTRASTS, memory_gb=0.01).batch_size == 2
    assert batch_size_for_budget(80.0, 2_000_000, 0.001, 10_000)[0] == 2


def test_batch_is_at_most_5_percent_of_training_slices():
    config = plan_2d(synthetic_fingerprint(n_cases=2), CONTRASTS, memory_gb=64)
    # 2 cases x 140 slices x 64 % = 179 training slices: 5 % is 8
    assert config.batch_size == 8 and config.memory.batch_cap_from_dataset == 8


def test_anisotropic_spacing_picks_the_coarse_axis(tmp_path):
    # ITK spacing (x, y, z) = (5, 1, 1): the X array axis is the 5 mm one
    raw = write_tiny_dataset(tmp_path / "Dataset001_Aniso", n_cases=2, spacing=(5.0, 1.0, 1.0))
    fingerprint = extract_fingerprint(raw, tmp_path / "pre", progress=False)
    assert fingerprint["anisotropy"] == pytest.approx(5.0)
    config = plan_2d(fingerprint, CONTRASTS)
    assert config.slice_axis == 2 and config.inplane_axes == (0, 1)
    assert plan_2d_paper(fingerprint, CONTRASTS).slice_axis == 0  # the paper slices axially


def test_isotropic_data_is_sliced_axially():
    fingerprint = synthetic_fingerprint(spacing_zyx=(1.0, 1.0, 1.0), axial_axis=1)
    assert plan_2d(fingerprint, CONTRASTS).slice_axis == 1
    fingerprint = synthetic_fingerprint(spacing_zyx=(1.0, 1.0, 5.0), axial_axis=0)
    assert plan_2d(fingerprint, CONTRASTS).slice_axis == 2
