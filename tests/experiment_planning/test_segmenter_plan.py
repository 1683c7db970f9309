"""The segmenter's plan: derived from a 2D configuration, stored readable, read strictly."""
import json

import pytest

from autosynth.dataset.dataset_json import DatasetJson
from autosynth.experiment_planning.plans import PlansError
from autosynth.experiment_planning.segmenter_plan import SegmenterPlan, plan_segmenter
from tests.inference.model_builders import tiny_plan

LABELS = {"background": 0, "necrosis": 1, "oedema": 2, "enhancing": 3}


def _dataset_json(labels=LABELS):
    return DatasetJson(name="Dataset042_Tiny", channel_names={0: "T1", 1: "T2", 2: "FLAIR"},
                       numTraining=3, labels=labels)


def test_derived_from_the_configuration(tmp_path):
    plans = tiny_plan(features=(8, 16))
    plan = plan_segmenter(plans, "2d", _dataset_json())
    source = plans.configuration("2d")
    assert plan.plan.patch_size == source.patch_size
    assert plan.plan.inplane_spacing == source.inplane_spacing
    assert plan.plan.network.features_per_stage == [4, 8]
    assert plan.plan.network.final_activation == "identity"
    assert plan.plan.network.dropout_per_stage == [0.0, 0.0]
    assert plan.plan.training.loss == "dice_ce"
    assert plan.class_values == [0, 1, 2, 3] and plan.contrasts == ["T1", "T2", "FLAIR"]
    plan.save(tmp_path / "segmenter_plan.json")
    again = SegmenterPlan.load(tmp_path)
    assert again.to_dict() == plan.to_dict()


def test_refusals_name_the_problem(tmp_path):
    with pytest.raises(PlansError, match="names no tumour labels"):
        plan_segmenter(tiny_plan(), "2d", _dataset_json(labels={"background": 0}))
    with pytest.raises(PlansError, match="configuration '3d_fullres' is not planned"):
        plan_segmenter(tiny_plan(), "3d_fullres", _dataset_json())
    data = plan_segmenter(tiny_plan(), "2d", _dataset_json()).to_dict()
    data["plan"]["network"]["features_per_stage"] = [4, 8, 16]     # n_stages says 2
    (tmp_path / "segmenter_plan.json").write_text(json.dumps(data))
    with pytest.raises(PlansError, match="segmenter_plan.json: plan.network"):
        SegmenterPlan.load(tmp_path)
    (tmp_path / "segmenter_plan.json").write_text(json.dumps({**data, "extra": 1}))
    with pytest.raises(PlansError, match="unknown field"):
        SegmenterPlan.load(tmp_path)
