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

DIMENSIONS = (2, 3)
BLOCKS = ("paper", "residual")
POOLINGS = ("max",)
NONLINEARITIES = ("relu", "leaky_relu")
LEAKY_RELU_SLOPE = 0.01  # nnU-Net's
INITIALIZATIONS = ("he_uniform", "kaiming_normal")
POOL_STRIDES = (1, 2)
UPSAMPLING_MODES = ("nearest", "transposed")
NORMS = ("none", "batch", "instance")
FINAL_ACTIVATIONS = ("tanh", "sigmoid", "identity")
DROPOUT_PLACES = ("encoder", "decoder", "both")

PAPER_FEATURES = [16, 32, 64, 128, 256]
# The paper: dropout "with an increasing rate from 10 to 30 %" over the levels. The published
# Keras code (commented-out encoder lines, active decoder lines) uses exactly these per level.
PAPER_DROPOUT = [0.1, 0.1, 0.2, 0.2, 0.3]
# nnU-Net's ResEnc-M: residual blocks per encoder stage (deeper stages repeat the last)
RESENC_M_BLOCKS = [1, 3, 4, 6, 6, 6, 6, 6]


def resenc_blocks(n_stages: int) -> list[int]:
    """Residual blocks per encoder stage of nnU-Net's ResEnc-M preset for ``n_stages``."""
    return [RESENC_M_BLOCKS[min(i, len(RESENC_M_BLOCKS) - 1)] for i in range(n_stages)]


CHANNEL_FIELDS = ("input_channels", "output_channels")
PLAN_REQUIRED = ("n_stages", "features_per_stage", "convs_per_stage", "dropout_per_stage")


class UNetConfigError(ValueError):
    """A U-Net description is inconsistent; the message names the field."""


@dataclass
class UNetConfig:
    """Everything that defines the network's structure.

    ``dimensions`` is 2 (slices, input ``(B, C, H, W)``) or 3 (patches, ``(B, C, D, H, W)``).
    ``pooling``, ``nonlinearity`` and ``initialization`` name one implementation each, so that
    an edited plan asking for another is refused, never ignored.

    Stage ``d`` (0 = full resolution) has ``features_per_stage[d]`` channels in the encoder and in
    the mirrored decoder; the last stage is the bottleneck. Going from stage ``d`` to ``d + 1``
    divides axis ``a`` by ``pool_strides[d][a]`` (1 or 2; None: 2 on every axis). An axis with
    stride 1 stops being pooled, as nnU-Net does for a coarse axis of anisotropic 3D data.

    ``block`` chooses the stages:

    - ``"paper"``: Osman & Tamam's U-Net. ``convs_per_stage[d]`` x (conv -> norm -> ReLU) in
      the encoder stage and again in the decoder stage, max-pooling between encoder stages,
      nearest (or transposed) up-sampling. Dropout of ``dropout_per_stage[d]`` follows the
      first ReLU of stage ``d``, in the encoder, the decoder or both (``dropout_in``; the
      paper's text describes the encoder, its published code the decoder).
    - ``"residual"``: nnU-Net's residual-encoder U-Net (ResEnc presets). A stem conv -> IN ->
      nonlinearity, then per encoder stage ``convs_per_stage[d]`` basic residual blocks
      (conv -> norm -> nonlinearity -> conv -> norm, plus the identity, or a strided 1x1
      conv -> norm where the shape changes, then the nonlinearity); the first block of stage
      ``d > 0`` downsamples by its strided first conv. So for this block ``convs_per_stage``
      counts *residual blocks* per encoder stage (ResEnc-M: 1, 3, 4, 6, 6, 6, ...:
      :func:`resenc_blocks`). Decoder: transposed conv (kernel = stride), concatenation with
      the skip, one conv -> norm -> nonlinearity per stage; a 1x1 head. ``upsampling`` must
      be ``"transposed"``; dropout is not used (rates must be 0).
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
    block: str = "paper"
    pool_strides: list[list[int]] | None = None

    def __post_init__(self) -> None:
        self.features_per_stage = [int(f) for f in self.features_per_stage]
        if isinstance(self.pool_strides, (list, tuple)):
            self.pool_strides = [list(s) if isinstance(s, (list, tuple)) else s
                                 for s in self.pool_strides]
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
    def strides(self) -> list[list[int]]:
        """Per stage transition, the down-sampling factor of each axis (2 unless planned)."""
        if self.pool_strides is None:
            return [[2] * self.dimensions for _ in range(self.num_stages - 1)]
        return [list(s) for s in self.pool_strides]

    @property
    def shape_divisors(self) -> tuple[int, ...]:
        """Each spatial axis must be a multiple of its entry (the product of its strides)."""
        divisors = [1] * self.dimensions
        for step in self.strides:
            divisors = [d * s for d, s in zip(divisors, step)]
        return tuple(divisors)

    def stage_shape(self, shape, stage: int) -> tuple[int, ...]:
        """Spatial shape of stage ``stage`` for an input of spatial ``shape``."""
        out = [int(n) for n in shape]
        for step in self.strides[:stage]:
            out = [n // s for n, s in zip(out, step)]
        return tuple(out)

    @property
    def shape_divisor(self) -> int:
        """H and W must be multiples of this (one 2x2 pooling per stage transition); only for
        isotropic strides, where every axis has the same divisor."""
        divisors = set(self.shape_divisors)
        if len(divisors) != 1:
            raise UNetConfigError(f"pool_strides {self.pool_strides} differ between axes; "
                                  "use shape_divisors")
        return divisors.pop()

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
        self._validate_block()
        self._validate_strides()

    def _validate_block(self) -> None:
        if self.block not in BLOCKS:
            raise UNetConfigError(f"block must be one of {BLOCKS}, got {self.block!r}")
        if self.block == "residual":
            if self.upsampling != "transposed":
                raise UNetConfigError("block 'residual' up-samples by transposed convolution: "
                                      f"upsampling must be 'transposed', got {self.upsampling!r}")
            if any(self.dropout_per_stage):
                raise UNetConfigError("block 'residual' has no dropout: dropout_per_stage must "
                                      f"be all 0, got {self.dropout_per_stage}")

    def _validate_strides(self) -> None:
        if self.pool_strides is None:
            return
        expected = self.num_stages - 1
        if not isinstance(self.pool_strides, list) or len(self.pool_strides) != expected:
            raise UNetConfigError(f"pool_strides needs one entry per stage transition "
                                  f"({expected}), got {self.pool_strides}")
        for step in self.pool_strides:
            if (not isinstance(step, list) or len(step) != self.dimensions
                    or any(type(s) is not int or s not in POOL_STRIDES for s in step)):
                raise UNetConfigError(f"pool_strides: each entry must be {self.dimensions} "
                                      f"ints in {POOL_STRIDES}, got {step}")

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

    @classmethod
    def residual(cls, features_per_stage: list[int], dimensions: int = 2,
                 input_channels: int = 1, output_channels: int = 1,
                 **overrides: Any) -> "UNetConfig":
        """nnU-Net's ResEnc-M U-Net: residual encoder, IN, leaky ReLU, He-normal init, linear
        head (prediction clamps to [0, 1])."""
        n = len(features_per_stage)
        values = dict(features_per_stage=list(features_per_stage), dimensions=dimensions,
                      convs_per_stage=resenc_blocks(n), dropout_per_stage=[0.0] * n,
                      block="residual", norm="instance", nonlinearity="leaky_relu",
                      initialization="kaiming_normal", upsampling="transposed",
                      final_activation="identity")
        values.update(overrides)
        return cls(input_channels=input_channels, output_channels=output_channels, **values)
