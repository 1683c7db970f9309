"""The plan of the tumour segmenter that measures a synthesis model's utility.

The segmenter is an evaluation tool, not a product: it only has to be good enough that a worse
input image visibly costs Dice. So it is planned from a synthesis configuration (it reads that
configuration's preprocessed cases, with its patch and spacing) with a network a quarter of the
cost (half the features per stage), instance norm, no dropout and a softmax head over
background + the dataset's labels, and a short CPU-sized schedule. The plan is a
:class:`ConfigurationPlan` like any other, so it is stored, read and validated the same way
(``segmenter_plan.json`` in the segmenter's folder; edit it before training to change it), and
its ``network`` (a :class:`UNetConfig`) is where a 3D segmenter will be chosen once a 3D
configuration exists.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from autosynth.dataset.dataset_json import DatasetJson
from autosynth.experiment_planning.plans import ConfigurationPlan, Plans, PlansError, TrainingPlan
from autosynth.utils.files import read_json_document
from autosynth.utils.json_text import write_json_readable

SEGMENTER_PLAN_FILE = "segmenter_plan.json"
LOSS = "dice_ce"
EPOCHS = 12
ITERATIONS_PER_EPOCH = 25
VAL_ITERATIONS = 4
MAX_BATCH = 16
TUMOUR_OVERSAMPLING = 0.5
FEATURE_DIVISOR = 2


@dataclass
class SegmenterPlan:
    """What the segmenter reads, predicts and how it is built and trained.

    ``labels`` maps the dataset's foreground label names to values; output class ``k`` (k >= 1)
    is the ``k``-th smallest value, class 0 the background.
    """

    dataset_name: str
    configuration_name: str
    contrasts: list[str]
    labels: dict[str, int]
    plan: ConfigurationPlan
    notes: list[str] = field(default_factory=list)

    @property
    def class_values(self) -> list[int]:
        """Label value of each output class (class 0 = background = 0)."""
        return [0] + sorted(self.labels.values())

    def to_dict(self) -> dict:
        return {**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                   if f.name != "plan"}, "plan": self.plan.to_dict()}

    def save(self, path: str | os.PathLike) -> None:
        write_json_readable(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SegmenterPlan":
        path, data = read_json_document(path, SEGMENTER_PLAN_FILE, PlansError,
                                        "not found; run autosynth_train_segmenter first")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PlansError(f"{path}: unknown field(s) {', '.join(unknown)}")
        try:
            plan = ConfigurationPlan.from_dict(data["plan"], f"{path}: plan")
            labels = {str(k): int(v) for k, v in data["labels"].items()}
            return cls(str(data["dataset_name"]), str(data["configuration_name"]),
                       [str(c) for c in data["contrasts"]], labels, plan,
                       list(data.get("notes", [])))
        except KeyError as err:
            raise PlansError(f"{path}: missing field {err}") from None


def plan_segmenter(plans: Plans, configuration: str, dataset_json: DatasetJson) -> SegmenterPlan:
    """Derive the segmenter's plan from a planned synthesis configuration."""
    config = plans.configuration(configuration)
    if config.network.dimensions != 2 or len(config.patch_size) != 2:
        raise PlansError(f"configuration '{configuration}': the segmenter is 2D for now "
                         "(plan it on a 2D configuration, e.g. 2d)")
    labels = {name: int(value) for name, value in (dataset_json.labels or {}).items()
              if int(value) != 0}
    if not labels:
        raise PlansError(f"dataset.json of {plans.dataset_name} names no tumour labels "
                         "('labels' besides background): there is nothing to segment")
    network = dataclasses.replace(
        config.network,
        features_per_stage=[max(4, f // FEATURE_DIVISOR) for f in config.network.features_per_stage],
        dropout_per_stage=[0.0] * config.network.num_stages, norm="instance",
        final_activation="identity", upsampling="nearest")
    training = TrainingPlan(epochs=EPOCHS, iterations_per_epoch=ITERATIONS_PER_EPOCH,
                            val_iterations=VAL_ITERATIONS, patience=EPOCHS, loss=LOSS,
                            learning_rate=1e-3, augmentation=True, seed=0)
    plan = dataclasses.replace(config, network=network, training=training,
                               batch_size=min(MAX_BATCH, config.batch_size),
                               tumour_oversampling=TUMOUR_OVERSAMPLING, memory=None,
                               notes=[])
    notes = [f"derived from configuration '{configuration}': its preprocessed data, patch "
             f"{config.patch_size} and spacing; network features / {FEATURE_DIVISOR}, instance "
             "norm, no dropout, softmax over background + labels; Dice + cross-entropy",
             "an evaluation tool for the utility of synthetic images, not a BraTS-grade "
             "segmenter"]
    return SegmenterPlan(plans.dataset_name, configuration, list(plans.contrasts), labels, plan,
                         notes)
