"""A damaged input case is refused in one line, gets no output, and the others are predicted."""
import numpy as np
import pytest

from autosynth.cli.predict import main as predict_main
from autosynth.dataset.image_io import read_image, write_image
from autosynth.inference import networks
from tests.inference.model_builders import OneMinus, make_model_folder, write_cohort

IDS = ["sub00", "sub01", "sub02"]


@pytest.fixture
def one_minus(monkeypatch):
    monkeypatch.setattr(networks, "load_network", lambda path, device: OneMinus())


@pytest.fixture
def cohort(tmp_path, autosynth_env, one_minus):
    """(model folder, input folder) with three good cases."""
    model = make_model_folder(autosynth_env / "results")
    assert write_cohort(tmp_path / "in", n_cases=3) == IDS
    return model, tmp_path / "in"


def _predict(model, inputs, out, *extra):
    return predict_main(["-i", str(inputs), "-o", str(out), "-m", str(model), "--no-progress",
                         *extra])


def _failed_lines(capsys, n_failed: int) -> list[str]:
    lines = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(lines), lines
    assert len(lines) == n_failed + 1 and f"{n_failed} case(s) failed" in lines[-1], lines
    return lines[:-1]


def _outputs(folder) -> list[str]:
    return sorted(p.name[:-len(".nii.gz")] for p in folder.glob("*.nii.gz"))


def test_nan_block_is_refused_and_the_others_predicted(tmp_path, cohort, capsys):
    model, inputs = cohort
    image, geometry = read_image(inputs / "sub01_0000.nii.gz")
    image[6:12, 10:16, 12:18] = np.nan
    write_image(image, geometry, inputs / "sub01_0000.nii.gz")
    assert read_image(inputs / "sub01_0000.nii.gz")[0][8, 12, 14] == 0  # SimpleITK: NaN -> 0
    assert _predict(model, inputs, tmp_path / "out") == 2
    [line] = _failed_lines(capsys, 1)
    assert "sub01_0000.nii.gz" in line and "216 NaN/Inf voxel(s)" in line
    assert _outputs(tmp_path / "out") == ["sub00", "sub02"]


def test_truncated_gzip_is_refused_and_the_others_predicted(tmp_path, cohort, capsys):
    model, inputs = cohort
    path = inputs / "sub00_0000.nii.gz"
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    assert _predict(model, inputs, tmp_path / "out") == 2
    [line] = _failed_lines(capsys, 1)
    assert "sub00_0000.nii.gz" in line and "truncated gzip stream" in line
    assert _outputs(tmp_path / "out") == ["sub01", "sub02"]


def test_continue_then_redoes_only_the_failed_cases(tmp_path, cohort, capsys):
    model, inputs = cohort
    good = (inputs / "sub02_0000.nii.gz").read_bytes()
    (inputs / "sub02_0000.nii.gz").write_bytes(good[:100])
    assert _predict(model, inputs, tmp_path / "out") == 2
    done = {c: (tmp_path / "out" / f"{c}.nii.gz").stat().st_mtime_ns for c in ("sub00", "sub01")}
    (inputs / "sub02_0000.nii.gz").write_bytes(good)
    capsys.readouterr()
    assert _predict(model, inputs, tmp_path / "out", "--continue") == 0
    assert "1 case(s) predicted, 2 skipped" in capsys.readouterr().out
    assert {c: (tmp_path / "out" / f"{c}.nii.gz").stat().st_mtime_ns for c in done} == done
    assert _outputs(tmp_path / "out") == IDS


def test_several_defects_give_one_line_per_case(tmp_path, cohort, capsys):
    model, inputs = cohort
    (inputs / "sub00_0000.nii.gz").write_bytes(b"not an image")
    image, geometry = read_image(inputs / "sub02_0000.nii.gz")
    write_image(np.zeros_like(image), geometry, inputs / "sub02_0000.nii.gz")
    assert _predict(model, inputs, tmp_path / "out") == 2
    lines = sorted(_failed_lines(capsys, 2))
    assert "sub00_0000.nii.gz" in lines[0] and "not a gzip file" in lines[0]
    assert "sub02_0000.nii.gz" in lines[1] and "empty image" in lines[1]
    assert _outputs(tmp_path / "out") == ["sub01"]


def test_damaged_mask_is_refused(tmp_path, autosynth_env, one_minus, capsys):
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=2, mask_folder=tmp_path / "masks")
    mask, geometry = read_image(tmp_path / "masks" / "sub01.nii.gz")
    write_image(np.zeros_like(mask), geometry, tmp_path / "masks" / "sub01.nii.gz")
    assert _predict(model, tmp_path / "in", tmp_path / "out", "--masks",
                    str(tmp_path / "masks")) == 2
    [line] = _failed_lines(capsys, 1)
    assert "masks/sub01.nii.gz" in line and "empty mask" in line
    assert _outputs(tmp_path / "out") == ["sub00"]


def test_a_missing_mask_file_fails_only_its_case(tmp_path, autosynth_env, one_minus, capsys):
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=2, mask_folder=tmp_path / "masks")
    (tmp_path / "masks" / "sub00.nii.gz").unlink()
    assert _predict(model, tmp_path / "in", tmp_path / "out", "--masks",
                    str(tmp_path / "masks")) == 2
    [line] = _failed_lines(capsys, 1)
    assert "masks/sub00.nii.gz" in line and "no brain mask for case sub00" in line
    assert _outputs(tmp_path / "out") == ["sub01"]


def _unstripped(image: np.ndarray, seed: int = 0) -> np.ndarray:
    """A bright head ring touching the brain and a noisy background around it."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, s) for s in image.shape], indexing="ij")
    radius = np.sqrt(z ** 2 / 0.8 + y ** 2 / 0.6 + x ** 2 / 0.55)
    head = np.where((radius >= 0.95) & (radius < 1.15), 400.0, 0.0)
    noise = np.abs(rng.normal(0, 5, image.shape))
    return np.where(image > 0, image, head + noise).astype(np.float32)


def test_not_skull_stripped_input_is_refused_without_masks(tmp_path, autosynth_env, one_minus,
                                                           capsys):
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=2, mask_folder=tmp_path / "masks")
    path = tmp_path / "in" / "sub00_0000.nii.gz"
    image, geometry = read_image(path)
    write_image(_unstripped(image), geometry, path)
    assert _predict(model, tmp_path / "in", tmp_path / "out") == 2
    [line] = _failed_lines(capsys, 1)
    assert "sub00_0000.nii.gz" in line and "not skull-stripped" in line
    assert "100% of the field of view" in line
    assert "--masks" in line and "--force-derived-mask" in line
    assert _outputs(tmp_path / "out") == ["sub01"]
    # with masks, the same input is predicted, zero outside the brain
    assert _predict(model, tmp_path / "in", tmp_path / "masked", "--masks",
                    str(tmp_path / "masks")) == 0
    output = read_image(tmp_path / "masked" / "sub00.nii.gz")[0]
    assert np.all(output[read_image(tmp_path / "masks" / "sub00.nii.gz")[0] == 0] == 0)
    # forced, it is predicted with the whole-head mask
    assert _predict(model, tmp_path / "in", tmp_path / "forced", "--force-derived-mask") == 0
    assert np.count_nonzero(read_image(tmp_path / "forced" / "sub00.nii.gz")[0]) > \
        np.count_nonzero(output)


def test_misnamed_files_are_named_in_the_error(tmp_path, autosynth_env, capsys):
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "gz", n_cases=2)
    inputs = tmp_path / "in"
    inputs.mkdir()
    data = (tmp_path / "gz" / "sub00_0000.nii.gz").read_bytes()
    (inputs / "sub00_0000.nii.gzz").write_bytes(data)
    (inputs / "sub01_0000.NII.GZ").write_bytes(data)
    (inputs / "notes.txt").write_text("not an image")
    assert _predict(model, inputs, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "sub00_0000.nii.gzz" in err and "sub01_0000.NII.GZ" in err and "notes.txt" not in err


def test_misnamed_files_beside_good_ones_are_named(tmp_path, cohort, capsys):
    model, inputs = cohort
    (inputs / "sub03_0000.NII.GZ").write_bytes((inputs / "sub00_0000.nii.gz").read_bytes())
    assert _predict(model, inputs, tmp_path / "out") == 0
    err = capsys.readouterr().err
    assert "sub03_0000.NII.GZ" in err and "look like images" in err
    assert _outputs(tmp_path / "out") == IDS


@pytest.mark.slow
def test_worker_processes_report_failed_cases_too(tmp_path, autosynth_env, capsys):
    """-np 2: the failure travels back from the spawned worker as one line."""
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=3)
    data = (tmp_path / "in" / "sub01_0000.nii.gz").read_bytes()
    (tmp_path / "in" / "sub01_0000.nii.gz").write_bytes(data[:len(data) // 2])
    assert _predict(model, tmp_path / "in", tmp_path / "out", "-np", "2") == 2
    [line] = _failed_lines(capsys, 1)
    assert "sub01_0000.nii.gz" in line and "truncated gzip stream" in line
    assert _outputs(tmp_path / "out") == ["sub00", "sub02"]
    assert not list((tmp_path / "out").glob(".*.lock"))
