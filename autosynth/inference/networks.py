"""The trained networks of one model, run over a stack of slices: folds and flips averaged.

Each fold's checkpoint records its own network description (``network_config``), so a trainer
variant (transposed convolutions, batch norm) is rebuilt as it was trained, whatever the plan
says. Inference runs under ``torch.inference_mode`` in channels-last memory format (on this
CPU 1.2-1.4x faster than the default layout, see ``benchmarks/inference.py``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from autosynth.inference.batching import default_batch_size
from autosynth.inference.errors import PredictionError
from autosynth.inference.sliding_window import predict_sliding_window
from autosynth.architectures import UNetConfig, build_network
from autosynth.training.checkpointing import load_checkpoint
from autosynth.preprocessing.context_slices import stack_neighbours
from autosynth.training.context import autocast, memory_format

def load_network(checkpoint: str | os.PathLike, device: torch.device) -> nn.Module:
    """One fold's network in evaluation mode, built from the checkpoint's own description."""

    checkpoint = Path(checkpoint)
    try:
        state = load_checkpoint(checkpoint, map_location="cpu")
        network = build_network(UNetConfig.from_dict(state["network_config"]))
        network.load_state_dict(state["network"])
    except (KeyError, RuntimeError, ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PredictionError(f"{checkpoint}: not a usable autosynth checkpoint ({first})") \
            from None
    return network.to(device).to(memory_format=memory_format(
        getattr(network.config, "dimensions", 2))).eval()


def use_threads(threads: int | None) -> None:
    """torch's intra-op threads for this process (None: leave torch's default)."""
    if threads:
        torch.set_num_threads(threads)


def input_channels(network: nn.Module) -> int | None:
    config = getattr(network, "config", None)
    return getattr(config, "input_channels", None)


class SlicePredictor:
    """Average of ``networks`` (one per fold), optionally also over left-right mirrored input,
    over sliding windows of ``patch`` ((H, W) pixels, the whole slice when None; or a 3D
    ``(D, H, W)`` patch for 3D networks).

    ``context_slices`` k > 1 (2.5D): each source's k neighbouring slices become input channels
    by the rule training uses (:mod:`autosynth.preprocessing.context_slices`). The mirror is
    along the patch's last axis (W), the axis the training augmentation flips, which is the
    patient's left-right axis in the canonical orientation.
    """

    def __init__(self, networks: list[nn.Module], device: torch.device | str = "cpu",
                 batch_size: int | None = None, mirror: bool = False,
                 channels_last: bool = True, patch: tuple[int, ...] | None = None,
                 context_slices: int = 1):
        if not networks:
            raise PredictionError("no network to predict with")
        self.networks = networks
        self.device = torch.device(device)
        self.batch_size = batch_size or default_batch_size(self.device)
        self.mirror = mirror
        self.volumetric = patch is not None and len(patch) == 3
        self.memory_format = (memory_format(3 if self.volumetric else 2) if channels_last
                              else torch.contiguous_format)
        self.patch = None if patch is None else tuple(int(p) for p in patch)
        self.context_slices = int(context_slices)

    @classmethod
    def for_configuration(cls, networks: list[nn.Module], configuration,
                          device: torch.device | str = "cpu", batch_size: int | None = None,
                          mirror: bool = False) -> "SlicePredictor":
        """The predictor a planned configuration (``ConfigurationPlan``) was trained for."""
        return cls(networks, device, batch_size, mirror,
                   patch=tuple(configuration.patch_size),
                   context_slices=configuration.context_slices)

    @torch.inference_mode()
    def predict_windows(self, batch: np.ndarray) -> np.ndarray:
        """``(B, C, pd, h, w)`` windows -> ``(B, pd, h, w)``: folds (and mirror) averaged."""
        windows = batch if self.volumetric else batch[:, :, 0]
        x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))
        x = x.to(self.device).contiguous(memory_format=self.memory_format)
        passes = len(self.networks) * (2 if self.mirror else 1)
        last = x.ndim - 1
        total = None
        with autocast(self.device):
            for network in self.networks:
                y = network(x).float()
                if self.mirror:
                    y = y + network(torch.flip(x, dims=(last,))).float().flip(dims=(last,))
                total = y if total is None else total + y
        return (total / passes)[:, 0].cpu().numpy()

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """``(C, S, H, W)`` normalised source slices -> ``(S, H, W)`` float32 prediction."""
        data = stack_neighbours(data, self.context_slices)
        channels = data.shape[0]
        for network in self.networks:
            expected = input_channels(network)
            if expected is not None and expected != channels:
                raise PredictionError(f"the network takes {expected} input channel(s), the "
                                      f"case gives {channels}")
        patch = self.patch if self.volumetric else (1, *(self.patch or data.shape[2:]))
        return predict_sliding_window(data, patch, self.predict_windows, self.batch_size)

    def single_passes(self) -> list["SlicePredictor"]:
        """Each fold (and, with ``mirror``, each fold's mirrored pass) as its own predictor:
        the passes whose spread ``--save-std`` reports."""
        passes = []
        for network in self.networks:
            variants = [network, MirroredNetwork(network)] if self.mirror else [network]
            for one in variants:
                passes.append(SlicePredictor([one], self.device, self.batch_size, mirror=False,
                                             patch=self.patch,
                                             channels_last=self.memory_format
                                             != torch.contiguous_format,
                                             context_slices=self.context_slices))
        return passes


class MirroredNetwork(nn.Module):
    """A network applied to the left-right mirrored input, its output mirrored back: the
    mirrored pass of ``--tta`` on its own (the axis :class:`SlicePredictor` flips)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network
        self.config = getattr(network, "config", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x.ndim - 1  # W, for 2D and 3D windows alike
        return self.network(torch.flip(x, dims=(last,))).float().flip(dims=(last,))
