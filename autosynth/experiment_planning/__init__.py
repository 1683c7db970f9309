"""Fingerprint, plans and splits: what autosynth decides about a dataset before training.

Modules: ``fingerprint`` (what the data are), ``planner`` (configurations from a fingerprint),
``plans`` (``plans.json`` as typed dataclasses), ``splits`` (the patient-level split file).
Import from the modules; this package file imports nothing, so that reading a plan does not
pull in the planner's dependencies.
"""
