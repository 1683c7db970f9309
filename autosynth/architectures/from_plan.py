"""Turn a plan's network description into the architecture's :class:`UNetConfig`.

The plan records a few choices the U-Net implements in one way only (max pooling, ReLU,
He-uniform initialisation); they are checked here, so an edited plan asking for something else
fails with a clear message instead of being silently ignored.
"""
from __future__ import annotations

FIXED_CHOICES = {"pooling": "max", "nonlinearity": "relu", "initialization": "he_uniform"}
COPIED_FIELDS = ("features_per_stage", "convs_per_stage", "dropout_per_stage", "kernel_size",
                 "upsampling", "norm", "final_activation")


def unet_config_from_plan(network: dict, input_channels: int, output_channels: int = 1):
    from autosynth.architectures.config import UNetConfig

    for key, supported in FIXED_CHOICES.items():
        if network.get(key, supported) != supported:
            raise ValueError(f"plans.json network.{key} = {network[key]!r} is not supported "
                             f"(only {supported!r})")
    if network.get("n_stages", len(network["features_per_stage"])) != \
            len(network["features_per_stage"]):
        raise ValueError("plans.json network.n_stages differs from len(features_per_stage)")
    return UNetConfig(input_channels=input_channels, output_channels=output_channels,
                      **{key: network[key] for key in COPIED_FIELDS})
