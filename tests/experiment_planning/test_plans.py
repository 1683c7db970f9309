"""plans.json: typed round trip, user edits kept on re-planning, clear errors for bad edits."""
import json

import pytest

from autosynth.experiment_planning.fingerprint import extract_fingerprint
from autosynth.experiment_planning.configurations import plan_experiment
from autosynth.experiment_planning.plans import Plans, PlansError
from tests.builders import write_tiny_dataset


@pytest.fixture
def planned(tmp_path):
    raw = write_tiny_dataset(tmp_path / "raw" / "Dataset042_Tiny", n_cases=3)
    pre = tmp_path / "pre"
    extract_fingerprint(raw, pre, progress=False)
    plan_experiment(pre)
    return pre


def _edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def test_round_trip(planned):
    plans = Plans.load(planned)
    assert Plans.from_dict(plans.to_dict()) == plans
    assert set(plans.configurations) == {"2d", "2d_paper", "2.5d", "3d_fullres"}
    assert plans.contrasts == ["T1", "T2", "FLAIR"]


def test_user_edits_survive_replanning(planned):
    def change(data):
        data["configurations"]["2d"]["batch_size"] = 7
        data["configurations"]["2d"]["training"]["epochs"] = 3
        data["configurations"]["2d_paper"]["normalization"]["T1"] = {
            "scheme": "percentile_01", "percentile_low": 1.0, "percentile_high": 99.0}
    _edit(planned / "plans.json", change)
    plans, kept = plan_experiment(planned, memory_gb=64)
    assert kept == ["2d", "2d_paper", "2.5d", "3d_fullres"]
    assert plans.configurations["2d"].batch_size == 7
    assert plans.configurations["2d"].training.epochs == 3
    assert Plans.load(planned).configurations["2d_paper"].normalization["T1"].scheme == \
        "percentile_01"
    plans, kept = plan_experiment(planned, overwrite=True)
    assert kept == [] and plans.configurations["2d"].batch_size == 2


def test_a_missing_configuration_is_added_next_to_edited_ones(planned):
    _edit(planned / "plans.json", lambda d: d["configurations"].pop("2d_paper"))
    _edit(planned / "plans.json", lambda d: d["configurations"]["2d"].update(batch_size=5))
    plans, kept = plan_experiment(planned)
    assert kept == ["2d", "2.5d", "3d_fullres"] and plans.configurations["2d"].batch_size == 5
    assert plans.configurations["2d_paper"].batch_size == 32


@pytest.mark.parametrize("change, message", [
    (lambda d: d["configurations"]["2d"].update(batchsize=4), r"unknown field\(s\) batchsize"),
    (lambda d: d["configurations"]["2d_paper"].update(patch_size=[225, 224]),
     "divisible by 16"),
    (lambda d: d["configurations"]["2d"]["normalization"]["T1"].update(scheme="minmax"),
     "scheme 'minmax'"),
    (lambda d: d["configurations"]["2d"]["network"].pop("n_stages"), r"missing field\(s\) n_stages"),
    (lambda d: d["configurations"]["2d"]["normalization"].pop("T2"), "missing: \\['T2'\\]"),
])
def test_bad_edits_are_reported_with_file_and_field(planned, change, message):
    _edit(planned / "plans.json", change)
    with pytest.raises(PlansError, match=r"plans.json.*" + message):
        Plans.load(planned)


def test_plans_json_is_readable(planned):
    text = (planned / "plans.json").read_text()
    assert '"features_per_stage": [16, 32, 64, 128, 256]' in text
    assert '"patch_size": [224, 224]' in text
