"""Intensity normalisation schemes: a registry of classes, one file per scheme.

A scheme is a :class:`NormalizationScheme` subclass decorated with :func:`register`; every
pipeline stage (plan checks, preprocessing, prediction's inverse and ``--denormalize``,
evaluation's reference scale, ``autosynth_evaluate --normalization``) finds it by the name in
``plans.json``. This package imports nothing else of autosynth, so every layer can use it.
See documentation/extending.md for adding one.
"""
from autosynth.normalization.registry import (EXTRA_MODULES_VARIABLE, NormalizationError,
                                              get_scheme, reference_statistics, register,
                                              scheme_names, unregister)
from autosynth.normalization.plan import NormalizationPlan
from autosynth.normalization.base import (EPSILON, LinearWindowScheme, NormalizationScheme,
                                          brain_values, denormalize, normalization_parameters,
                                          normalize)
from autosynth.normalization import brain_zscore, percentile, identity  # noqa: F401 (register)

PLANNED_SCHEME = brain_zscore.BrainZscore01.name
"""The scheme the planner gives every contrast (the paper's)."""

__all__ = ["EXTRA_MODULES_VARIABLE", "NormalizationError", "get_scheme", "reference_statistics",
           "register", "scheme_names", "unregister", "NormalizationPlan", "EPSILON",
           "LinearWindowScheme", "NormalizationScheme", "brain_values", "denormalize",
           "normalization_parameters", "normalize", "PLANNED_SCHEME"]
