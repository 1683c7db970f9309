"""The torch side of prediction, imported only when a run needs it.

A CPU prediction from ONNX exports that are current runs on :mod:`onnx_engine` alone and never
imports torch, whose import is a large part of a one-volume ``autosynth_predict``'s start-up
(``benchmarks/limits.py`` times both engines end to end). torch is needed to run the torch
engine (GPUs, ``--engine torch``, an export that fails its check under ``auto``) and to export
a fold that has no current export. The modules doing that, :mod:`networks` and
:mod:`onnx_export`, import torch at their top, so whether torch is imported is decided at run
time, here and nowhere else.
"""
from __future__ import annotations

import importlib
from types import ModuleType

TORCH_NETWORKS = "autosynth.inference.networks"     # load_network, SlicePredictor, use_threads
ONNX_EXPORT = "autosynth.inference.onnx_export"     # onnx_model_for, export_checkpoint


def torch_networks() -> ModuleType:
    """:mod:`autosynth.inference.networks` (imports torch on first call)."""
    return importlib.import_module(TORCH_NETWORKS)


def onnx_export() -> ModuleType:
    """:mod:`autosynth.inference.onnx_export` (imports torch on first call)."""
    return importlib.import_module(ONNX_EXPORT)
