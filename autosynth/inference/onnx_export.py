"""Export a fold's network to ONNX next to its checkpoint, checked against torch.

``checkpoint_best.pth`` -> ``checkpoint_best.onnx`` (written atomically), checked against torch
on random input (largest difference at most :data:`TOLERANCE` times the output's scale), and
recorded in ``checkpoint_best.onnx.json`` with the checkpoint's SHA-256, so a retrained fold is
exported again and an export that disagrees with torch is never used
(:func:`autosynth.inference.onnx_engine.current_export` reads that record). The model's input
rank is whatever the checkpoint's network takes: batch and every spatial axis are dynamic,
channels are fixed. This is the torch side of the ONNX engine; predicting from an export does
not import it.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from autosynth import results_layout as layout
from autosynth.inference import networks
from autosynth.inference.errors import PredictionError
from autosynth.inference.onnx_engine import (ExportMismatch, current_export, file_digest,
                                             make_session)
from autosynth.utils.files import atomic_path, write_json_atomic

OPSET = 17
TOLERANCE = 1e-5      # largest |onnx - torch| accepted on the export check (outputs in [-1, 1])
CHECK_BATCH = 2


def _export_bytes(network: torch.nn.Module, example: torch.Tensor) -> bytes:
    spatial = {axis: f"s{axis}" for axis in range(2, example.ndim)}
    buffer = io.BytesIO()
    with warnings.catch_warnings():   # the tracer's notes on shape checks; the export is
        warnings.simplefilter("ignore")   # checked against torch right after
        torch.onnx.export(network, (example,), buffer, dynamo=False, opset_version=OPSET,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch", **spatial},
                                        "y": {0: "batch", **spatial}})
    return buffer.getvalue()


def export_checkpoint(checkpoint: Path, spatial: tuple[int, ...] | None = None,
                      channels: int | None = None) -> Path:
    """Export ``checkpoint``'s network (example input ``(1, C, *spatial)``; C from the
    checkpoint's own description, else ``channels``), check it against torch and write the
    ONNX file and its record atomically; returns the ONNX path."""
    network = networks.load_network(checkpoint, torch.device("cpu")).to(
        memory_format=torch.contiguous_format)
    config = getattr(network, "config", None)
    if config is not None:
        channels = int(config.input_channels)
        spatial = tuple(spatial) if spatial else tuple(2 * d for d in config.shape_divisors)
    if channels is None or not spatial:
        raise PredictionError(f"{checkpoint}: the network does not say its input shape; give "
                              "the patch and the channels to export it")
    example_shape = (1, int(channels), *spatial)
    model = _export_bytes(network, torch.zeros(example_shape, dtype=torch.float32))
    probe = torch.rand((CHECK_BATCH, *example_shape[1:]),
                       generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = network(probe).numpy()
    got = make_session(model).run(None, {"x": probe.numpy()})[0]
    difference = float(np.abs(got - expected).max())
    # relative to the output's scale: a linear head on random input can reach values far
    # above the [0, 1] of a prediction, where float32 rounding alone exceeds 1e-5
    allowed = TOLERANCE * max(1.0, float(np.abs(expected).max()))
    if not difference <= allowed:
        raise ExportMismatch(f"{checkpoint}: the ONNX export differs from torch by "
                              f"{difference:.2g} (> {allowed:.2g}); use --engine torch")
    target = layout.exported_model_path(checkpoint)
    with atomic_path(target) as tmp:
        tmp.write_bytes(model)
    write_json_atomic(layout.exported_model_info_path(checkpoint), {
        "checkpoint": checkpoint.name, "checkpoint_sha256": file_digest(checkpoint),
        "onnx_sha256": file_digest(target), "opset": OPSET, "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__, "example_input_shape": list(example_shape),
        "max_abs_difference_to_torch": difference})
    return target


def onnx_model_for(checkpoint: Path, spatial: tuple[int, ...] | None = None,
                   channels: int | None = None) -> Path:
    """The current export of ``checkpoint``, made now when missing or stale."""
    return current_export(checkpoint) or export_checkpoint(checkpoint, spatial, channels)
