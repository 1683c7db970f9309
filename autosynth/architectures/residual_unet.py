"""nnU-Net's residual-encoder U-Net (the ResEnc presets), in 2D or 3D.

The SynthRAD 2025 winner trained this network (3D) for image-to-image synthesis. Layout, after
nnU-Net's ``ResidualEncoderUNet`` (dynamic_network_architectures):

- stem: conv -> norm -> nonlinearity to ``features[0]``;
- encoder stage ``d``: ``convs[d]`` basic residual blocks; the first block of stage ``d > 0``
  downsamples by the stride of its first conv (``pool_strides[d - 1]``), and its shortcut is a
  strided 1x1 conv -> norm (identity where the shape does not change);
- decoder stage ``d`` (deepest first): transposed conv (kernel = stride) from ``features[d + 1]``
  to ``features[d]``, concatenation with the encoder's stage-``d`` output, one
  conv -> norm -> nonlinearity;
- head: 1x1 conv and the final activation (identity for a linear head).

Every nonlinearity works in place, and the shortcut is added in place onto the second norm's
output (which nothing keeps for backward): :mod:`autosynth.architectures.memory` counts what
autograd keeps on that basis.
"""
from __future__ import annotations

import torch
from torch import nn

from autosynth.architectures.blocks import (CONV, TRANSPOSED_CONV, check_input, initialize,
                                            make_final_activation, make_nonlinearity, make_norm)
from autosynth.architectures.config import UNetConfig


class ConvNormAct(nn.Sequential):
    """conv (zero 'same' padding, optional stride) -> norm -> nonlinearity."""

    def __init__(self, in_channels: int, out_channels: int, config: UNetConfig,
                 stride: int | tuple[int, ...] = 1) -> None:
        k = config.kernel_size
        super().__init__(CONV[config.dimensions](in_channels, out_channels, k, stride=stride,
                                                 padding=k // 2),
                         make_norm(config.norm, out_channels, config.dimensions),
                         make_nonlinearity(config.nonlinearity))


class BasicResidualBlock(nn.Module):
    """conv -> norm -> act -> conv -> norm, plus the shortcut, then act (ResNet's basic block)."""

    def __init__(self, in_channels: int, out_channels: int, config: UNetConfig,
                 stride: tuple[int, ...]) -> None:
        super().__init__()
        k, dims = config.kernel_size, config.dimensions
        self.conv1 = ConvNormAct(in_channels, out_channels, config, stride)
        self.conv2 = CONV[dims](out_channels, out_channels, k, padding=k // 2)
        self.norm2 = make_norm(config.norm, out_channels, dims)
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels or any(s != 1 for s in stride):
            self.shortcut = nn.Sequential(
                CONV[dims](in_channels, out_channels, 1, stride=stride, bias=False),
                make_norm(config.norm, out_channels, dims))
        self.act = make_nonlinearity(config.nonlinearity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.norm2(self.conv2(self.conv1(x)))
        return self.act(residual.add_(self.shortcut(x)))


class ResidualUNet(nn.Module):
    """Residual encoder, plain decoder, concatenated skips; output has the input's shape."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        if config.block != "residual":
            raise ValueError(f"ResidualUNet builds block 'residual', got {config.block!r}")
        self.config = config
        features, dims, strides = config.features_per_stage, config.dimensions, config.strides
        self.stem = ConvNormAct(config.input_channels, features[0], config)
        self.encoder = nn.ModuleList()
        channels = features[0]
        for stage, width in enumerate(features):
            blocks = []
            for index in range(config.convs[stage]):
                stride = tuple(strides[stage - 1]) if stage and not index else (1,) * dims
                blocks.append(BasicResidualBlock(channels, width, config, stride))
                channels = width
            self.encoder.append(nn.Sequential(*blocks))
        self.upsamplers = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for stage in reversed(range(config.num_stages - 1)):
            below, width, step = features[stage + 1], features[stage], tuple(strides[stage])
            self.upsamplers.append(TRANSPOSED_CONV[dims](below, width, kernel_size=step,
                                                         stride=step))
            self.decoder.append(ConvNormAct(2 * width, width, config))
        self.head = CONV[dims](features[0], config.output_channels, kernel_size=1)
        self.final_activation = make_final_activation(config.final_activation)
        initialize(self, config.initialization)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.config.dimensions, self.config.shape_divisors)
        x = self.stem(x)
        skips: list[torch.Tensor] = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        skips.pop()  # the bottleneck output is not a skip
        for upsample, block in zip(self.upsamplers, self.decoder):
            x = block(torch.cat([upsample(x), skips.pop()], dim=1))
        return self.final_activation(self.head(x))
