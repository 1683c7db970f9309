"""Typed description of a 2D U-Net, serialisable into plans.json.

The planner writes a :class:`UNetConfig` into the plans and the trainer rebuilds the network from
it, so everything that changes the network (and nothing else) lives here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

UPSAMPLING_MODES = ("nearest", "transposed")
NORMS = ("none", "batch", "instance")
FINAL_ACTIVATIONS = ("tanh", "sigmoid", "identity")
DROPOUT_PLACES = ("encoder", "decoder", "both")

PAPER_FEATURES = [16, 32, 64, 128, 256]
# The paper: dropout "with an increasing rate from 10 to 30 %" over the levels. The published
# Keras code (commented-out encoder lines, active decoder lines) uses exactly these per level.
PAPER_DROPOUT = [0.1, 0.1, 0.2, 0.2, 0.3]


class UNetConfigError(ValueError):
    """A U-Net description is inconsistent; the message names the field."""


@dataclass
class UNetConfig:
    """Everything that defines the network's structure.

    Stage ``d`` (0 = full resolution) has ``features_per_stage[d]`` channels in the encoder and in
    the mirrored decoder; the last stage is the bottleneck. Dropout of ``dropout_per_stage[d]``
    follows the ReLU of the first convolution of stage ``d``, in the encoder, the decoder or both
    (``dropout_in``; the paper's text describes the encoder, its published code the decoder).
    """

    input_channels: int = 1
    output_channels: int = 1
    features_per_stage: list[int] = field(default_factory=lambda: list(PAPER_FEATURES))
    convs_per_stage: int | list[int] = 2
    dropout_per_stage: list[float] = field(default_factory=lambda: list(PAPER_DROPOUT))
    dropout_in: str = "both"
    kernel_size: int = 3
    upsampling: str = "nearest"
    norm: str = "none"
    final_activation: str = "tanh"

    def __post_init__(self) -> None:
        self.features_per_stage = [int(f) for f in self.features_per_stage]
        if isinstance(self.convs_per_stage, (list, tuple)):
            self.convs_per_stage = [int(c) for c in self.convs_per_stage]
        self.dropout_per_stage = [float(p) for p in self.dropout_per_stage]
        self.validate()

    # -- derived -----------------------------------------------------------------------------
    @property
    def num_stages(self) -> int:
        return len(self.features_per_stage)

    @property
    def convs(self) -> list[int]:
        """Convolutions per stage as a list (an int applies to every stage)."""
        if isinstance(self.convs_per_stage, int):
            return [self.convs_per_stage] * self.num_stages
        return list(self.convs_per_stage)

    @property
    def shape_divisor(self) -> int:
        """H and W must be multiples of this (one 2x2 pooling per stage transition)."""
        return 2 ** (self.num_stages - 1)

    def encoder_dropout(self, stage: int) -> float:
        return self.dropout_per_stage[stage] if self.dropout_in in ("encoder", "both") else 0.0

    def decoder_dropout(self, stage: int) -> float:
        return self.dropout_per_stage[stage] if self.dropout_in in ("decoder", "both") else 0.0

    # -- checks and serialisation --------------------------------------------------------------
    def validate(self) -> None:
        def fail(msg: str) -> None:
            raise UNetConfigError(msg)

        if self.input_channels < 1:
            fail(f"input_channels must be >= 1, got {self.input_channels}")
        if self.output_channels < 1:
            fail(f"output_channels must be >= 1, got {self.output_channels}")
        if self.num_stages < 1 or any(f < 1 for f in self.features_per_stage):
            fail(f"features_per_stage must be a non-empty list of positive ints, "
                 f"got {self.features_per_stage}")
        if len(self.convs) != self.num_stages or any(c < 1 for c in self.convs):
            fail(f"convs_per_stage must be a positive int or one per stage "
                 f"({self.num_stages}), got {self.convs_per_stage}")
        if len(self.dropout_per_stage) != self.num_stages:
            fail(f"dropout_per_stage needs one rate per stage ({self.num_stages}), "
                 f"got {self.dropout_per_stage}")
        if any(not 0.0 <= p < 1.0 for p in self.dropout_per_stage):
            fail(f"dropout rates must lie in [0, 1), got {self.dropout_per_stage}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            fail(f"kernel_size must be odd and positive ('same' padding), got {self.kernel_size}")
        for name, value, allowed in (("upsampling", self.upsampling, UPSAMPLING_MODES),
                                     ("norm", self.norm, NORMS),
                                     ("final_activation", self.final_activation, FINAL_ACTIVATIONS),
                                     ("dropout_in", self.dropout_in, DROPOUT_PLACES)):
            if value not in allowed:
                fail(f"{name} must be one of {allowed}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "UNetConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise UNetConfigError(f"unknown UNetConfig fields: {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def paper(cls, input_channels: int = 1, output_channels: int = 1,
              **overrides: Any) -> "UNetConfig":
        """Osman & Tamam 2022: 5 stages 16-256, two 3x3 convs, nearest up-sampling, tanh."""
        return cls(input_channels=input_channels, output_channels=output_channels, **overrides)
