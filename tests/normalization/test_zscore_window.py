"""The planned z window covers a bright lesion, and the plan says what it clips."""
import numpy as np
import pytest

from autosynth.dataset.dataset_json import DatasetJson
from autosynth.dataset.image_io import Geometry, write_image
from autosynth.experiment_planning.fingerprint import compute_fingerprint
from autosynth.normalization.zscore_window import TUMOUR_CLIP_LIMIT, plan_z_window
from autosynth.experiment_planning.planner import plan_2d

SHAPE = (16, 24, 24)
GEOMETRY = Geometry((24, 24, 16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))


def write_lesion_dataset(folder, n_cases=6):
    """Noisy 'brain' boxes with a bright lesion (3-4 % of the brain, z ~ 5-6) in FLAIR."""
    volumes = []
    for i in range(n_cases):
        rng = np.random.default_rng(i)
        brain = np.zeros(SHAPE, bool)
        brain[2:14, 3:21, 3:21] = True
        flair = np.where(brain, 100 + 10 * rng.standard_normal(SHAPE), 0)
        labels = np.zeros(SHAPE, np.uint8)
        labels[6:10, 8 + i % 3:14 + i % 3, 8:14] = 2
        flair[labels > 0] = 170 + 8 * rng.standard_normal(int((labels > 0).sum()))
        t1 = np.where(brain, 80 + 5 * rng.standard_normal(SHAPE), 0)
        write_image(t1.astype(np.float32), GEOMETRY, folder / "imagesTr" / f"c{i}_0000.nii.gz")
        write_image(flair.astype(np.float32), GEOMETRY,
                    folder / "imagesTr" / f"c{i}_0001.nii.gz")
        write_image(brain.astype(np.uint8), GEOMETRY, folder / "masksTr" / f"c{i}.nii.gz")
        write_image(labels, GEOMETRY, folder / "labelsTr" / f"c{i}.nii.gz")
        volumes.append((flair, brain, labels > 0))
    DatasetJson(name="Lesion", channel_names={0: "T1", 1: "FLAIR"},
                numTraining=n_cases).save(folder / "dataset.json")
    return volumes


def clipped_share(volumes, z_low, z_high, region):
    clipped = total = 0
    for flair, brain, tumour in volumes:
        z = (flair - flair[brain].mean()) / flair[brain].std()
        inside = brain if region == "brain" else tumour
        clipped += int(((z[inside] > z_high) | (z[inside] < z_low)).sum())
        total += int(inside.sum())
    return clipped / total


def test_window_covers_the_lesion_and_the_plan_reports_what_it_clips(tmp_path):
    folder = tmp_path / "Dataset003_Lesion"
    volumes = write_lesion_dataset(folder)
    fingerprint = compute_fingerprint(folder, progress=False)
    pooled = fingerprint["intensity_properties"]["FLAIR"]["zscore_percentile_99_5"]
    # the old window (pooled 99.5 %) clips a large share of the lesion
    assert clipped_share(volumes, -10, np.ceil(pooled * 10) / 10, "tumour") > 0.05
    window = plan_z_window(fingerprint, "FLAIR")
    tumour_clipped = clipped_share(volumes, window.z_low, window.z_high, "tumour")
    assert tumour_clipped < TUMOUR_CLIP_LIMIT
    assert clipped_share(volumes, window.z_low, window.z_high, "brain") < 0.01
    config = plan_2d(fingerprint, ["T1", "FLAIR"])
    assert config.normalization["FLAIR"].z_high == window.z_high
    note = next(n for n in config.notes if n.startswith("FLAIR: z window"))
    assert "per-case maxima" in note and "of brain voxels" in note and "tumour voxels" in note
    # the reported tumour share is the sample's, close to the volumes' own
    reported = float(note.split("and ")[-1].split("%")[0]) / 100
    assert reported == pytest.approx(tumour_clipped, abs=0.003)
    assert "more than" not in note


def test_without_labels_or_tail_table_the_note_says_so():
    fingerprint = {"intensity_properties": {"T1": {"zscore_percentile_00_5": -2.04,
                                                   "zscore_percentile_99_5": 3.51}},
                   "cases": {}}
    window = plan_z_window(fingerprint, "T1")
    assert (window.z_low, window.z_high) == (-2.1, 3.6)
    assert "no per-case maxima" in window.note and "unknown" in window.note
