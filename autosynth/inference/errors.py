"""The one error type of prediction: a problem the user can fix, told in one line."""
from __future__ import annotations


class PredictionError(RuntimeError):
    """A missing contrast, a geometry mismatch, a model without the requested folds...

    The command-line tools print the message alone (no traceback) and exit with code 2, so the
    message must name the file or folder and say what is wrong.
    """


class CasesFailedError(PredictionError):
    """Some cases of a cohort failed (each already reported in one line); the others were
    predicted. ``failed`` maps case id to its message."""

    def __init__(self, failed: dict[str, str], predicted: int):
        self.failed, self.predicted = dict(failed), predicted
        super().__init__(f"{len(failed)} case(s) failed ({', '.join(sorted(failed))}), each "
                         f"named above with its defect; {predicted} predicted; fix them and "
                         "rerun with --continue to predict only the missing ones")
