"""The memory estimate for 3D patches and the residual block: exactly what autograd keeps, and
the training step of batch 2 within 25 % of the CPU allocator's measured peak."""
from __future__ import annotations

import pytest
import torch

from autosynth.architectures import (UNetConfig, build_network, count_parameters,
                                     estimate_activation_memory, measure_saved_bytes)
from autosynth.architectures.memory import MIB
from autosynth.architectures.memory_measurement import measure_step_peak_bytes
from autosynth.experiment_planning.memory import activation_mib_per_sample, activation_mib_per_slice


@pytest.mark.parametrize("config, shape", [
    (UNetConfig.residual([4, 8, 16], 2), (16, 24)),
    (UNetConfig.residual([4, 8, 16], 3), (8, 16, 12)),
    (UNetConfig.residual([4, 8, 16], 3, pool_strides=[[1, 2, 2], [2, 2, 1]]), (4, 16, 6)),
    (UNetConfig.residual([4, 8, 16], 2, norm="batch", final_activation="tanh"), (16, 16)),
    (UNetConfig.residual([4, 8, 16], 2, norm="none", convs_per_stage=[2, 1, 3]), (16, 16)),
    (UNetConfig(features_per_stage=[4, 8, 16], dropout_per_stage=[0.1, 0, 0.3], dimensions=3),
     (8, 8, 16)),
    (UNetConfig(features_per_stage=[4, 8, 16], dropout_per_stage=[0.1, 0, 0.3], dimensions=3,
                pool_strides=[[1, 2, 2], [2, 2, 2]], upsampling="transposed"), (4, 8, 16)),
])
def test_estimate_equals_saved_tensor_bytes(config, shape):
    torch.manual_seed(0)
    model = build_network(config).train()
    x = torch.rand(2, 1, *shape)
    estimated = estimate_activation_memory(config, *shape, batch_size=2)
    assert estimated.bytes(torch.float32, "cpu") == measure_saved_bytes(model, x)


@pytest.mark.parametrize("patch", [(16, 16, 16), (16, 32, 24), (32, 16, 16)])
def test_training_step_of_batch_2_within_25_percent_of_the_allocator_peak(patch):
    """Estimate: 2 samples + the weights' gradients (benchmarks/memory_3d.py, full sizes)."""
    torch.manual_seed(0)
    config = UNetConfig.residual([8, 16, 32], 3)
    model = build_network(config).train()
    estimate = 2 * activation_mib_per_sample(patch, config) + 4 * count_parameters(model) / MIB
    measured = measure_step_peak_bytes(model, torch.rand(2, 1, *patch)) / MIB
    assert 0.75 <= estimate / measured <= 1.25, (estimate, measured)


def test_the_2d_name_and_figures_are_unchanged():
    assert activation_mib_per_slice is activation_mib_per_sample
    # the paper network at 224x224: kept 68.62 MiB + the largest gradient pair, as before
    assert activation_mib_per_sample((224, 224), UNetConfig.paper()) == pytest.approx(
        80.869, abs=1e-3)


def test_a_patch_the_strides_cannot_divide_is_refused():
    config = UNetConfig.residual([4, 8], 3, pool_strides=[[1, 2, 2]])
    with pytest.raises(ValueError, match=r"multiples of \[1, 2, 2\]"):
        estimate_activation_memory(config, 5, 6, 7)
