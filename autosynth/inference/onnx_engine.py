"""ONNX Runtime as the CPU inference engine, without torch.

ONNX Runtime runs the paper network faster than torch's eager forward on the CPU
(``benchmarks/limits.py`` measures both in one run; documentation/benchmarks.md). Each fold's
network is exported next to its checkpoint (``checkpoint_best.onnx``, by
:mod:`autosynth.inference.onnx_export` on first use) and recorded with the checkpoint's
SHA-256, so a retrained fold is exported again. This module only reads exports that are
current: it imports no torch, so a prediction from current exports does not pay torch's import.

Each session is warmed up once when the predictor is made (per run, not per case). torch stays
the engine on GPUs and wherever onnxruntime is missing (``--engine torch`` forces it).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from autosynth import results_layout as layout
from autosynth.inference.errors import PredictionError
from autosynth.inference.batching import default_batch_size
from autosynth.inference.sliding_window import predict_sliding_window
from autosynth.preprocessing.context_slices import stack_neighbours
from autosynth.utils.files import read_json

try:  # a dependency; torch is the fallback where an install lacks it
    import onnxruntime
except ImportError:  # pragma: no cover - exercised only without onnxruntime
    onnxruntime = None

ENGINES = ("auto", "onnx", "torch")


class ExportMismatch(PredictionError):
    """An ONNX export does not reproduce torch within the tolerance (``auto`` uses torch)."""


def onnx_available() -> bool:
    return onnxruntime is not None


def resolve_engine(engine: str, device: str) -> str:
    """``auto``: ONNX Runtime on the CPU when installed, else torch; ``onnx`` only on CPU.
    ``device`` is a name such as ``cpu`` or ``cuda:1`` (a ``torch.device`` prints as one)."""
    if engine not in ENGINES:
        raise PredictionError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    on_cpu = str(device).split(":")[0] == "cpu"
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
    """A CPU session using ``threads`` intra-op threads (default: ONNX Runtime's, one per
    physical core, as torch's default)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = model if isinstance(model, bytes) else str(model)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


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
        self.batch_size = batch_size or default_batch_size("cpu")
        self.mirror = mirror
        self.patch = None if patch is None else tuple(int(p) for p in patch)
        shape = sessions[0].get_inputs()[0].shape
        self.rank, self.channels = len(shape), shape[1]

    @classmethod
    def from_models(cls, models: list[Path], batch_size: int | None = None, mirror: bool = False,
                    patch: tuple[int, ...] | None = None, context_slices: int = 1,
                    threads: int | None = None) -> "OnnxSlicePredictor":
        """Sessions for the exported ``models`` (one per fold), warmed up on one batch."""
        sessions = [make_session(m, threads) for m in models]
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

