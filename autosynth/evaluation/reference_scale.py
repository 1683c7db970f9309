"""Put the reference images on the predictions' scale before comparing them.

A model predicts its target on the normalised [0, 1] scale it was trained on, so the real
target image must be normalised **the same way** (same scheme, same fixed window, its own
in-brain statistics) or the metrics compare two different scales. Where the scheme comes from,
first match wins:

1. ``--normalization SCHEME`` given explicitly (``none``: references used as they are);
2. a plan (``-d``/``--plans`` with the target contrast): the target's scheme and window, as
   in training;
3. ``prediction_info.json`` in the prediction folder (written by ``autosynth_predict``): the
   model's target normalisation;
4. otherwise **refused** (:func:`no_scale_message`): a per-case guess would score the predictions on a
   scale the model never used.

The corrected protocol scores on the reference's scale **without clipping** at the window
(``clip=False``): a bright lesion above the window keeps its value, so the error of a
prediction that stops at 1 is counted.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from autosynth.evaluation.errors import EvaluationError
from autosynth.experiment_planning.plans import Plans, PlansError
from autosynth.normalization import (NormalizationError, NormalizationPlan, get_scheme,
                                     scheme_names)


def no_scale_message() -> str:
    """The one line that says how to give the model's scale."""
    return ("the model's intensity scale is unknown: give the dataset (-d ID) or a plans file "
            "(--plans FILE) with -t TARGET, predictions written by autosynth_predict (with "
            f"prediction_info.json), or --normalization {'|'.join(scheme_names())}")


@dataclass
class ReferenceScale:
    """The normalisation applied to every reference, and where it came from."""

    plan: NormalizationPlan
    origin: str

    def to_dict(self) -> dict:
        return {"scheme": self.plan.scheme, "parameters": {k: v for k, v in asdict(self.plan)
                                                          .items() if v is not None},
                "origin": self.origin}


def plan_for_target(plans_file: Path, configuration: str, target: str) -> NormalizationPlan:
    try:
        config = Plans.load(plans_file).configuration(configuration)
    except PlansError as err:
        raise EvaluationError(str(err)) from None
    if target not in config.normalization:
        raise EvaluationError(f"{plans_file}: configuration '{configuration}' has no contrast "
                              f"'{target}'; known: {', '.join(config.normalization)}")
    return config.normalization[target]


def choose_scale(scheme: str | None = None, plan: NormalizationPlan | None = None,
                 plan_origin: str = "", prediction_info: dict | None = None,
                 z_window: tuple[float, float] | None = None) -> ReferenceScale:
    """Apply the precedence above. ``plan`` is the target's plan when a plans file was given."""
    if scheme is not None and scheme not in scheme_names():
        raise EvaluationError(f"--normalization must be one of {', '.join(scheme_names())}")
    from_info = None
    if prediction_info and prediction_info.get("target_normalization"):
        from_info = NormalizationPlan(**prediction_info["target_normalization"])
    known = [(plan, plan_origin), (from_info, "prediction_info.json of the predictions")]
    if scheme is None:
        for candidate, origin in known:
            if candidate is not None:
                return ReferenceScale(candidate, origin)
        raise EvaluationError(no_scale_message())
    try:
        return ReferenceScale(*get_scheme(scheme).reference_plan(known, z_window))
    except NormalizationError as err:
        raise EvaluationError(str(err)) from None


def normalise_reference(image: np.ndarray, brain: np.ndarray, scale: ReferenceScale,
                        clip: bool = True) -> np.ndarray:
    """The reference on the model's scale (0 outside the brain); unchanged for 'none'. With
    ``clip=False`` values beyond the window go below 0 / above 1 instead of being clipped."""
    return get_scheme(scale.plan.scheme).reference_on_model_scale(image, brain, scale.plan,
                                                                  clip=clip)
