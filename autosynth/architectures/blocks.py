"""Building blocks of the U-Nets, in 2D or 3D: a stage of convolutions, the up-sampler, the init.

Order inside a stage, per convolution: conv (zero 'same' padding) -> norm (optional) -> ReLU,
with dropout after the first ReLU only, as in the paper (section 2.3).
"""
from __future__ import annotations

import torch
from torch import nn

from autosynth.architectures.config import LEAKY_RELU_SLOPE

CONV = {2: nn.Conv2d, 3: nn.Conv3d}
TRANSPOSED_CONV = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
MAX_POOL = {2: nn.MaxPool2d, 3: nn.MaxPool3d}
BATCH_NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
INSTANCE_NORM = {2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}
CONV_TYPES = (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def make_norm(kind: str, channels: int, dimensions: int = 2) -> nn.Module:
    """Normalisation after a convolution; 'none' keeps the paper network (no norm)."""
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return BATCH_NORM[dimensions](channels)
    if kind == "instance":
        # affine=True so that it is trainable like batch norm (nnU-Net's choice too)
        return INSTANCE_NORM[dimensions](channels, affine=True)
    raise ValueError(f"unknown norm {kind!r}")


def make_nonlinearity(kind: str) -> nn.Module:
    """In place: no convolution or norm needs its output for backward, so this saves a buffer."""
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "leaky_relu":
        return nn.LeakyReLU(LEAKY_RELU_SLOPE, inplace=True)
    raise ValueError(f"unknown nonlinearity {kind!r}")


class ConvStage(nn.Sequential):
    """`num_convs` x (conv k x k -> norm -> ReLU), dropout after the first ReLU."""

    def __init__(self, in_channels: int, out_channels: int, num_convs: int, kernel_size: int,
                 norm: str, dropout: float, dimensions: int = 2,
                 nonlinearity: str = "relu") -> None:
        layers: list[nn.Module] = []
        channels = in_channels
        for index in range(num_convs):
            layers.append(CONV[dimensions](channels, out_channels, kernel_size,
                                           padding=kernel_size // 2))
            if norm != "none":
                layers.append(make_norm(norm, out_channels, dimensions))
            layers.append(make_nonlinearity(nonlinearity))
            if index == 0 and dropout > 0:
                layers.append(nn.Dropout(dropout))
            channels = out_channels
        super().__init__(*layers)


def make_upsampler(mode: str, in_channels: int, out_channels: int, dimensions: int = 2,
                   stride: int | list[int] = 2) -> nn.Module:
    """Up-sampling by ``stride`` (x2 per axis by default). 'nearest' keeps the channels (the
    paper, parameter-free); 'transposed' is the paper's ablation: a transposed conv with
    kernel = stride, halving the features."""
    if mode == "nearest":
        factor = stride if isinstance(stride, int) else tuple(float(s) for s in stride)
        return nn.Upsample(scale_factor=factor, mode="nearest")
    if mode == "transposed":
        step = stride if isinstance(stride, int) else tuple(stride)
        return TRANSPOSED_CONV[dimensions](in_channels, out_channels, kernel_size=step,
                                           stride=step)
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
        if isinstance(layer, CONV_TYPES):
            nn.init.kaiming_uniform_(layer.weight, a=0.0, mode="fan_in", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


@torch.no_grad()
def kaiming_normal_init(module: nn.Module) -> None:
    """nnU-Net's InitWeights_He(1e-2): He-normal kernels for a leaky ReLU of slope 0.01,
    zero biases; norm layers keep weight 1, bias 0."""
    for layer in module.modules():
        if isinstance(layer, CONV_TYPES):
            nn.init.kaiming_normal_(layer.weight, a=LEAKY_RELU_SLOPE)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


INITIALIZERS = {"he_uniform": he_uniform_init, "kaiming_normal": kaiming_normal_init}


def initialize(module: nn.Module, kind: str) -> None:
    """Apply the plan's ``initialization`` to every (transposed) convolution of ``module``."""
    INITIALIZERS[kind](module)


def check_input(x: torch.Tensor, dimensions: int, divisors: tuple[int, ...]) -> None:
    """One clear line when a tensor cannot pass through the network's poolings."""
    names = "(B, C, H, W)" if dimensions == 2 else "(B, C, D, H, W)"
    if x.ndim != dimensions + 2 or any(n % d for n, d in zip(x.shape[2:], divisors)):
        axes = "H and W" if dimensions == 2 else "D, H and W"
        rule = (f"multiples of {divisors[0]}" if len(set(divisors)) == 1
                else f"multiples of {list(divisors)}")
        raise ValueError(f"expected {names} with {axes} {rule}, got {tuple(x.shape)}")
