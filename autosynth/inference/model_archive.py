"""Inference-only model archives: export trained model folders to a zip, install one.

An archive carries exactly what prediction reads, nothing a training needs: per model folder
the plan and dataset.json copies, ``intensity_reference.json`` (what ``--denormalize`` reads
when the preprocessed folder is absent), per fold the chosen checkpoint reduced to the
weights and the network description (tensors and plain containers, loadable with
``torch.load(weights_only=True)``), the validation summaries, the dataset's licence and notice
text, and a generated README. ``autosynth_archive.json`` lists every file with its SHA-256.

Installing unpacks into ``$AUTOSYNTH_RESULTS`` after checking every name (no absolute paths,
no '..'), every hash, and every checkpoint (loaded the safe way); a file that exists with other
content is a different model and is never overwritten. The same archive installed twice is a
no-op.
"""
from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import torch

from autosynth import results_layout as layout
from autosynth.inference.denormalization import REFERENCE_FILE, intensity_reference
from autosynth.inference.errors import PredictionError
from autosynth.inference.model_archive_readme import licence_text, readme_text
from autosynth.inference.model_folder import TrainedModel
from autosynth.training.checkpointing import CheckpointError, load_checkpoint
from autosynth.utils.files import atomic_path

MANIFEST = "autosynth_archive.json"
README = "README.md"
LICENCE = "LICENCE.txt"
FORMAT_VERSION = 1
KEPT_KEYS = ("network", "network_config", "trainer", "epoch")  # what prediction reads
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the same models give the same archive bytes


@dataclass
class ExportedModel:
    """One model folder of an archive, by its names."""

    folder: str          # DatasetXXX/<run>/<translation>, POSIX, relative to the results root
    folds: list[str]
    checkpoint: str


def inference_checkpoint(path: Path) -> bytes:
    """A training checkpoint reduced to what prediction reads, serialised."""
    state = load_checkpoint(path)
    missing = [k for k in ("network", "network_config") if k not in state]
    if missing:
        raise PredictionError(f"{path}: not an autosynth checkpoint (no {', '.join(missing)})")
    buffer = io.BytesIO()
    torch.save({k: state[k] for k in KEPT_KEYS if k in state}, buffer)
    return buffer.getvalue()


def _model_files(model: TrainedModel, folds: list[str], checkpoint: str) -> dict[str, bytes]:
    """Archive name -> bytes of one model folder."""
    base = PurePosixPath(model.dataset_name, model.folder.parent.name, model.folder.name)
    files = {str(base / layout.MODEL_PLANS_FILE): (model.folder / layout.MODEL_PLANS_FILE)
             .read_bytes(),
             str(base / layout.MODEL_DATASET_FILE): (model.folder / layout.MODEL_DATASET_FILE)
             .read_bytes()}
    intensity_reference(model.folder, model.dataset_name)  # stored in the folder if not yet
    files[str(base / REFERENCE_FILE)] = (model.folder / REFERENCE_FILE).read_bytes()
    for fold, path in zip(folds, model.checkpoints(folds, checkpoint)):
        fold_name = base / layout.folder_name_of(fold)
        files[str(fold_name / layout.checkpoint_name(checkpoint))] = inference_checkpoint(path)
        for name in ("summary.json", "summary.md"):
            summary = layout.validation_folder(model.folder, fold) / name
            if summary.is_file():
                files[str(fold_name / layout.VALIDATION_FOLDER / name)] = summary.read_bytes()
    for name in ("summary.json", "summary.md"):
        pooled = model.folder / layout.CROSSVAL_FOLDER / name
        if pooled.is_file():
            files[str(base / layout.CROSSVAL_FOLDER / name)] = pooled.read_bytes()
    return files


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_models(model_folders: list[Path], output: Path, folds: list[str] | None = None,
                  checkpoint: str = "best", extra: dict[str, Path] | None = None) -> dict:
    """Write the archive ``output``; returns its manifest. ``extra``: more files (archive
    name, relative to the results root -> file), e.g. the find-best choice for ``--best``."""
    models = [TrainedModel.load(f) for f in model_folders]
    if not models:
        raise PredictionError("no model folder to export")
    files: dict[str, bytes] = {}
    exported = []
    for model in models:
        chosen = model.available_folds(checkpoint) if folds is None else [str(f) for f in folds]
        model.checkpoints(chosen, checkpoint)  # an error naming the missing folds
        model_files = _model_files(model, chosen, checkpoint)
        readme, licence = readme_text(model, chosen, checkpoint), licence_text(model)
        base = str(PurePosixPath(model.dataset_name, model.folder.parent.name,
                                 model.folder.name))
        model_files[f"{base}/{README}"] = readme.encode()
        model_files[f"{base}/{LICENCE}"] = licence.encode()
        files.update(model_files)
        exported.append(ExportedModel(base, chosen, checkpoint))
    files[README] = "\n\n---\n\n".join(readme_text(m, e.folds, checkpoint)
                                       for m, e in zip(models, exported)).encode()
    files[LICENCE] = "\n\n".join(dict.fromkeys(licence_text(m) for m in models)).encode()
    for name, file in (extra or {}).items():
        files[name] = Path(file).read_bytes()
    manifest = {"format": "autosynth inference-only model archive", "version": FORMAT_VERSION,
                "models": [vars(e) for e in exported], "extra": sorted(extra or {}),
                "files": {name: _sha256(data) for name, data in sorted(files.items())}}
    with atomic_path(output) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in [(MANIFEST, _json_bytes(manifest)), *sorted(files.items())]:
                archive.writestr(zipfile.ZipInfo(name, _FIXED_TIME), data,
                                 compress_type=zipfile.ZIP_DEFLATED)
    return manifest


def _json_bytes(data: dict) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


def _safe_name(name: str, archive: Path) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in name:
        raise PredictionError(f"{archive}: refused: it holds the unsafe file name '{name}'")
    return path


def read_manifest(archive: zipfile.ZipFile, path: Path) -> dict:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except (KeyError, ValueError) as err:
        raise PredictionError(f"{path}: not an autosynth model archive (no readable "
                              f"{MANIFEST}: {err})") from None
    missing = [k for k in ("files", "models")
               if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise PredictionError(f"{path}: {MANIFEST} has no {', '.join(missing)}")
    return manifest


def install_archive(path: Path, results: Path) -> list[Path]:
    """Unpack ``path`` into ``results``; returns the installed model folders."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise PredictionError(f"{path}: not a zip archive")
    with zipfile.ZipFile(path) as archive:
        manifest = read_manifest(archive, path)
        names = set(archive.namelist()) - {MANIFEST}
        listed = set(manifest["files"])
        if names != listed:
            odd = sorted(names ^ listed)
            raise PredictionError(f"{path}: refused: its files and its {MANIFEST} disagree "
                                  f"(e.g. {odd[0]})")
        contents = {}
        for name in sorted(names):
            _safe_name(name, path)
            data = archive.read(name)
            if _sha256(data) != manifest["files"][name]:
                raise PredictionError(f"{path}: refused: {name} does not match its SHA-256 "
                                      "(damaged or altered archive)")
            contents[name] = data
    models = [m["folder"] for m in manifest["models"]]
    for folder in models:
        _safe_name(folder, path)
    extra = set(manifest.get("extra", []))
    wanted = {n: d for n, d in contents.items()
              if n in extra or any(n.startswith(f + "/") for f in models)}
    _check_checkpoints(wanted, path)
    results = Path(results)
    for name, data in wanted.items():
        target = results / name
        if target.exists() and target.read_bytes() != data:
            raise PredictionError(f"{target}: exists with other content; refusing to overwrite "
                                  f"a different model (move that model folder away first)")
    for name, data in sorted(wanted.items()):
        target = results / name
        if not target.exists():
            with atomic_path(target) as tmp:
                tmp.write_bytes(data)
    return [results / folder for folder in models]


def _check_checkpoints(contents: dict[str, bytes], archive: Path) -> None:
    """Every checkpoint loads the safe way before anything is written."""
    with tempfile.TemporaryDirectory() as scratch:
        for name, data in contents.items():
            if not name.endswith(".pth"):
                continue
            file = Path(scratch) / "checkpoint.pth"
            file.write_bytes(data)
            try:
                load_checkpoint(file)
            except (CheckpointError, RuntimeError, OSError) as err:
                message = str(err).replace(str(file), f"{archive}:{name}")
                raise PredictionError(message.splitlines()[0]) from None
