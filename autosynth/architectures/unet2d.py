"""Generic 2D U-Net, with the network of Osman & Tamam 2022 as its default configuration.

Decoder design, and why: the paper reports 1,962,337 trainable parameters for one input and one
output channel. A k x k conv from i to o channels has k*k*i*o + o parameters.

Encoder (two 3x3 convs per stage, bottleneck included)::

    1->16: 160 + 2,320      16->32: 4,640 + 9,248     32->64: 18,496 + 36,928
    64->128: 73,856 + 147,584                         128->256: 295,168 + 590,080
    total 1,178,480

Decoder candidates (stage d receives F[d+1] channels from below, F = 16-32-64-128-256):

    a) nearest up-sampling -> concat(F[d+1] + F[d]) -> two 3x3 convs to F[d]
       384->128: 442,496 + 147,584 | 192->64: 110,656 + 36,928 | 96->32: 27,680 + 9,248 |
       48->16: 6,928 + 2,320 | final 1x1 16->1: 17          = 783,857 -> **1,962,337**
    b) up-sampling + 3x3 conv F[d+1]->F[d] before the concat  -> 2,158,417
    c) up-sampling + 2x2 conv F[d+1]->F[d] before the concat  -> 1,940,817
    d) ConvTranspose2d k=2 s=2 F[d+1]->F[d], concat, two convs -> 1,940,817 (the 'transposed'
       ablation; 21,520 fewer than a)
    (a one-conv bottleneck, as one sentence of the paper reads, would give 1,372,257.)

Only a) matches, and it is also what the published Keras code does (UpSampling2D, concatenate,
two Conv2D): 19 convolutions in all, as the paper counts.

The same class builds the paper block in 3D (``dimensions`` 3: 3D convolutions, pooling and
up-sampling, per-axis ``pool_strides``); :func:`build_network` dispatches on ``block``.
"""
from __future__ import annotations

import torch
from torch import nn

from autosynth.architectures.blocks import (CONV, MAX_POOL, ConvStage, check_input, initialize,
                                            make_final_activation, make_upsampler,
                                            upsampled_channels)
from autosynth.architectures.config import UNetConfig, UNetConfigError
from autosynth.architectures.residual_unet import ResidualUNet

PAPER_PARAMETER_COUNT = 1_962_337


class UNet2D(nn.Module):
    """Encoder-decoder with concatenated skips; output has the input's spatial shape."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        if config.block != "paper":
            raise UNetConfigError(f"UNet2D builds block 'paper', got {config.block!r}; use "
                                  "build_network")
        self.config = config
        features, convs, k = config.features_per_stage, config.convs, config.kernel_size
        dims, strides = config.dimensions, config.strides
        self.encoder = nn.ModuleList()
        channels = config.input_channels
        for stage, width in enumerate(features):
            self.encoder.append(ConvStage(channels, width, convs[stage], k, config.norm,
                                          config.encoder_dropout(stage), dims,
                                          config.nonlinearity))
            channels = width
        # one pooling per transition (no parameters): an axis may stop being pooled
        self.pools = nn.ModuleList(MAX_POOL[dims](tuple(s), tuple(s)) for s in strides)
        self.upsamplers = nn.ModuleList()
        self.decoder = nn.ModuleList()
        # decoder stage d (deepest first) goes from features[d + 1] to features[d]
        for stage in reversed(range(config.num_stages - 1)):
            below, width = features[stage + 1], features[stage]
            self.upsamplers.append(make_upsampler(config.upsampling, below, width, dims,
                                                  strides[stage]))
            concat = upsampled_channels(config.upsampling, below, width) + width
            self.decoder.append(ConvStage(concat, width, convs[stage], k, config.norm,
                                          config.decoder_dropout(stage), dims,
                                          config.nonlinearity))
        self.head = CONV[dims](features[0], config.output_channels, kernel_size=1)
        self.final_activation = make_final_activation(config.final_activation)
        initialize(self, config.initialization)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.config.dimensions, self.config.shape_divisors)
        skips: list[torch.Tensor] = []
        for stage, block in enumerate(self.encoder):
            if stage:
                x = self.pools[stage - 1](x)
            x = block(x)
            skips.append(x)
        skips.pop()  # the bottleneck output is not a skip
        for upsample, block in zip(self.upsamplers, self.decoder):
            x = block(torch.cat([upsample(x), skips.pop()], dim=1))
        return self.final_activation(self.head(x))


def build_network(config: UNetConfig | dict) -> nn.Module:
    """The network a plan describes (a dict is read with :meth:`UNetConfig.from_dict`):
    the paper block (this module, 2D or 3D) or the residual one (``residual_unet``)."""
    if isinstance(config, dict):
        config = UNetConfig.from_dict(config)
    return ResidualUNet(config) if config.block == "residual" else UNet2D(config)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; buffers such as running stats are not counted."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
