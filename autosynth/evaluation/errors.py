"""The one error type of evaluation: a problem the user can fix, told in one line."""
from __future__ import annotations


class EvaluationError(RuntimeError):
    """A missing reference, a grid mismatch, an impossible normalisation request...

    The command-line tools print the message alone (no traceback) and exit with code 2.
    """
