"""The ONNX Runtime engine: the same numbers as torch (within 1e-5), the exact input geometry,
one export per checkpoint, made again when the checkpoint changes, and no torch import when the
exports are current."""
import json
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from autosynth import results_layout as layout
from autosynth.cli.predict import main as predict_main
from autosynth.dataset.image_io import read_image
from autosynth.inference import networks, onnx_engine, onnx_export
from autosynth.inference.onnx_engine import OnnxSlicePredictor
from autosynth.training.checkpointing import load_checkpoint, save_checkpoint
from tests.inference.model_builders import make_model_folder, oblique, tiny_plan, write_cohort
from tests.inference.test_orientation_invariance import AsymmetricConv

pytestmark = pytest.mark.skipif(not onnx_engine.onnx_available(), reason="needs onnxruntime")


@pytest.fixture
def model(autosynth_env):
    """A tiny 3-stage U-Net (not pointwise: 3x3 convolutions, pooling, up-sampling), He
    initialised, two folds."""
    plans = tiny_plan(patch=(32, 32), features=(4, 8, 16))
    return make_model_folder(autosynth_env / "results", folds=("0", "1"), plans=plans)


@pytest.mark.parametrize("mirror", [False, True], ids=["plain", "mirror"])
def test_onnx_equals_torch_within_1e_5_over_sliding_windows(model, mirror):
    checkpoints = [layout.checkpoint_path(model, f, "best") for f in ("0", "1")]
    data = np.random.default_rng(0).random((1, 5, 45, 38), dtype=np.float32)  # > one window
    torch_nets = [networks.load_network(c, "cpu") for c in checkpoints]
    expected = networks.SlicePredictor(torch_nets, "cpu", 3, mirror, patch=(32, 32))(data)
    exports = [onnx_export.onnx_model_for(c, (32, 32)) for c in checkpoints]
    onnx = OnnxSlicePredictor.from_models(exports, 3, mirror, (32, 32))
    got = onnx(data)
    assert got.shape == expected.shape == (5, 45, 38)
    assert np.abs(got - expected).max() <= 1e-5
    assert np.abs(expected).mean() > 0.01          # a real output, not zeros on both sides


def test_export_is_written_once_next_to_the_checkpoint_and_redone_when_it_changes(model):
    checkpoint = layout.checkpoint_path(model, "0", "best")
    first = onnx_export.onnx_model_for(checkpoint, (32, 32))
    assert first == checkpoint.with_suffix(".onnx") and first.is_file()
    info = json.loads(layout.exported_model_info_path(checkpoint).read_text())
    assert info["max_abs_difference_to_torch"] <= 1e-5
    stamp = first.stat().st_mtime_ns
    assert onnx_export.onnx_model_for(checkpoint, (32, 32)).stat().st_mtime_ns == stamp
    assert not list(model.rglob(".*.tmp*"))                    # atomic: no debris
    state = load_checkpoint(checkpoint)                        # a retrained fold
    state["network"] = {k: v * 0.5 for k, v in state["network"].items()}
    save_checkpoint(state, checkpoint)
    assert onnx_engine.current_export(checkpoint) is None
    onnx_export.onnx_model_for(checkpoint, (32, 32))
    assert json.loads(layout.exported_model_info_path(checkpoint).read_text())[
        "checkpoint_sha256"] == onnx_engine.file_digest(checkpoint)


def test_engine_choice():
    assert onnx_engine.resolve_engine("auto", "cpu") == "onnx"
    assert onnx_engine.resolve_engine("torch", "cpu") == "torch"
    assert onnx_engine.resolve_engine("auto", "cuda") == "torch"
    with pytest.raises(onnx_engine.PredictionError, match="CPU only"):
        onnx_engine.resolve_engine("onnx", "cuda")


def test_prediction_keeps_the_input_geometry_and_equals_torch(tmp_path, model, monkeypatch):
    # a fixed asymmetric 3x3 kernel: its output varies over the slice and changes under any
    # flip or transposition (the random U-Net's output is nearly constant after the clip)
    monkeypatch.setattr(networks, "load_network", lambda path, device: AsymmetricConv().eval())
    write_cohort(tmp_path / "in", n_cases=1, direction=oblique(4.0), spacing=(0.9, 1.1, 1.7),
                 mask_folder=tmp_path / "masks")
    outputs = {}
    for engine in ("onnx", "torch"):
        out = tmp_path / engine
        assert predict_main(["-i", str(tmp_path / "in"), "-o", str(out), "-m", str(model),
                             "--masks", str(tmp_path / "masks"), "--engine", engine,
                             "--no-progress"]) == 0
        assert json.loads((out / "prediction_info.json").read_text())["engine"] == engine
        outputs[engine] = out / "sub00.nii.gz"
    source_file = tmp_path / "in" / "sub00_0000.nii.gz"
    _, geometry = read_image(source_file)
    onnx_image, onnx_geometry = read_image(outputs["onnx"])
    torch_image, _ = read_image(outputs["torch"])
    assert onnx_geometry == geometry
    a, b = nib.load(str(source_file)).header, nib.load(str(outputs["onnx"])).header
    for field in ("dim", "pixdim", "qform_code", "sform_code", "quatern_b", "quatern_c",
                  "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z", "srow_x", "srow_y",
                  "srow_z"):
        assert np.array_equal(a[field], b[field]), field
    assert np.abs(onnx_image - torch_image).max() <= 1e-5
    assert onnx_image.std() > 0.05


def test_auto_falls_back_to_torch_when_the_export_check_fails(tmp_path, autosynth_env,
                                                               monkeypatch):
    def refuse(*args, **kwargs):
        raise onnx_engine.ExportMismatch("the ONNX export differs from torch by 1e-4 (> 1e-5)")

    monkeypatch.setattr(onnx_export, "export_checkpoint", refuse)
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=1, mask_folder=tmp_path / "masks")
    common = ["-i", str(tmp_path / "in"), "-m", str(model), "--masks", str(tmp_path / "masks"),
              "--no-progress"]
    assert predict_main([*common, "-o", str(tmp_path / "auto"), "--engine", "auto"]) == 0
    assert (tmp_path / "auto" / "sub00.nii.gz").is_file()
    assert predict_main([*common, "-o", str(tmp_path / "onnx"), "--engine", "onnx"]) != 0


REPORT_TORCH = ("import sys\nfrom autosynth.cli.predict import main\nrc = main(sys.argv[1:])\n"
                "print('torch imported:', 'torch' in sys.modules)\nsys.exit(rc)\n")


def test_a_prediction_from_current_exports_imports_no_torch(tmp_path, model):
    write_cohort(tmp_path / "in", n_cases=1, mask_folder=tmp_path / "masks")
    common = ["-i", str(tmp_path / "in"), "-m", str(model), "--masks", str(tmp_path / "masks"),
              "--no-progress", "--device", "cpu"]
    assert predict_main([*common, "-o", str(tmp_path / "first")]) == 0   # exports both folds
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", REPORT_TORCH, *common, "-o",
                           str(tmp_path / "second")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "torch imported: False"
    first, _ = read_image(tmp_path / "first" / "sub00.nii.gz")
    second, _ = read_image(tmp_path / "second" / "sub00.nii.gz")
    assert np.array_equal(first, second) and second.std() > 0
