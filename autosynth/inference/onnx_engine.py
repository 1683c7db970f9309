"""ONNX Runtime as the CPU inference engine: each fold's network exported next to its checkpoint.

On this CPU ONNX Runtime runs the paper network 1.3-2.5x faster than torch's eager forward
(``benchmarks/inference.py`` measures both in one run). The export is made on first use from the
checkpoint (``checkpoint_best.pth`` -> ``checkpoint_best.onnx``, written atomically), checked
against torch on random input (largest difference at most :data:`TOLERANCE`), and recorded in
``checkpoint_best.onnx.json`` with the checkpoint's SHA-256, so a retrained fold is exported
again and an export that disagrees with torch is never used. The model's input rank is whatever
the checkpoint's network takes: batch and every spatial axis are dynamic, channels are fixed.

Each session is warmed up once when the predictor is made (per run, not per case). torch stays
the engine on GPUs and wherever onnxruntime is missing (``--engine torch`` forces it).
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from autosynth import results_layout as layout
from autosynth.inference.errors import PredictionError
from autosynth.inference import networks
from autosynth.inference.sliding_window import predict_sliding_window
from autosynth.preprocessing.context_slices import stack_neighbours
from autosynth.utils.files import atomic_path, read_json, write_json_atomic

try:  # a dependency; torch is the fallback where an install lacks it
    import onnxruntime
except ImportError:  # pragma: no cover - exercised only without onnxruntime
    onnxruntime = None

ENGINES = ("auto", "onnx", "torch")
OPSET = 17
TOLERANCE = 1e-5      # largest |onnx - torch| accepted on the export check (outputs in [-1, 1])
CHECK_BATCH = 2


class ExportMismatch(PredictionError):
    """An ONNX export does not reproduce torch within the tolerance (``auto`` uses torch)."""


def onnx_available() -> bool:
    return onnxruntime is not None


def resolve_engine(engine: str, device: str | torch.device) -> str:
    """``auto``: ONNX Runtime on the CPU when installed, else torch; ``onnx`` only on CPU."""
    if engine not in ENGINES:
        raise PredictionError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    on_cpu = torch.device(device).type == "cpu"
    if engine == "onnx" and not on_cpu:
        raise PredictionError(f"--engine onnx runs on the CPU only, not on {device}; use "
                              "--engine torch (or auto) there")
    if engine == "onnx" and not onnx_available():
        raise PredictionError("--engine onnx needs the onnxruntime package (pip install "
                              "onnxruntime); --engine torch works without it")
    if engine == "auto":
        return "onnx" if on_cpu and onnx_available() else "torch"
    return engine


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_session(model: bytes | str | os.PathLike, threads: int | None = None):
    """A CPU session using ``threads`` (default: torch's thread count) intra-op threads."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = model if isinstance(model, bytes) else str(model)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


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


def current_export(checkpoint: Path) -> Path | None:
    """The ONNX file of ``checkpoint`` if it was made from this very checkpoint, else None."""
    target, info_path = (layout.exported_model_path(checkpoint),
                         layout.exported_model_info_path(checkpoint))
    if not (target.is_file() and info_path.is_file()):
        return None
    try:
        info = read_json(info_path)
    except (OSError, ValueError):
        return None
    if (info.get("checkpoint_sha256") != file_digest(checkpoint)
            or info.get("onnx_sha256") != file_digest(target)):
        return None
    return target


def onnx_model_for(checkpoint: Path, spatial: tuple[int, ...] | None = None,
                   channels: int | None = None) -> Path:
    """The current export of ``checkpoint``, made now when missing or stale."""
    return current_export(checkpoint) or export_checkpoint(checkpoint, spatial, channels)


class OnnxSlicePredictor:
    """:class:`autosynth.inference.networks.SlicePredictor` on ONNX Runtime sessions: the same
    windows, fold (and mirror) average and channel check."""

    def __init__(self, sessions: list, batch_size: int | None = None, mirror: bool = False,
                 patch: tuple[int, ...] | None = None, mirrored_only: bool = False,
                 context_slices: int = 1):
        if not sessions:
            raise PredictionError("no network to predict with")
        self.sessions = sessions
        self.context_slices = int(context_slices)  # 2.5D: neighbours as channels
        self.mirrored_only = mirrored_only  # the mirrored pass alone (a --save-std pass)
        self.batch_size = batch_size or networks.default_batch_size(torch.device("cpu"))
        self.mirror = mirror
        self.patch = None if patch is None else tuple(int(p) for p in patch)
        shape = sessions[0].get_inputs()[0].shape
        self.rank, self.channels = len(shape), shape[1]

    @classmethod
    def from_checkpoints(cls, checkpoints: list[Path], batch_size: int | None = None,
                         mirror: bool = False, patch: tuple[int, ...] | None = None,
                         channels: int | None = None, context_slices: int = 1
                         ) -> "OnnxSlicePredictor":
        """Sessions for ``checkpoints`` (exported on first use), warmed up on one batch;
        ``channels`` is used only for a network that does not describe its input."""
        sessions = [make_session(onnx_model_for(Path(c), patch, channels)) for c in checkpoints]
        predictor = cls(sessions, batch_size, mirror, patch, context_slices=context_slices)
        if patch is not None:   # the first run allocates and plans: pay it here, once
            window = (1, *patch) if len(patch) == 2 else tuple(patch)
            predictor.predict_windows(np.zeros((predictor.batch_size, predictor.channels,
                                                *window), np.float32))
        return predictor

    def _run(self, session, x: np.ndarray) -> np.ndarray:
        if self.mirrored_only:
            return session.run(None, {"x": np.ascontiguousarray(x[..., ::-1])})[0][..., ::-1]
        return session.run(None, {"x": x})[0]

    def single_passes(self) -> list["OnnxSlicePredictor"]:
        """Each fold (and, with ``mirror``, its mirrored pass) alone: the passes whose spread
        ``--save-std`` reports."""
        passes = []
        for session in self.sessions:
            for mirrored in ((False, True) if self.mirror else (False,)):
                passes.append(type(self)([session], self.batch_size, False, self.patch,
                                         mirrored_only=mirrored,
                                         context_slices=self.context_slices))
        return passes

    def predict_windows(self, batch: np.ndarray) -> np.ndarray:
        """``(B, C, pd, h, w)`` windows -> ``(B, pd, h, w)``: folds (and mirror) averaged."""
        x = np.ascontiguousarray(batch[:, :, 0] if self.rank == 4 else batch, dtype=np.float32)
        total = None
        for session in self.sessions:
            y = self._run(session, x)
            if self.mirror:
                y = y + self._run(session, np.ascontiguousarray(x[..., ::-1]))[..., ::-1]
            total = y if total is None else total + y
        total = total / (len(self.sessions) * (2 if self.mirror else 1))
        return total if self.rank == 4 else total[:, 0]

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """``(C, S, H, W)`` normalised source slices -> ``(S, H, W)`` float32 prediction."""
        data = stack_neighbours(data, self.context_slices)
        if data.shape[0] != self.channels:
            raise PredictionError(f"the network takes {self.channels} input channel(s), the "
                                  f"case gives {data.shape[0]}")
        spatial = self.patch or data.shape[2:]
        patch = (1, *spatial) if len(spatial) == 2 else tuple(spatial)
        return predict_sliding_window(data, patch, self.predict_windows, self.batch_size)

