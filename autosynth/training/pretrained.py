"""``--pretrained-weights``: start a training from another model's weights (fine-tuning).

The file is read like every checkpoint (``load_checkpoint``, ``weights_only=True``); either an
autosynth checkpoint (its ``network`` entry) or a bare state dict. Every layer of the new
network must be present with the same shape, so a mismatch is one line naming the layer rather
than a half-loaded network. Only the weights are taken: optimiser, epoch and history start
fresh, as with nnU-Net's option of the same name.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from autosynth.training.checkpointing import load_checkpoint


class PretrainedWeightsError(ValueError):
    """Weights that do not fit the network; the message names the file and the layer."""


def _shape(value) -> tuple[int, ...] | None:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


def load_pretrained_weights(network: nn.Module, path: str | os.PathLike) -> int:
    """Copy the weights of ``path`` into ``network``; returns the number of tensors copied."""
    path = Path(path)
    state = load_checkpoint(path, map_location="cpu")
    weights = state["network"] if isinstance(state.get("network"), dict) else state
    own = network.state_dict()
    for name, tensor in own.items():
        if name not in weights:
            raise PretrainedWeightsError(f"{path}: has no layer '{name}', which this network "
                                         "has (another architecture?)")
        if _shape(weights[name]) != tuple(tensor.shape):
            raise PretrainedWeightsError(
                f"{path}: layer '{name}' has shape {list(_shape(weights[name]) or [])} there "
                f"but {list(tensor.shape)} in this network")
    extra = sorted(set(weights) - set(own))
    if extra:
        raise PretrainedWeightsError(f"{path}: layer '{extra[0]}' is not in this network "
                                     f"({len(extra)} such; another architecture?)")
    network.load_state_dict({name: weights[name] for name in own})
    return len(own)
