"""The activation-memory estimate equals what autograd saves, across configurations."""
from __future__ import annotations

import pytest
import torch

from autosynth.architectures import (UNetConfig, build_network, estimate_activation_memory,
                                     measure_saved_bytes)

SMALL = dict(features_per_stage=[4, 8, 16], dropout_per_stage=[0.1, 0.0, 0.3])


@pytest.mark.parametrize("overrides", [
    {}, {"upsampling": "transposed"}, {"norm": "batch"}, {"convs_per_stage": 1},
    {"convs_per_stage": [1, 2, 1], "upsampling": "transposed"}, {"final_activation": "identity"},
    {"dropout_in": "encoder"}, {"input_channels": 3, "dropout_in": "decoder"},
])
@pytest.mark.parametrize("training", [True, False])
def test_estimate_equals_saved_tensor_bytes_on_cpu(overrides, training):
    config = UNetConfig(**SMALL, **overrides)
    model = build_network(config).train(training)
    x = torch.rand(2, config.input_channels, 16, 24)
    measured = measure_saved_bytes(model, x)
    estimated = estimate_activation_memory(config, 16, 24, batch_size=2, training=training)
    # norm layers also keep per-channel mean / inverse std: a few hundred bytes
    slack = 0 if config.norm == "none" else 1024
    assert abs(estimated.bytes(torch.float32, "cpu") - measured) <= slack


def test_paper_network_per_slice_figures():
    estimate = estimate_activation_memory(UNetConfig.paper(), 224, 224)
    # measured on CPU with measure_saved_bytes: 68.62 MiB fp32, 35.75 MiB bf16 (see benchmarks/)
    assert estimate.mib(torch.float32, "cpu") == pytest.approx(68.619, abs=1e-3)
    assert estimate.mib(torch.bfloat16, "cpu") == pytest.approx(35.745, abs=1e-3)
    assert estimate.mib(torch.float32, "cuda") < estimate.mib(torch.float32, "cpu")
    assert estimate_activation_memory(UNetConfig.paper(), 224, 224, batch_size=32).bytes() == \
        32 * estimate.bytes()
