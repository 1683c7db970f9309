"""An ablation study as a YAML file: which variants to compare, on which folds, with which seeds.

```yaml
name: paper_ablations
source: T1            # or a list: [T1, T2]
target: FLAIR
configuration: 2d
folds: [0]
seeds: [0, 1, 2]      # each variant is trained once per fold and seed
epochs: null          # optional: override the plan's epoch budget for every run
reference: baseline   # the row the others are tested against (default: the first)
variants:
  - name: baseline
  - name: transposed_conv
    trainer: SynthesisTrainer_TransposedConv
  - name: no_dropout
    plan: {network.dropout_per_stage: 0.0}     # a scalar fills a per-stage list
  - name: mae_loss
    plan: {training.loss: mae}
```

A variant is a trainer (any ``-tr`` name) and/or edits of the plan's ``network.*`` and
``training.*`` fields; a variant with another normalisation names a configuration planned with
it (``configuration:``), since its data must be preprocessed that way. Every run is a trainer
class of its own, ``<Trainer>_<variant>_seed<k>``, so its folder is its own.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from autosynth.architectures.config import CHANNEL_FIELDS, UNetConfig
from autosynth.experiment_planning.plans import TrainingPlan
from autosynth.training.registry import get_trainer_class
from autosynth.training.trainer import SynthesisTrainer

EDITABLE = {"network": {f.name for f in dataclasses.fields(UNetConfig)} - set(CHANNEL_FIELDS),
            "training": {f.name for f in dataclasses.fields(TrainingPlan)} - {"seed"}}
PER_STAGE = {"features_per_stage", "convs_per_stage", "dropout_per_stage"}
STUDY_KEYS = {"name", "source", "target", "configuration", "folds", "seeds", "epochs",
              "reference", "variants"}
VARIANT_KEYS = {"name", "trainer", "plan", "configuration"}
VARIANT_NAME = re.compile(r"^[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*$")   # part of a folder name


class StudyError(ValueError):
    """A study file that cannot be run; the message names the file and the defect."""


@dataclass
class Variant:
    name: str
    trainer: str = "SynthesisTrainer"
    plan: dict = field(default_factory=dict)
    configuration: str | None = None


@dataclass
class Study:
    name: str
    sources: list[str]
    target: str
    variants: list[Variant]
    configuration: str = "2d"
    folds: list[str] = field(default_factory=lambda: ["0"])
    seeds: list[int] = field(default_factory=lambda: [0])
    epochs: int | None = None
    reference: str | None = None

    @property
    def reference_name(self) -> str:
        return self.reference or self.variants[0].name

    @classmethod
    def load(cls, path: str | Path) -> "Study":
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise StudyError(f"{path}: cannot read the study: "
                             f"{str(err).splitlines()[0]}") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data, where: str = "study") -> "Study":
        if not isinstance(data, dict):
            raise StudyError(f"{where}: a study is a mapping with 'variants'")
        unknown = set(data) - STUDY_KEYS
        if unknown:
            raise StudyError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: "
                             f"{', '.join(sorted(STUDY_KEYS))}")
        for key in ("source", "target", "variants"):
            if not data.get(key):
                raise StudyError(f"{where}: '{key}' is missing")
        sources = data["source"] if isinstance(data["source"], list) else \
            [s.strip() for s in str(data["source"]).split(",")]
        variants = [_variant(v, f"{where}: variant {i + 1}")
                    for i, v in enumerate(data["variants"])]
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise StudyError(f"{where}: variant names repeat: {', '.join(names)}")
        study = cls(str(data.get("name") or Path(where).stem), [str(s) for s in sources],
                    str(data["target"]), variants, str(data.get("configuration", "2d")),
                    [str(f) for f in _as_list(data.get("folds", [0]))],
                    [int(s) for s in _as_list(data.get("seeds", [0]))],
                    None if data.get("epochs") is None else int(data["epochs"]),
                    data.get("reference"))
        if study.reference_name not in names:
            raise StudyError(f"{where}: reference '{study.reference}' is not a variant "
                             f"({', '.join(names)})")
        return study

    def with_seeds(self, n: int) -> "Study":
        """``--seeds N``: seeds 0..N-1."""
        return dataclasses.replace(self, seeds=list(range(int(n))))


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _variant(data, where: str) -> Variant:
    if isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, dict) or not data.get("name"):
        raise StudyError(f"{where}: needs a 'name'")
    if not VARIANT_NAME.match(str(data["name"])):
        raise StudyError(f"{where}: name '{data['name']}' must be letters and digits joined by "
                         "single '_' or '-' (it becomes part of a folder name)")
    unknown = set(data) - VARIANT_KEYS
    if unknown:
        raise StudyError(f"{where} ({data['name']}): unknown key(s) "
                         f"{', '.join(sorted(unknown))}; known: {', '.join(sorted(VARIANT_KEYS))}")
    edits = data.get("plan") or {}
    if not isinstance(edits, dict):
        raise StudyError(f"{where} ({data['name']}): 'plan' maps field names to values")
    for key in edits:
        group, _, name = str(key).partition(".")
        if group == "normalization":
            raise StudyError(f"{where} ({data['name']}): '{key}': a normalisation needs its own "
                             "preprocessed data; plan a configuration with it and name it as "
                             "the variant's 'configuration'")
        if name not in EDITABLE.get(group, set()):
            raise StudyError(f"{where} ({data['name']}): cannot edit '{key}'; editable: "
                             + ", ".join(f"{g}.{n}" for g in EDITABLE for n in
                                         sorted(EDITABLE[g])))
    trainer = str(data.get("trainer", "SynthesisTrainer"))
    try:
        get_trainer_class(trainer)
    except (ValueError, ImportError) as err:
        raise StudyError(f"{where} ({data['name']}): {err}") from None
    return Variant(str(data["name"]), trainer, dict(edits), data.get("configuration"))


def _apply(values, edits: dict):
    """A copy of the typed plan entry ``values`` with ``edits``; a single number given for a
    per-stage list applies to every stage."""
    changes = {}
    for name, value in edits.items():
        if name in PER_STAGE and not isinstance(value, list):
            value = [value] * len(getattr(values, name))
        changes[name] = value
    return dataclasses.replace(values, **changes)


def run_trainer_class(variant: Variant, seed: int) -> type[SynthesisTrainer]:
    """The trainer of one run: the variant's trainer with its plan edits and this seed."""
    base = get_trainer_class(variant.trainer)
    network = {k.split(".", 1)[1]: v for k, v in variant.plan.items() if k.startswith("network.")}
    training = {k.split(".", 1)[1]: v for k, v in variant.plan.items()
                if k.startswith("training.")}

    def configure_network(self, values: UNetConfig) -> UNetConfig:
        return _apply(base.configure_network(self, values), network)

    def configure_schedule(self, values: TrainingPlan) -> TrainingPlan:
        return _apply(base.configure_schedule(self, values), {**training, "seed": int(seed)})

    name = f"{base.__name__}_{variant.name}_seed{seed}"
    return type(name, (base,), {"configure_network": configure_network,
                                "configure_schedule": configure_schedule,
                                "__doc__": f"Study variant '{variant.name}', seed {seed}."})
