"""The ``--device`` option every computing command shares, and how its default is chosen."""
from __future__ import annotations


DEVICES = ("cpu", "cuda", "mps")


def add_device_option(parser, what: str = "") -> None:
    """``--device cpu|cuda|mps``; ``what`` prefixes the help (e.g. 'training device')."""
    default = "default: cuda if available, else mps, else cpu"
    parser.add_argument("--device", default=None, choices=DEVICES,
                        help=f"{what} ({default})" if what else default)


def resolve_device(requested: str | None) -> str:
    """The requested device, or the best one available."""
    if requested:
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


