"""Find a trainer class by name: built-in variants, ``<N>epochs`` and a user's own module.

A user's trainers live in any importable module named by the environment variable
``AUTOSYNTH_EXTRA_TRAINERS`` (several separated by ``,``): every subclass of
:class:`SynthesisTrainer` defined there can be chosen with ``-tr ClassName``.
"""
from __future__ import annotations

import importlib
import inspect
import os
import re

from autosynth.training import variants
from autosynth.training.trainer import SynthesisTrainer

_EPOCHS = re.compile(r"^SynthesisTrainer_(\d+)epochs$")


def _classes_in(module) -> dict[str, type[SynthesisTrainer]]:
    return {name: obj for name, obj in vars(module).items()
            if inspect.isclass(obj) and issubclass(obj, SynthesisTrainer)}


def available_trainers() -> dict[str, type[SynthesisTrainer]]:
    found = {"SynthesisTrainer": SynthesisTrainer, **_classes_in(variants)}
    for module_name in filter(None, os.environ.get("AUTOSYNTH_EXTRA_TRAINERS", "").split(",")):
        try:
            module = importlib.import_module(module_name.strip())
        except ImportError as err:
            raise ImportError(f"AUTOSYNTH_EXTRA_TRAINERS names '{module_name}', which cannot be "
                              f"imported: {err}") from None
        found.update(_classes_in(module))
    return found


def get_trainer_class(name: str) -> type[SynthesisTrainer]:
    trainers = available_trainers()
    if name in trainers:
        return trainers[name]
    match = _EPOCHS.match(name)
    if match and int(match.group(1)) > 0:
        return variants.epochs_variant(int(match.group(1)))
    raise ValueError(f"unknown trainer '{name}'; available: {', '.join(sorted(trainers))}, "
                     "SynthesisTrainer_<N>epochs, or classes from modules named in "
                     "AUTOSYNTH_EXTRA_TRAINERS")
