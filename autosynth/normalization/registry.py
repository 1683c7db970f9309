"""The registry of normalisation schemes: the one place that maps a scheme's name to its class.

Built-in schemes register themselves when :mod:`autosynth.normalization` is imported; a user's
schemes live in any importable module named by the environment variable
``AUTOSYNTH_EXTRA_NORMALIZATIONS`` (several separated by ``,``), imported on every look-up
(a no-op once imported), so spawned worker processes find them too.
"""
from __future__ import annotations

import importlib
import os

EXTRA_MODULES_VARIABLE = "AUTOSYNTH_EXTRA_NORMALIZATIONS"
OWN_SCHEMES_HINT = f"a scheme of your own: name its module in {EXTRA_MODULES_VARIABLE}"

_SCHEMES: dict = {}


class NormalizationError(ValueError):
    """A scheme is unknown, or cannot do what was asked with the parameters it was given."""


def register(cls):
    """Class decorator: make ``cls`` (a ``NormalizationScheme`` subclass) known by ``cls.name``."""
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name:
        raise NormalizationError(f"{cls.__name__}: a normalisation scheme needs a non-empty "
                                 "'name'")
    if name in _SCHEMES and type(_SCHEMES[name]) is not cls:
        raise NormalizationError(f"normalisation scheme '{name}' is already registered "
                                 f"({type(_SCHEMES[name]).__name__})")
    _SCHEMES[name] = cls()
    return cls


def unregister(name: str) -> None:
    """Forget scheme ``name`` (for tests that register a scheme of their own)."""
    _SCHEMES.pop(name, None)


def _load_extra_modules() -> None:
    for module_name in filter(None, (m.strip() for m in
                                     os.environ.get(EXTRA_MODULES_VARIABLE, "").split(","))):
        try:
            importlib.import_module(module_name)
        except ImportError as err:
            raise NormalizationError(f"{EXTRA_MODULES_VARIABLE} names '{module_name}', which "
                                     f"cannot be imported: {err}") from None


def scheme_names() -> list[str]:
    """The registered scheme names, built-ins first, in registration order."""
    _load_extra_modules()
    return list(_SCHEMES)


def get_scheme(name: str):
    """The registered scheme called ``name``; a clear error naming the known ones otherwise."""
    _load_extra_modules()
    if not isinstance(name, str) or name not in _SCHEMES:
        raise NormalizationError(f"unknown normalisation scheme '{name}'; known: "
                                 f"{', '.join(_SCHEMES)} ({OWN_SCHEMES_HINT})")
    return _SCHEMES[name]


def reference_statistics() -> tuple[str, ...]:
    """Every per-case intensity statistic some scheme's ``--denormalize`` reads, in order."""
    out: list[str] = []
    for name in scheme_names():
        out += [s for s in _SCHEMES[name].reference_statistics if s not in out]
    return tuple(out)
