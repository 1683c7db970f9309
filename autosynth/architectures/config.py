"""The one typed description of a U-Net: what ``plans.json`` holds under ``network`` and what a
checkpoint records as ``network_config``.

The planner writes a :class:`UNetConfig` into the plan (without the channel counts, which belong
to a translation, not to a configuration), the trainer sets the channels and builds the network
from it, and prediction rebuilds each fold's network from its checkpoint's copy. It is validated
here once; every field reaches the network. It imports nothing heavy, so the plan can hold it
without importing torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DIMENSIONS = (2,)  # 3D networks come with the 3d_fullres configuration
POOLINGS = ("max",)
NONLINEARITIES = ("relu",)
INITIALIZATIONS = ("he_uniform",)
UPSAMPLING_MODES = ("nearest", "transposed")
NORMS = ("none", "batch", "instance")
FINAL_ACTIVATIONS = ("tanh", "sigmoid", "identity")
DROPOUT_PLACES = ("encoder", "decoder", "both")

PAPER_FEATURES = [16, 32, 64, 128, 256]
# The paper: dropout "with an increasing rate from 10 to 30 %" over the levels. The published
# Keras code (commented-out encoder lines, active decoder lines) uses exactly these per level.
PAPER_DROPOUT = [0.1, 0.1, 0.2, 0.2, 0.3]


CHANNEL_FIELDS = ("input_channels", "output_channels")
PLAN_REQUIRED = ("n_stages", "features_per_stage", "convs_per_stage", "dropout_per_stage")


class UNetConfigError(ValueError):
    """A U-Net description is inconsistent; the message names the field."""


@dataclass
class UNetConfig:
    """Everything that defines the network's structure.

    ``dimensions`` is 2 (slices); ``pooling``, ``nonlinearity`` and ``initialization`` name the
    one implementation of each (2x2 max pooling, ReLU, Keras' He-uniform) so that an edited
    plan asking for another is refused, never ignored.

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
    dimensions: int = 2
    pooling: str = "max"
    nonlinearity: str = "relu"
    initialization: str = "he_uniform"

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

    @property
    def shape_divisors(self) -> tuple[int, ...]:
        """Per spatial axis, what its size must be a multiple of."""
        return (self.shape_divisor,) * self.dimensions

    def encoder_dropout(self, stage: int) -> float:
        return self.dropout_per_stage[stage] if self.dropout_in in ("encoder", "both") else 0.0

    def decoder_dropout(self, stage: int) -> float:
        return self.dropout_per_stage[stage] if self.dropout_in in ("decoder", "both") else 0.0

    # -- checks and serialisation --------------------------------------------------------------
    def validate(self) -> None:
        def fail(msg: str) -> None:
            raise UNetConfigError(msg)

        if not all(isinstance(getattr(self, n), int) for n in (*CHANNEL_FIELDS, "kernel_size",
                                                                 "dimensions")):
            fail("input_channels, output_channels, kernel_size and dimensions must be integers")
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
        for name, value, allowed in (("dimensions", self.dimensions, DIMENSIONS),
                                     ("pooling", self.pooling, POOLINGS),
                                     ("nonlinearity", self.nonlinearity, NONLINEARITIES),
                                     ("initialization", self.initialization, INITIALIZATIONS),
                                     ("upsampling", self.upsampling, UPSAMPLING_MODES),
                                     ("norm", self.norm, NORMS),
                                     ("final_activation", self.final_activation, FINAL_ACTIVATIONS),
                                     ("dropout_in", self.dropout_in, DROPOUT_PLACES)):
            if value not in allowed:
                fail(f"{name} must be one of {allowed}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def n_stages(self) -> int:
        """The plan's name for :attr:`num_stages` (written into plans.json for readers)."""
        return self.num_stages

    def to_plan_dict(self) -> dict[str, Any]:
        """The plan's ``network`` entry: the stage count, then every field but the channels
        of a translation."""
        return {"n_stages": self.num_stages,
                **{k: v for k, v in asdict(self).items() if k not in CHANNEL_FIELDS}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "UNetConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise UNetConfigError(f"unknown field(s) {', '.join(sorted(unknown))}; known fields: "
                                  f"{', '.join(cls.__dataclass_fields__)}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as err:  # e.g. "16" for 16, or a string for a list
            if isinstance(err, UNetConfigError):
                raise
            raise UNetConfigError(f"a value has the wrong type ({err})") from None

    @classmethod
    def from_plan_dict(cls, data: dict[str, Any]) -> "UNetConfig":
        """A plan's ``network`` entry (channels are set per translation by the trainer).
        The per-stage lists and ``n_stages`` must be written out; ``n_stages`` must match."""
        data = dict(data)
        channels = sorted(set(data) & set(CHANNEL_FIELDS))
        if channels:
            raise UNetConfigError(f"{', '.join(channels)} belong to a translation, not to the "
                                  "plan; remove them (the trainer sets them)")
        missing = [k for k in PLAN_REQUIRED if k not in data]
        if missing:
            raise UNetConfigError(f"missing field(s) {', '.join(missing)}")
        n_stages = data.pop("n_stages")
        config = cls.from_dict(data)
        if n_stages != config.num_stages:
            raise UNetConfigError(f"n_stages = {n_stages} differs from the "
                                  f"{config.num_stages} entries of features_per_stage")
        return config

    @classmethod
    def paper(cls, input_channels: int = 1, output_channels: int = 1,
              **overrides: Any) -> "UNetConfig":
        """Osman & Tamam 2022: 5 stages 16-256, two 3x3 convs, nearest up-sampling, tanh."""
        return cls(input_channels=input_channels, output_channels=output_channels, **overrides)
