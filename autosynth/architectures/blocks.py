"""Building blocks of the 2D U-Net: a stage of convolutions, the up-sampler, the init.

Order inside a stage, per convolution: conv (zero 'same' padding) -> norm (optional) -> ReLU,
with dropout after the first ReLU only, as in the paper (section 2.3).
"""
from __future__ import annotations

import torch
from torch import nn


def make_norm(kind: str, channels: int) -> nn.Module:
    """Normalisation after a convolution; 'none' keeps the paper network (no norm)."""
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        # affine=True so that it is trainable like batch norm (nnU-Net's choice too)
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown norm {kind!r}")


class ConvStage(nn.Sequential):
    """`num_convs` x (conv k x k -> norm -> ReLU), dropout after the first ReLU."""

    def __init__(self, in_channels: int, out_channels: int, num_convs: int, kernel_size: int,
                 norm: str, dropout: float) -> None:
        layers: list[nn.Module] = []
        channels = in_channels
        for index in range(num_convs):
            layers.append(nn.Conv2d(channels, out_channels, kernel_size, padding=kernel_size // 2))
            if norm != "none":
                layers.append(make_norm(norm, out_channels))
            # in place: the conv does not need its output for backward, so this saves a buffer
            layers.append(nn.ReLU(inplace=True))
            if index == 0 and dropout > 0:
                layers.append(nn.Dropout(dropout))
            channels = out_channels
        super().__init__(*layers)


def make_upsampler(mode: str, in_channels: int, out_channels: int) -> nn.Module:
    """x2 up-sampling. 'nearest' keeps the channels (the paper, parameter-free);
    'transposed' is the paper's ablation: ConvTranspose2d k=2 s=2 halving the features."""
    if mode == "nearest":
        return nn.Upsample(scale_factor=2, mode="nearest")
    if mode == "transposed":
        return nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
    raise ValueError(f"unknown upsampling {mode!r}")


def upsampled_channels(mode: str, in_channels: int, out_channels: int) -> int:
    """Channels coming out of :func:`make_upsampler`."""
    return in_channels if mode == "nearest" else out_channels


def make_final_activation(kind: str) -> nn.Module:
    return {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity}[kind]()


@torch.no_grad()
def he_uniform_init(module: nn.Module) -> None:
    """Keras `he_uniform` kernels and zero biases for every (transposed) convolution.

    kaiming_uniform_(nonlinearity='relu') draws from U(-sqrt(6 / fan_in), +sqrt(6 / fan_in)),
    fan_in = in_channels * k * k, which is Keras' he_uniform. For ConvTranspose2d torch and Keras
    both take fan_in = out_channels * k * k from the kernel layout, so they agree there too.
    Norm layers keep weight 1, bias 0 (their defaults in both frameworks).
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_uniform_(layer.weight, a=0.0, mode="fan_in", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
