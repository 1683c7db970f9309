"""The 2D U-Net: the paper's parameter count, variants, shapes, init, and that it trains."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from autosynth.architectures import (PAPER_PARAMETER_COUNT, UNet2D, UNetConfig, UNetConfigError,
                                     build_network, count_parameters)

# Smaller than the paper network, same structure, so the functional tests stay fast.
SMALL = dict(features_per_stage=[4, 8, 16], dropout_per_stage=[0.1, 0.2, 0.3])


def test_paper_configuration_has_the_papers_parameter_count():
    assert count_parameters(build_network(UNetConfig.paper())) == PAPER_PARAMETER_COUNT == 1_962_337


def test_variants_differ_as_expected():
    paper = count_parameters(build_network(UNetConfig.paper()))
    transposed = build_network(UNetConfig.paper(upsampling="transposed"))
    # ConvTranspose2d(F[d+1] -> F[d], 2x2) adds 4*F[d+1]*F[d] + F[d] per decoder stage, and the
    # first decoder conv then sees 2*F[d] instead of F[d+1] + F[d] channels: net -21,520.
    assert count_parameters(transposed) == paper - 21_520 == 1_940_817
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in transposed.modules()) == 4
    assert not any(isinstance(m, nn.Upsample) for m in transposed.modules())
    batch = build_network(UNetConfig.paper(norm="batch"))
    norms = [m for m in batch.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 18  # one after each 3x3 conv, none after the 1x1 head
    # gamma and beta per channel of every 3x3 conv: 2 * (2*(16+...+256) + 2*(16+...+128))
    assert count_parameters(batch) == paper + 2 * 1472 == 1_965_281
    assert count_parameters(batch, trainable_only=False) == count_parameters(batch)


def test_config_round_trip_and_validation():
    config = UNetConfig.paper(norm="instance", convs_per_stage=[2, 2, 1, 1, 1])
    assert UNetConfig.from_dict(config.to_dict()) == config
    assert count_parameters(build_network(config.to_dict())) > 0
    for bad in ({"input_channels": 0}, {"upsampling": "bilinear"}, {"norm": "group"},
                {"dropout_per_stage": [0.1]}, {"convs_per_stage": [2, 2]}, {"kernel_size": 2}):
        with pytest.raises(UNetConfigError):
            UNetConfig.paper(**bad)
    with pytest.raises(UNetConfigError):
        UNetConfig.from_dict({"features": [16]})


@pytest.mark.parametrize("overrides", [{}, {"upsampling": "transposed"}, {"norm": "batch"},
                                       {"norm": "instance"}, {"convs_per_stage": 1}])
def test_output_shape_and_tanh_range(overrides):
    torch.manual_seed(0)
    model = UNet2D(UNetConfig(**SMALL, **overrides)).eval()
    x = torch.rand(2, 1, 24, 16)  # images on the [0, 1] scale
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert y.abs().max() < 1 and y.std() > 0


def test_multi_input_channels_and_wrong_shapes():
    model = UNet2D(UNetConfig(input_channels=2, **SMALL)).eval()
    with torch.no_grad():
        assert model(torch.rand(3, 2, 16, 32)).shape == (3, 1, 16, 32)
    with pytest.raises(ValueError, match="multiples of 4"):
        model(torch.rand(1, 2, 18, 16))


def test_channels_last_matches_contiguous():
    torch.manual_seed(0)
    model = UNet2D(UNetConfig(**SMALL)).eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        got = model(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_he_uniform_init_bounds_and_zero_bias():
    torch.manual_seed(0)
    model = build_network(UNetConfig.paper(upsampling="transposed"))
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    for conv in convs:
        fan_in = conv.weight[0].numel() if isinstance(conv, nn.Conv2d) else \
            conv.weight.shape[1] * conv.weight[0, 0].numel()
        bound = math.sqrt(6.0 / fan_in)
        assert conv.weight.abs().max() <= bound
        if conv.weight.numel() > 1000:  # uniform: the extremes approach the bound
            assert conv.weight.abs().max() > 0.95 * bound
        assert torch.count_nonzero(conv.bias) == 0


def test_a_few_adam_steps_lower_the_mse():
    torch.manual_seed(0)
    model = UNet2D(UNetConfig(**SMALL)).train()
    x = torch.rand(4, 1, 16, 16)
    target = 0.5 * x.flip(-1)  # a fixed, learnable mapping inside tanh's range
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        optimiser.zero_grad()
        loss = nn.functional.mse_loss(model(x), target)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
