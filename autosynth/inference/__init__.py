"""Prediction of new cohorts with a trained model, on each input's own grid and geometry."""
from autosynth.inference.cohort import PredictionSettings, predict_cohort
from autosynth.inference.errors import PredictionError
from autosynth.inference.input_cases import InputCase, discover_input_cases, select_part
from autosynth.inference.model_folder import TrainedModel

__all__ = ["PredictionSettings", "predict_cohort", "PredictionError", "InputCase",
           "discover_input_cases", "select_part", "TrainedModel"]
