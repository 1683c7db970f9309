"""Does the demo cohort look like the MRI it imitates? (issue 20)

Tissue ratios to white matter on pure-tissue voxels, over three seeds, both field strengths and
both T1 sequences; the grey/white contrast the eye sees (majority-tissue voxels); the MPRAGE
equation against a pulse-by-pulse simulation; lesion shapes (no boxes, necrosis enclosed by the
enhancing rim). Subjects at 3 mm, about 0.3 s each.
"""
import numpy as np
import pytest
from scipy import ndimage

pytest.importorskip("nilearn")

from dataset_conversion.simulated_brats.anatomy import load_anatomy  # noqa: E402
from dataset_conversion.simulated_brats.checks import (REFERENCE_RATIOS,  # noqa: E402
                                                       attainable_references, group_key,
                                                       lesion_shapes, nominal_ratio_ranges,
                                                       subject_contrast, summarise,
                                                       surface_metrics)
from dataset_conversion.simulated_brats.parameters import (draw_parameters,  # noqa: E402
                                                           subject_streams)
from dataset_conversion.simulated_brats.signal import mprage  # noqa: E402
from dataset_conversion.simulated_brats.subject import simulate_subject  # noqa: E402

SPACING = 3.0
PER_GROUP = 2  # subjects per (field strength, T1 sequence)

@pytest.fixture(scope="module")
def subjects():
    """Two subjects of every (field strength, T1 sequence) from seeds 0-2, chosen from their
    parameters (cheap) before simulating them."""
    anatomy = load_anatomy(SPACING)
    wanted, chosen = {}, []
    for seed in (0, 1, 2):
        for index in range(12):
            streams = subject_streams(seed, index)
            p = draw_parameters(streams["parameters"], anatomy, "x", seed, index)
            key = (p.field_strength, p.protocol["T1"].kind)
            if wanted.get(key, 0) < PER_GROUP:
                wanted[key] = wanted.get(key, 0) + 1
                chosen.append(simulate_subject(anatomy, seed, index, f"s{seed}_{index}"))
    assert len(wanted) == 4 and all(n == PER_GROUP for n in wanted.values())
    return chosen


@pytest.fixture(scope="module")
def contrasts(subjects):
    return [subject_contrast(s) for s in subjects]


def test_mprage_closed_form_matches_a_pulse_by_pulse_simulation():
    t1, tr, ti, flip, spacing, lines, eta = 950.0, 2300.0, 900.0, 9.0, 7.0, 176, 0.95
    a = np.radians(flip)
    mz, centre = 1.0, None
    for _ in range(40):  # cycles until the steady state
        mz = -eta * mz
        before = ti - lines / 2 * spacing
        mz = 1 - (1 - mz) * np.exp(-before / t1)
        for k in range(lines):
            if k == lines // 2:
                centre = mz
            mz = 1 - (1 - mz * np.cos(a)) * np.exp(-spacing / t1)
        mz = 1 - (1 - mz) * np.exp(-(tr - before - lines * spacing) / t1)
    expected = 0.7 * np.sin(a) * abs(centre) * np.exp(-3.0 / 72.0)
    assert mprage(0.7, t1, 72.0, tr, 3.0, ti, eta, flip, spacing, lines) == pytest.approx(
        expected, rel=1e-6)


def test_pure_tissue_ratios_follow_the_equations_and_real_mri(contrasts):
    summary = summarise(contrasts, "pure")
    for result in contrasts:  # every subject: the equations, give or take jitter and noise
        nominal = nominal_ratio_ranges(result.field_strength)
        for contrast, ratios in result.pure.items():
            group = group_key(result, contrast)
            for tissue, value in ratios.items():
                if value is None or (contrast == "FLAIR" and tissue == "CSF"):
                    continue  # FLAIR CSF: nulled, its floor is noise (checked below)
                low, high = nominal[group][tissue]
                assert 0.85 * low <= value <= 1.15 * high, (result.case_id, group, tissue, value)
    held = 0
    for field in (1.5, 3.0):  # where the equations can reach the real-image range, it is met
        for group, tissue in attainable_references(field):
            low, high = REFERENCE_RATIOS[group][tissue]
            cell = summary[group][f"{field:g} T"].get(tissue)
            if cell is not None:
                held += 1
                assert low <= cell["median"] <= high, (group, field, tissue, cell)
    assert held >= 4
    for field in ("1.5 T", "3 T"):  # the 3D T1 gives the contrast of real 3D T1 (ICBM: 0.78)
        assert 0.65 <= summary["T1 MPRAGE"][field]["GM"]["median"] <= 0.88
        assert summary["T1 MPRAGE"][field]["CSF"]["median"] <= 0.40
        assert summary["T1 MPRAGE"][field]["GM"]["median"] \
            < summary["T1 spin echo"][field]["GM"]["median"] - 0.05


def test_grey_matter_that_the_eye_sees_is_not_washed_out_by_csf(contrasts):
    """Majority-GM voxels (mostly cortex): with the template's population probabilities used
    as fractions, partial volume with nulled CSF made them nearly as dark as WM on FLAIR."""
    summary = summarise(contrasts, "majority")
    for field in ("1.5 T", "3 T"):
        assert summary["FLAIR"][field]["GM"]["median"] >= 1.13  # 1.09 before, at 3 mm
        assert summary["T1 MPRAGE"][field]["GM"]["median"] <= 0.88
    for c in contrasts:  # the cortex is grey matter, not a GM/CSF/WM mixture (0.04 before)
        assert c.pure_voxels["GM"] > 0.3 * c.pure_voxels["WM"], c.case_id


def test_shape_metric_tells_a_box_from_a_ball():
    grid = np.indices((40, 40, 40)).astype(np.float32) - 19.5
    ball = np.clip(14.5 - np.sqrt((grid ** 2).sum(axis=0)), 0, 1)
    box = np.clip(14.5 - np.abs(grid).max(axis=0), 0, 1)
    assert surface_metrics(box)["axis_facing"] > 0.9 and surface_metrics(box)["box_fill"] > 0.95
    assert surface_metrics(ball)["axis_facing"] < 0.1
    assert surface_metrics(ball)["box_fill"] == pytest.approx(np.pi / 6, abs=0.03)


def test_lesion_cores_and_rims_are_round_not_boxes(subjects):
    measured = [lesion_shapes(s) for s in subjects if s.parameters.lesion is not None]
    assert sum("necrosis" in m for m in measured) >= 3
    for shapes in measured:
        for region, metrics in shapes.items():
            assert metrics["axis_facing"] < 0.2, (region, metrics)
            assert metrics["box_fill"] < 0.7, (region, metrics)


def test_necrosis_is_enclosed_by_the_enhancing_rim(subjects):
    cross = ndimage.generate_binary_structure(3, 1)
    cores = 0
    for subject in subjects:
        core = subject.labels == 1
        if core.any():
            cores += 1
            ring = ndimage.binary_dilation(core, cross) & ~core
            assert set(np.unique(subject.labels[ring])) == {3}, subject.case_id
    assert cores >= 3
