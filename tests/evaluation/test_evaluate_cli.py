"""autosynth_evaluate on inputs with known answers."""
import json

import numpy as np
import pytest

from autosynth.cli.evaluate import main as evaluate_main
from autosynth.dataset.image_io import Geometry, write_image

GEOMETRY = Geometry((30, 28, 16), (1.0, 1.0, 2.0), (5.0, -3.0, 1.0), (-1, 0, 0, 0, -1, 0, 0, 0, 1))


def _case(seed):
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, s) for s in (16, 28, 30)], indexing="ij")
    brain = (z ** 2 + y ** 2 / 0.8 + x ** 2 / 0.8) < 0.9
    image = np.where(brain, 200 + 40 * np.sin(3 * x) + rng.normal(0, 5, brain.shape), 0)
    labels = ((z ** 2 + (y - 0.2) ** 2 + x ** 2) < 0.1).astype(np.uint8) * 2
    return image.astype(np.float32), brain, labels * brain


@pytest.fixture
def cohort(tmp_path):
    """Two references, masks, labels; PRED = reference scaled to [0, 1] by a known map."""
    for name in ("ref", "pred", "masks", "labels", "src"):
        (tmp_path / name).mkdir()
    for i in range(2):
        image, brain, labels = _case(i)
        write_image(image, GEOMETRY, tmp_path / "ref" / f"c{i}.nii.gz")
        write_image(brain.astype(np.uint8), GEOMETRY, tmp_path / "masks" / f"c{i}.nii.gz")
        write_image(labels, GEOMETRY, tmp_path / "labels" / f"c{i}.nii.gz")
        write_image(image[::-1].copy(), GEOMETRY, tmp_path / "src" / f"c{i}_0000.nii.gz")
    return tmp_path


def _write_predictions(folder, function):
    for i in range(2):
        image, brain, _ = _case(i)
        write_image(function(image, brain).astype(np.float32), GEOMETRY,
                    folder / "pred" / f"c{i}.nii.gz")


def test_known_offset_gives_known_numbers(cohort):
    offset = 0.1
    _write_predictions(cohort, lambda image, brain: np.where(brain, image + offset, image))
    code = evaluate_main(["-ref", str(cohort / "ref"), "-pred", str(cohort / "pred"),
                          "--masks", str(cohort / "masks"), "--labels", str(cohort / "labels"),
                          "--normalization", "none", "--no-progress"])
    assert code == 0
    summary = json.loads((cohort / "pred" / "summary.json").read_text())
    for i in range(2):
        _, brain, labels = _case(i)
        metrics = summary["cases"][f"c{i}"]
        assert metrics["mae_brain"] == pytest.approx(offset, rel=1e-4)
        assert metrics["mse_brain"] == pytest.approx(offset ** 2, rel=1e-3)
        assert metrics["psnr_brain"] == pytest.approx(20.0, abs=0.01)
        assert metrics["mae"] == pytest.approx(offset * brain.mean(), rel=1e-4)
        assert metrics["mae_tumour"] == pytest.approx(offset, rel=1e-4)
        assert "ssim_non_tumour_brain" in metrics
    assert summary["mean_sd"]["psnr_brain"]["n"] == 2
    assert summary["mean_sd"]["mae_brain"]["sd"] == pytest.approx(0.0, abs=1e-5)
    table = (cohort / "pred" / "summary.md").read_text()
    assert ("| brain | 20.00 ± 0.00 [20.00, 20.00] | 0.1000 ± 0.0000 [0.1000, 0.1000] | "
            "0.0100 ± 0.0000 [0.0100, 0.0100] |") in table
    assert "| tumour |" in table and "| c1 |" in table
    assert (cohort / "pred" / "figures" / "c0.png").stat().st_size > 1000


def test_without_a_scale_it_refuses_with_one_line(cohort, capsys):
    _write_predictions(cohort, lambda image, brain: image / image.max())
    assert evaluate_main(["-ref", str(cohort / "ref"), "-pred", str(cohort / "pred"),
                          "--no-figures", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "scale is unknown" in err and "-d ID" in err and "--normalization" in err
    assert "prediction_info.json" in err
    assert not (cohort / "pred" / "summary.json").exists()


def test_explicit_per_case_percentile(cohort):
    def normalised(image, brain):
        low, high = np.percentile(image[brain], (0.5, 99.5))
        return np.where(brain, np.clip((image - low) / (high - low), 0, 1), 0)

    _write_predictions(cohort, normalised)
    assert evaluate_main(["-ref", str(cohort / "ref"), "-pred", str(cohort / "pred"), "-o",
                          str(cohort / "eval"), "--no-figures", "--no-progress",
                          "--normalization", "percentile_01", "--protocol", "paper"]) == 0
    summary = json.loads((cohort / "eval" / "summary.json").read_text())
    assert summary["normalization"]["scheme"] == "percentile_01"
    for metrics in summary["cases"].values():   # the paper protocol scores the clipped scale
        assert metrics["paper_mae"] < 1e-6 and metrics["paper_ssim"] == pytest.approx(1.0,
                                                                                      abs=1e-5)
        assert "psnr_brain" not in metrics
    assert not (cohort / "eval" / "figures").exists()


def test_plan_window_normalises_references_like_training(cohort):
    WINDOW = 1.2   # the sine-shaped brain reaches |z| ~ 1.4

    def zscore_01(image, brain):
        z = (image - image[brain].mean()) / image[brain].std()
        return np.where(brain, (np.clip(z, -WINDOW, WINDOW) + WINDOW) / (2 * WINDOW), 0)

    def unclipped(image, brain):
        z = (image - image[brain].mean()) / image[brain].std()
        return np.where(brain, (z + WINDOW) / (2 * WINDOW), 0)

    argv = ["-ref", str(cohort / "ref"), "-pred", str(cohort / "pred"),
            "--normalization", "brain_zscore_01", "--z-window", str(-WINDOW), str(WINDOW),
            "--source", str(cohort / "src"), "--source-channel", "0", "-np", "2",
            "--no-progress"]
    _write_predictions(cohort, unclipped)
    assert evaluate_main(argv) == 0
    summary = json.loads((cohort / "pred" / "summary.json").read_text())
    assert all(m["mae_brain"] < 1e-5 for m in summary["cases"].values())
    assert (cohort / "pred" / "figures" / "c1.png").is_file()
    # a prediction that stops at the window is wrong where the reference goes beyond it:
    # the reference is not clipped, so that error is counted
    _write_predictions(cohort, zscore_01)
    assert evaluate_main(argv + ["--no-figures"]) == 0
    summary = json.loads((cohort / "pred" / "summary.json").read_text())
    for i in range(2):
        image, brain, _ = _case(i)
        z = (image[brain] - image[brain].mean()) / image[brain].std()
        beyond = np.abs(z) > WINDOW
        assert beyond.any()
        expected = (np.abs(z[beyond]) - WINDOW).sum() / (2 * WINDOW) / brain.sum()
        assert summary["cases"][f"c{i}"]["mae_brain"] == pytest.approx(expected, rel=1e-3)


def test_errors_are_one_line(cohort, capsys):
    _write_predictions(cohort, lambda image, brain: image)
    (cohort / "ref" / "c1.nii.gz").unlink()
    assert evaluate_main(["-ref", str(cohort / "ref"), "-pred", str(cohort / "pred"),
                          "--normalization", "none", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "c1.nii.gz" in err and "no reference" in err and len(err.splitlines()) == 1
    image, _, _ = _case(1)
    write_image(image, Geometry((30, 28, 16), (1.0, 1.0, 2.5), (5.0, -3.0, 1.0),
                                GEOMETRY.direction), cohort / "ref" / "c1.nii.gz")
    assert evaluate_main(["-ref", str(cohort / "ref"), "-pred", str(cohort / "pred"),
                          "--normalization", "none", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "spacing mismatch with" in err and "pred/c1.nii.gz" in err and "Traceback" not in err
    assert evaluate_main(["-ref", str(cohort / "ref"), "-pred", str(cohort / "pred"),
                          "--normalization", "brain_zscore_01", "--no-progress"]) == 2
    assert "z window" in capsys.readouterr().err


def test_damaged_files_are_named_per_case_and_no_summary_is_written(cohort, capsys):
    """SimpleITK reads NaN as 0 and a truncated gzip as zeros: both must be caught."""
    _write_predictions(cohort, lambda image, brain: image)
    image, _, _ = _case(0)
    image[4:8, 10:14, 10:14] = np.nan
    write_image(image, GEOMETRY, cohort / "ref" / "c0.nii.gz")
    data = (cohort / "pred" / "c1.nii.gz").read_bytes()
    (cohort / "pred" / "c1.nii.gz").write_bytes(data[:len(data) // 2])
    assert evaluate_main(["-ref", str(cohort / "ref"), "-pred", str(cohort / "pred"),
                          "--normalization", "none", "--no-figures", "--no-progress"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and "Traceback" not in "\n".join(lines), lines
    first, second = sorted(lines[:2])
    assert "ref/c0.nii.gz" in first and "64 NaN/Inf voxel(s)" in first
    assert "pred/c1.nii.gz" in second and "truncated gzip stream" in second
    assert "2 of 2 case(s) failed" in lines[2]
    assert not (cohort / "pred" / "summary.json").exists()
