"""The simulated demo cohort: physics, anatomy, reproducibility, layout and the CLI.

Subjects are made at 3 mm (about 0.2 s each after a one-off ~3 s template load), so the file
runs in well under a minute.
"""
import sys

import numpy as np
import pytest

pytest.importorskip("nilearn")

from autosynth.dataset.dataset_json import DatasetJson  # noqa: E402
from autosynth.dataset.image_io import read_image  # noqa: E402
from autosynth.dataset.integrity import verify_dataset  # noqa: E402
from dataset_conversion.simulated_brats import anatomy as anatomy_module  # noqa: E402
from dataset_conversion.simulated_brats.anatomy import (MissingDemoDependencyError,  # noqa: E402
                                                        load_anatomy)
from dataset_conversion.simulated_brats.cli import main  # noqa: E402
from dataset_conversion.simulated_brats.cohort import (CohortSettingsError,  # noqa: E402
                                                       generate_cohort)
from dataset_conversion.simulated_brats.signal import (inversion_recovery,  # noqa: E402
                                                       null_inversion_time, spin_echo)
from dataset_conversion.simulated_brats.subject import case_files, simulate_subject  # noqa: E402

SPACING = 3.0
LPS = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)


@pytest.fixture(scope="module")
def anatomy():
    return load_anatomy(SPACING)


@pytest.fixture(scope="module")
def subject(anatomy):
    made = simulate_subject(anatomy, seed=0, index=0, case_id="SimBraTS_000")
    assert made.parameters.lesion is not None, "the test subject must carry a lesion"
    return made


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Two cases written through the CLI, as a user would (montage included)."""
    root = tmp_path_factory.mktemp("raw")
    assert main(["-o", str(root), "--cases", "2", "--spacing", str(SPACING), "--seed", "7",
                 "--quiet"]) == 0
    return root / "Dataset900_SimBraTS"


def _all_arrays(folder, cases=("SimBraTS_000", "SimBraTS_001")):
    return [read_image(p)[0] for case in cases for p in case_files(folder, case)]


# ----------------------------------------------------------------------------- physics
def test_signal_equations_and_csf_null():
    tr, t1_csf = 9000.0, 4000.0
    ti = null_inversion_time(t1_csf, tr)
    assert ti == pytest.approx(t1_csf * (np.log(2) - np.log(1 + np.exp(-tr / t1_csf))))
    assert inversion_recovery(1.0, t1_csf, 1800.0, tr, 100.0, ti, 1.0) == pytest.approx(
        0, abs=1e-12)
    eta = 0.92  # the null moves with the inversion efficiency, and the formula follows it
    ti_eta = null_inversion_time(t1_csf, tr, eta)
    assert inversion_recovery(1.0, t1_csf, 1800.0, tr, 100.0, ti_eta, eta) == pytest.approx(
        0, abs=1e-12)
    # long TR, short TE: spin echo tends to PD
    assert spin_echo(0.8, 1000.0, 80.0, 1e6, 1e-6) == pytest.approx(0.8)


def test_contrast_order_in_tissue_masks(subject):
    """Medians in pure-tissue masks (fraction > 0.8, outside the lesion) order like real MRI."""
    f = subject.fractions
    lesion = (f["necrosis"] + f["oedema"] + f["enhancing"]) > 0
    masks = {t: (f[t] > 0.8) & ~lesion for t in ("WM", "GM", "CSF")}
    assert all(m.sum() > 50 for m in masks.values())
    med = {c: {t: float(np.median(image[m])) for t, m in masks.items()}
           for c, image in subject.images.items()}
    assert med["T1"]["WM"] > med["T1"]["GM"] > med["T1"]["CSF"]
    assert med["T2"]["CSF"] > med["T2"]["GM"] > med["T2"]["WM"]
    flair = subject.images["FLAIR"]
    assert med["FLAIR"]["CSF"] < 0.35 * min(med["FLAIR"]["WM"], med["FLAIR"]["GM"])
    oedema = float(np.median(flair[subject.labels == 2]))
    assert oedema > 1.3 * med["FLAIR"]["WM"]


def test_lesion_labels_and_skull_stripping(subject):
    labels, mask = subject.labels, subject.mask.astype(bool)
    assert labels.dtype == np.uint8 and set(np.unique(labels)) <= {0, 1, 2, 3}
    assert {2, 3} <= set(np.unique(labels))
    assert not labels[~mask].any()
    for image in subject.images.values():
        assert np.all(image[~mask] == 0) and np.all(image[mask] >= 0)
        assert np.isfinite(image).all() and image.dtype == np.float32
    # the oedema is mostly white matter that the lesion replaced
    oedema = labels == 2
    assert subject.fractions["oedema"][oedema].mean() > 0.5


def test_deformation_keeps_brain_inside_grid(subject):
    mask = subject.mask.astype(bool)
    for axis in range(3):
        faces = np.moveaxis(mask, axis, 0)
        assert not faces[-1].any(), f"brain touches the grid edge along axis {axis}"


# ----------------------------------------------------------------------------- reproducibility
def test_same_seed_same_files_different_seed_different_subjects(cohort, tmp_path):
    again = generate_cohort(tmp_path / "a", cases=2, spacing=SPACING, seed=7,
                            num_processes=2, montage=False, progress=False)
    for first, second in zip(_all_arrays(cohort), _all_arrays(again)):
        np.testing.assert_array_equal(first, second)
    other = generate_cohort(tmp_path / "b", cases=2, spacing=SPACING, seed=8, montage=False,
                            progress=False)
    for case in ("SimBraTS_000", "SimBraTS_001"):
        mask_a, mask_b = (read_image(case_files(f, case)[3])[0] for f in (cohort, other))
        labels_a, labels_b = (read_image(case_files(f, case)[4])[0] for f in (cohort, other))
        assert (mask_a != mask_b).mean() > 0.005  # another head shape
        assert not np.array_equal(labels_a, labels_b)  # another lesion (or none)


def test_subjects_differ_within_a_cohort(anatomy):
    a, b = (simulate_subject(anatomy, 0, i, f"c{i}") for i in (1, 2))
    assert a.parameters.to_dict()["tissues"] != b.parameters.to_dict()["tissues"]
    assert not np.array_equal(a.mask, b.mask)


# ----------------------------------------------------------------------------- layout
def test_generated_dataset_passes_integrity_check(cohort):
    assert verify_dataset(cohort, progress=False) == []


def test_dataset_json_states_simulation_and_licence(cohort):
    dj = DatasetJson.load(cohort)
    assert dj.contrasts == ["T1", "T2", "FLAIR"] and dj.numTraining == 2
    assert dj.labels == {"background": 0, "necrosis": 1, "oedema": 2, "enhancing": 3}
    assert dj.extra["simulated"] is True and "SIMULATED" in dj.description
    assert "Copyright (C) 1993-2009 Louis Collins" in dj.licence
    assert "provided that the above" in dj.licence
    assert (cohort / "NOTICE_MNI_ICBM152.txt").read_text().strip() == dj.licence
    assert (cohort / "montage.png").stat().st_size > 10_000


def test_lps_geometry_shared_by_all_files(cohort):
    geometries = {read_image(p)[1] for p in case_files(cohort, "SimBraTS_000")}
    assert len(geometries) == 1
    geometry = geometries.pop()
    assert geometry.direction == LPS and geometry.spacing == (SPACING,) * 3


def test_resume_skips_finished_cases_and_refuses_other_settings(tmp_path):
    folder = generate_cohort(tmp_path, cases=1, spacing=SPACING, seed=7, montage=False,
                             progress=False)
    files = case_files(folder, "SimBraTS_000")
    before = [p.stat().st_mtime_ns for p in files]
    generate_cohort(tmp_path, cases=2, spacing=SPACING, seed=7, montage=False, progress=False)
    assert [p.stat().st_mtime_ns for p in files] == before
    assert DatasetJson.load(folder).numTraining == 2
    assert verify_dataset(folder, progress=False) == []
    with pytest.raises(CohortSettingsError, match="other settings"):
        generate_cohort(tmp_path, cases=2, spacing=SPACING, seed=99, montage=False,
                        progress=False)
    with pytest.raises(CohortSettingsError, match="beyond"):
        generate_cohort(tmp_path, cases=1, spacing=SPACING, seed=7, montage=False,
                        progress=False)


# ----------------------------------------------------------------------------- optional dependency
def test_without_nilearn_the_error_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "nilearn", None)
    with pytest.raises(MissingDemoDependencyError) as err:
        anatomy_module._nilearn_templates()
    assert "pip install nilearn" in str(err.value)
    assert "pip install 'autosynth[demo]'" in str(err.value)
    assert main(["-o", str(tmp_path), "--cases", "1", "--spacing", "7.5", "--quiet"]) == 1
    assert "pip install nilearn" in capsys.readouterr().err
