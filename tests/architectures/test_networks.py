"""The network family: paper and residual blocks in 2D and 3D, per-axis strides, and configs
that are refused with the field named."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from autosynth.architectures import UNetConfig, UNetConfigError, build_network, count_parameters
from autosynth.architectures.config import resenc_blocks
from autosynth.architectures.residual_unet import BasicResidualBlock, ResidualUNet
from autosynth.architectures.unet2d import UNet2D

FEATURES = [4, 8, 16]


def paper(dimensions: int, **overrides) -> UNetConfig:
    return UNetConfig(features_per_stage=FEATURES, dropout_per_stage=[0.1, 0.2, 0.3],
                      dimensions=dimensions, **overrides)


def residual(dimensions: int, **overrides) -> UNetConfig:
    return UNetConfig.residual(FEATURES, dimensions, **overrides)


@pytest.mark.parametrize("make, dimensions, cls", [
    (paper, 2, UNet2D), (paper, 3, UNet2D), (residual, 2, ResidualUNet), (residual, 3, ResidualUNet)])
def test_every_block_and_dimension_keeps_the_spatial_shape(make, dimensions, cls):
    torch.manual_seed(0)
    config = make(dimensions, input_channels=2, output_channels=3)
    model = build_network(config)
    assert type(model) is cls
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))]
    assert all(c.weight.ndim == dimensions + 2 for c in convs)
    shape = (8, 12, 16)[-dimensions:]
    x = torch.rand(2, 2, *shape)
    y = model(x)
    assert y.shape == (2, 3, *shape)
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("make", [paper, residual])
def test_anisotropic_strides_and_odd_unpooled_axis(make):
    # axis 0 is pooled only in the second transition, axis 2 never: D must be even, W may be odd
    strides = [[1, 2, 1], [2, 2, 1]]
    config = make(3, pool_strides=strides)
    assert config.shape_divisors == (2, 4, 1)
    model = build_network(config).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 1, 6, 12, 7)).shape == (1, 1, 6, 12, 7)
    with pytest.raises(ValueError, match=r"multiples of \[2, 4, 1\]"):
        model(torch.rand(1, 1, 5, 12, 7))
    with pytest.raises(UNetConfigError, match="shape_divisors"):
        config.shape_divisor  # not one number for all axes
    assert config.stage_shape((6, 12, 7), 2) == (3, 3, 7)


def test_residual_network_structure_follows_resenc():
    config = residual(2)
    assert config.convs == resenc_blocks(3) == [1, 3, 4]
    model = build_network(config)
    blocks = [[b for b in stage if isinstance(b, BasicResidualBlock)] for stage in model.encoder]
    assert [len(b) for b in blocks] == [1, 3, 4]
    # downsampling by the strided first conv of a stage's first block, with a 1x1 projection
    first = blocks[1][0]
    assert first.conv1[0].stride == (2, 2) and isinstance(first.shortcut, nn.Sequential)
    assert isinstance(blocks[1][1].shortcut, nn.Identity)
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in model.modules()) > 0
    assert any(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.01 for m in model.modules())
    assert not any(isinstance(m, (nn.MaxPool2d, nn.ReLU, nn.Dropout)) for m in model.modules())
    assert isinstance(model.final_activation, nn.Identity)  # linear head: can reach 1.0


def test_residual_network_is_not_pointwise():
    """The residual net mixes neighbours (its output at a voxel depends on others)."""
    torch.manual_seed(0)
    model = build_network(residual(2)).eval()
    x = torch.rand(1, 1, 16, 16)
    bumped = x.clone()
    bumped[0, 0, 3, 3] += 1
    with torch.no_grad():
        changed = (model(bumped) - model(x)).abs()[0, 0] > 1e-6
    assert changed[3, 4] and changed[4, 3] and changed.sum() > 9


def test_he_normal_init_for_the_residual_block():
    torch.manual_seed(0)
    model = build_network(UNetConfig.residual([32, 64], 3))
    conv = model.encoder[1][1].conv2  # 64 -> 64, 3x3x3
    fan_in = 64 * 27
    expected = (2 / (1 + 0.01 ** 2) / fan_in) ** 0.5
    assert conv.weight.std().item() == pytest.approx(expected, rel=0.05)
    assert torch.count_nonzero(conv.bias) == 0


@pytest.mark.parametrize("overrides, field", [
    ({"dimensions": 4}, "dimensions"), ({"block": "dense"}, "block"),
    ({"nonlinearity": "gelu"}, "nonlinearity"), ({"initialization": "xavier"}, "initialization"),
    ({"pool_strides": [[2, 2]]}, "pool_strides"),                       # one per transition
    ({"pool_strides": [[2, 2], [2, 3]]}, "pool_strides"),               # strides are 1 or 2
    ({"pool_strides": [[2, 2, 2], [2, 2, 2]]}, "pool_strides"),         # 2D: two per entry
    ({"pool_strides": [[2, 2], [2.0, 2]]}, "pool_strides"),
    ({"block": "residual"}, "upsampling"),                              # nearest is paper-only
    ({"block": "residual", "upsampling": "transposed"}, "dropout_per_stage"),
])
def test_bad_configs_are_refused_with_the_field_named(overrides, field):
    values = {"dimensions": 2, **overrides}
    with pytest.raises(UNetConfigError, match=field):
        paper(values.pop("dimensions"), **values)


def test_new_fields_round_trip_and_old_descriptions_keep_their_meaning():
    config = residual(3, pool_strides=[[1, 2, 2], [2, 2, 2]])
    assert UNetConfig.from_dict(config.to_dict()) == config
    assert UNetConfig.from_plan_dict(config.to_plan_dict()) == config
    assert config.to_plan_dict()["pool_strides"] == [[1, 2, 2], [2, 2, 2]]
    # a plan or checkpoint written before these fields existed: the paper block, 2x2 pooling
    old = UNetConfig.paper().to_dict()
    for name in ("block", "pool_strides"):
        old.pop(name)
    restored = UNetConfig.from_dict(old)
    assert restored == UNetConfig.paper() and restored.block == "paper"
    assert restored.shape_divisor == 16 and restored.shape_divisors == (16, 16)
    torch.manual_seed(0)
    a = build_network(restored)
    torch.manual_seed(0)
    b = build_network(UNetConfig.paper())
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
