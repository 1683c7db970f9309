"""The U-Net topology that suits a patch: depth, features, convolutions and dropout per stage."""
from __future__ import annotations

import dataclasses
import math

import torch

from autosynth.architectures.config import UNetConfig
from autosynth.architectures.unet2d import build_network
from autosynth.architectures.unet2d import count_parameters as count

BASE_FEATURES = 16
MAX_FEATURES = 256
MAX_BOTTLENECK = 14  # pool until the bottleneck is 7-14 px (the paper: 224 -> 14)
MAX_POOLINGS = 7


def number_of_poolings(shortest_side: float) -> int:
    """Fewest 2x poolings that bring ``shortest_side`` to at most 14 px (hence above 7 px).

    The fewest, so that a 224 px patch gets the paper's four poolings (bottleneck 14, not 7).
    At least one pooling, at most seven.
    """
    if shortest_side <= MAX_BOTTLENECK:
        return 1
    return min(MAX_POOLINGS, math.ceil(math.log2(shortest_side / MAX_BOTTLENECK)))


def dropout_schedule(n_stages: int) -> list[float]:
    """Rates rising from 0.1 to 0.3 in steps of 0.1 (5 stages: 0.1, 0.1, 0.2, 0.2, 0.3)."""
    if n_stages == 1:
        return [0.1]
    return [round(0.1 + 0.1 * math.floor(2 * i / (n_stages - 1)), 2) for i in range(n_stages)]


def unet_for_poolings(n_poolings: int) -> UNetConfig:
    n_stages = n_poolings + 1
    return UNetConfig(
        features_per_stage=[min(BASE_FEATURES * 2 ** i, MAX_FEATURES) for i in range(n_stages)],
        convs_per_stage=[2] * n_stages,
        dropout_per_stage=dropout_schedule(n_stages))


def paper_network() -> UNetConfig:
    """Osman & Tamam 2022: 5 stages, 16-256 features, two 3x3 convs each, tanh output."""
    return unet_for_poolings(4)


def count_parameters(network: UNetConfig, in_channels: int = 1, out_channels: int = 1) -> int:
    """Trainable parameters of the U-Net a plan describes, counted on the network itself
    (1,962,337 for the paper network with one input and one output). Built on the ``meta``
    device: shapes without storage or initialisation, so the 3d_fullres planner's search over
    patches costs milliseconds per network, not the ~1 s of initialising a ResEnc's weights."""
    with torch.device("meta"):
        return count(build_network(dataclasses.replace(network, input_channels=in_channels,
                                                       output_channels=out_channels)))


# The modern network of the 2.5d and 3d_fullres configurations (nnU-Net's ResEnc-M presets):
# widths 32 * 2^i capped at 320, residual blocks per encoder stage 1, 3, 4, 6, 6, 6, ...
MODERN_BASE_FEATURES = 32
MODERN_MAX_FEATURES = 320
RESIDUAL_BLOCKS = (1, 3, 4, 6)


def residual_unet(n_stages: int, dimensions: int,
                  pool_strides: list[list[int]] | None = None,
                  base_features: int = MODERN_BASE_FEATURES,
                  max_features: int = MODERN_MAX_FEATURES) -> UNetConfig:
    """Residual encoder U-Net (instance norm, leaky ReLU, transposed-convolution up-sampling,
    no dropout) with a linear head: tanh cannot reach the top of the intensity range, so the
    output is clamped to [0, 1] at prediction instead."""
    return UNetConfig(
        features_per_stage=[min(base_features * 2 ** i, max_features)
                            for i in range(n_stages)],
        convs_per_stage=[RESIDUAL_BLOCKS[min(i, len(RESIDUAL_BLOCKS) - 1)]
                         for i in range(n_stages)],
        dropout_per_stage=[0.0] * n_stages, dropout_in="both", upsampling="transposed",
        norm="instance", final_activation="identity", dimensions=dimensions,
        block="residual", nonlinearity="leaky_relu", pool_strides=pool_strides)
