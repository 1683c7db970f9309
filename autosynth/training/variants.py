"""The paper's ablations as trainer variants: each is one changed hook, not a copy.

``-tr SynthesisTrainer_TransposedConv`` etc. A schedule variant ``SynthesisTrainer_<N>epochs``
is made on demand by the registry for any N.
"""
from __future__ import annotations

from dataclasses import replace

from autosynth.architectures.config import UNetConfig
from autosynth.experiment_planning.plans import TrainingPlan
from autosynth.training.trainer import SynthesisTrainer


class SynthesisTrainer_TransposedConv(SynthesisTrainer):
    """Learned 2x2 transposed convolutions instead of nearest-neighbour up-sampling."""

    def configure_network(self, network: UNetConfig) -> UNetConfig:
        return replace(network, upsampling="transposed")


class SynthesisTrainer_BatchNorm(SynthesisTrainer):
    """Batch normalisation after every convolution."""

    def configure_network(self, network: UNetConfig) -> UNetConfig:
        return replace(network, norm="batch")


class SynthesisTrainer_MAELoss(SynthesisTrainer):
    """Mean absolute error instead of mean squared error (the paper found MSE better)."""

    def configure_schedule(self, schedule: TrainingPlan) -> TrainingPlan:
        return replace(schedule, loss="mae")


def epochs_variant(epochs: int) -> type[SynthesisTrainer]:
    """``SynthesisTrainer_<N>epochs``: the default trainer with another epoch budget."""

    def configure_schedule(self, schedule: TrainingPlan) -> TrainingPlan:
        return replace(schedule, epochs=epochs)

    return type(f"SynthesisTrainer_{epochs}epochs", (SynthesisTrainer,),
                {"configure_schedule": configure_schedule,
                 "__doc__": f"The default trainer for {epochs} epochs."})
