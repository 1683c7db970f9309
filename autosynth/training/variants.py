"""The paper's ablations as trainer variants: each is one changed hook, not a copy.

``-tr SynthesisTrainer_TransposedConv`` etc. A schedule variant ``SynthesisTrainer_<N>epochs``
is made on demand by the registry for any N.
"""
from __future__ import annotations

from dataclasses import replace

from autosynth.architectures.config import UNetConfig
from autosynth.experiment_planning.network_topology import dropout_schedule
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


class SynthesisTrainer_ResidualBlock(SynthesisTrainer):
    """The plan's stages (features, strides, dimensions) with nnU-Net's residual-encoder block:
    ResEnc-M blocks per stage, instance norm, leaky ReLU, He-normal init, linear head."""

    def configure_network(self, network: UNetConfig) -> UNetConfig:
        return UNetConfig.residual(network.features_per_stage, network.dimensions,
                                   network.input_channels, network.output_channels,
                                   kernel_size=network.kernel_size,
                                   pool_strides=network.pool_strides)


class SynthesisTrainer_PaperBlock(SynthesisTrainer):
    """The plan's stages with the paper's block: two conv -> ReLU per stage, dropout rising
    0.1 -> 0.3, max-pooling, nearest up-sampling, He-uniform init, tanh head."""

    def configure_network(self, network: UNetConfig) -> UNetConfig:
        return UNetConfig(input_channels=network.input_channels,
                          output_channels=network.output_channels,
                          features_per_stage=network.features_per_stage,
                          convs_per_stage=[2] * network.num_stages,
                          dropout_per_stage=dropout_schedule(network.num_stages),
                          kernel_size=network.kernel_size, dimensions=network.dimensions,
                          pool_strides=network.pool_strides)


class SynthesisTrainer_L1SSIMLoss(SynthesisTrainer):
    """L1 + (1 - SSIM) instead of the plan's loss (region and tumour weight kept)."""

    def configure_schedule(self, schedule: TrainingPlan) -> TrainingPlan:
        return replace(schedule, loss="l1_ssim")


def epochs_variant(epochs: int) -> type[SynthesisTrainer]:
    """``SynthesisTrainer_<N>epochs``: the default trainer with another epoch budget."""

    def configure_schedule(self, schedule: TrainingPlan) -> TrainingPlan:
        return replace(schedule, epochs=epochs)

    return type(f"SynthesisTrainer_{epochs}epochs", (SynthesisTrainer,),
                {"configure_schedule": configure_schedule,
                 "__doc__": f"The default trainer for {epochs} epochs."})
