"""Fingerprint, plans and splits: what autosynth decides about a dataset before training."""
from autosynth.experiment_planning.fingerprint import (FingerprintError, extract_fingerprint,
                                                       load_fingerprint)
from autosynth.experiment_planning.planner import PLANNERS, plan_experiment
from autosynth.experiment_planning.plans import (ConfigurationPlan, NetworkPlan,
                                                 NormalizationPlan, Plans, PlansError,
                                                 TrainingPlan)
from autosynth.experiment_planning.splits import SplitsError, ensure_splits, load_splits

__all__ = ["FingerprintError", "extract_fingerprint", "load_fingerprint", "PLANNERS",
           "plan_experiment", "ConfigurationPlan", "NetworkPlan", "NormalizationPlan", "Plans",
           "PlansError", "TrainingPlan", "SplitsError", "ensure_splits", "load_splits"]
