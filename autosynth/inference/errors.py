"""The one error type of prediction: a problem the user can fix, told in one line."""
from __future__ import annotations


class PredictionError(RuntimeError):
    """A missing contrast, a geometry mismatch, a model without the requested folds...

    The command-line tools print the message alone (no traceback) and exit with code 2, so the
    message must name the file or folder and say what is wrong.
    """
