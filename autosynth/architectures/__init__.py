"""Networks built from a typed description (:class:`UNetConfig`) stored in the plans."""
from autosynth.architectures.config import UNetConfig, UNetConfigError
from autosynth.architectures.memory import (ActivationMemory, estimate_activation_memory,
                                            measure_saved_bytes)
from autosynth.architectures.unet2d import (PAPER_PARAMETER_COUNT, UNet2D, build_network,
                                            count_parameters)

__all__ = [
    "UNetConfig", "UNetConfigError", "UNet2D", "build_network", "count_parameters",
    "PAPER_PARAMETER_COUNT", "ActivationMemory", "estimate_activation_memory",
    "measure_saved_bytes",
]
