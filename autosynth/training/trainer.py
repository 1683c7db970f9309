"""The synthesis trainer: a training loop a person can read top to bottom.

One :class:`SynthesisTrainer` trains one translation (sources -> target) on one fold of one
planned configuration. Variants (the paper's ablations) subclass it and change one hook; see
``variants.py``. Everything the loop needs to continue after a kill lives in the latest
checkpoint (:mod:`autosynth.results_layout`): weights, optimiser, epoch, all RNG states, the history and the
early-stopping state.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from batchgenerators.dataloading.multi_threaded_augmenter import MultiThreadedAugmenter
from torch import nn
from tqdm import tqdm

from autosynth import results_layout as layout
from autosynth.architectures.config import UNetConfig
from autosynth.architectures.unet2d import build_network
from autosynth.experiment_planning.plans import TrainingPlan
from autosynth.training import context
from autosynth.training import distributed as ddp
from autosynth.training.checkpointing import load_checkpoint, save_checkpoint
from autosynth.training.data_loading import SliceBatchLoader, fixed_validation_batches
from autosynth.training.early_stopping import EarlyStopping
from autosynth.training.micro_batch import fastest_micro_batch, forward_in_micro_batches
from autosynth.training.time_budget import TimeBudget
from autosynth.training.losses import build_loss
from autosynth.training.training_log import TrainingHistory, log_line
from autosynth.utils.files import interrupted_writes

LATEST, BEST, FINAL = (layout.checkpoint_name(c) for c in ("latest", "best", "final"))

MICRO_BATCH = 8  # slices per forward pass on the CPU: measured fastest for the paper net


class SynthesisTrainer:
    """Train ``sources -> target`` with the plan's network, loss, optimiser and schedule."""

    def __init__(self, run: "context.TrainingRun", device: str | torch.device = "cpu",
                 num_epochs: int | None = None, num_workers: int | None = None,
                 compile_network: bool = False, progress: bool = True,
                 distributed: ddp.DistributedContext = ddp.SINGLE_PROCESS):
        self.run = run
        self.dist = distributed
        self.config = run.configuration
        self.schedule: TrainingPlan = self.configure_schedule(
            dataclasses.replace(self.config.training))
        self.epochs_given = num_epochs is not None
        if num_epochs is not None:
            self.schedule.epochs = int(num_epochs)
        self.device = torch.device(device)
        self.num_workers = (min(2, os.cpu_count() or 1) if num_workers is None else num_workers)
        self.compile_network = compile_network
        self.progress = progress and distributed.is_main
        self.val_micro_batch: int | None = None   # measured on the first validation batch
        self.output_folder = run.output_folder
        self.history = TrainingHistory()
        self.early_stopping = EarlyStopping(self.schedule.patience)
        self.epoch = 0
        self.time_budget = TimeBudget()

    # ------------------------------------------------------------------ hooks for variants
    def configure_schedule(self, schedule: TrainingPlan) -> TrainingPlan:
        """The plan's schedule; variants return a changed copy (``dataclasses.replace``)."""
        return schedule

    def configure_network(self, network: UNetConfig) -> UNetConfig:
        """The plan's network description; variants return a changed copy."""
        return network

    def build_loss(self) -> nn.Module:
        """Called as ``loss(output, target, mask, labels)`` (mask and labels may be None)."""
        try:
            return build_loss(self.schedule.loss, self.schedule.loss_in_brain,
                              self.schedule.tumour_weight)
        except ValueError as err:
            raise ValueError(f"plan's training.loss: {err}") from None

    def build_optimizer(self, parameters) -> torch.optim.Optimizer:
        name = self.schedule.optimizer.lower()
        if name != "adam":
            raise ValueError(f"unknown optimizer '{name}' in the plan; known: adam")
        return torch.optim.Adam(parameters, lr=self.schedule.learning_rate)

    # ------------------------------------------------------------------ set-up
    def initialize(self) -> None:
        seed = int(self.schedule.seed)
        if self.config.batch_size % self.dist.world_size:
            raise ValueError(f"batch size {self.config.batch_size} is not divisible by "
                             f"{self.dist.world_size} processes; edit plans.json or change "
                             "the number of GPUs")
        torch.manual_seed(seed)  # same initial weights everywhere (DDP broadcasts rank 0's)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        self.network_config = dataclasses.replace(
            self.configure_network(self.config.network),
            input_channels=len(self.run.source_channels) * self.config.context_slices,
            output_channels=1)
        self.network = build_network(self.network_config).to(self.device)
        self.memory_format = context.memory_format(self.network_config.dimensions)
        self.network = self.network.to(memory_format=self.memory_format)  # CPU and CUDA
        self.has_batch_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                  for m in self.network.modules())
        self.forward_network = self.network
        if self.dist.enabled:
            self.forward_network = torch.nn.parallel.DistributedDataParallel(
                self.network, device_ids=[self.device.index] if self.device.type == "cuda"
                else None)
        if self.compile_network:
            self.forward_network = torch.compile(self.forward_network)
        torch.manual_seed(seed + self.dist.rank)  # each rank its own dropout masks
        self.loss = self.build_loss()
        self.optimizer = self.build_optimizer(self.network.parameters())
        # fp16 autocast (CUDA without bf16) needs loss scaling; bf16 and fp32 do not
        self.grad_scaler = (torch.amp.GradScaler("cuda") if self.device.type == "cuda"
                            and context.cuda_autocast_dtype() == torch.float16 else None)
        self.train_index, self.val_index = self.run.slice_indices()
        self.val_batches = fixed_validation_batches(
            self.val_index, self.run.source_channels, self.run.target_channel,
            self.config.batch_size, self.schedule.val_iterations, seed + 1,
            self.config.patch_size, self.config.context_slices)
        if self.dist.is_main:
            self.output_folder.mkdir(parents=True, exist_ok=True)
            self.run.write_reference_files()
        ddp.barrier(self.dist)

    def _train_loader(self):
        """Background workers producing batches from the current position of the run."""
        start = self.epoch * self.schedule.iterations_per_epoch
        loader = SliceBatchLoader(self.train_index, self.run.source_channels,
                                  self.run.target_channel, self.config.batch_size,
                                  int(self.schedule.seed), start_batch=start,
                                  augment=bool(self.schedule.augmentation),
                                  patch=self.config.patch_size,
                                  tumour_oversampling=self.config.tumour_oversampling,
                                  context_slices=self.config.context_slices,
                                  num_threads=max(1, self.num_workers), rank=self.dist.rank,
                                  world_size=self.dist.world_size)
        if self.num_workers == 0:
            return iter(loader)
        return MultiThreadedAugmenter(loader, None, self.num_workers, num_cached_per_queue=2,
                                      seeds=list(range(self.num_workers)),
                                      pin_memory=self.device.type == "cuda")

    # ------------------------------------------------------------------ one step
    def _tensor(self, array) -> torch.Tensor:
        tensor = torch.as_tensor(array).to(self.device, non_blocking=True)
        return tensor.contiguous(memory_format=self.memory_format)

    def _optional(self, batch: dict, key: str) -> torch.Tensor | None:
        """The batch's ``mask`` or ``labels`` (target-shaped) for the loss, None when absent."""
        return self._tensor(batch[key]) if batch.get(key) is not None else None

    def train_step(self, batch: dict) -> float:
        """One update on one batch, computed in micro-batches (same update: no batch norm)."""
        self.network.train()
        self.optimizer.zero_grad(set_to_none=True)
        data, target = self._tensor(batch["data"]), self._tensor(batch["target"])
        mask, labels = self._optional(batch, "mask"), self._optional(batch, "labels")
        size = data.shape[0]
        step = size if (self.has_batch_norm or self.device.type != "cpu") else MICRO_BATCH
        total = 0.0
        for start in range(0, size, step):
            part = slice(start, start + step)
            last = start + step >= size
            # DDP all-reduces gradients once per update, on the last micro-batch
            sync = contextlib.nullcontext() if last or not self.dist.enabled \
                else self.forward_network.no_sync()
            with sync, context.autocast(self.device):
                output = self.forward_network(data[part])
                loss = self.loss(output.float(), target[part],
                                 None if mask is None else mask[part],
                                 None if labels is None else labels[part]
                                 ) * (data[part].shape[0] / size)
                (self.grad_scaler.scale(loss) if self.grad_scaler else loss).backward()
            total += loss.item()
        if self.grad_scaler:
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
        else:
            self.optimizer.step()
        return total

    def _choose_val_micro_batch(self, data: torch.Tensor) -> None:
        """The fastest forward micro-batch on the CPU (the whole batch on a GPU)."""
        if self.device.type != "cpu":
            self.val_micro_batch = data.shape[0]
            return
        self.val_micro_batch, rates = fastest_micro_batch(self.network, data)
        self.log(f"validation micro-batch {self.val_micro_batch}, the fastest here (slices/s: "
                 + ", ".join(f"{m}: {r:.1f}" for m, r in rates.items()) + ")")

    @torch.inference_mode()
    def validate(self) -> tuple[float, float]:
        """Validation loss and PSNR (data range 1) over the fixed validation slices; the PSNR
        of the output as prediction writes it (clamped to [0, 1], zero outside the brain), so a
        linear head's values outside the brain, which no loss restricted to the brain sees, do
        not count.

        Each rank scores its share of the batches; the sums are reduced across ranks.
        """
        self.network.eval()
        losses, squared_errors, weights = [], [], []
        for batch in self.val_batches[self.dist.rank::self.dist.world_size]:
            data, target = self._tensor(batch["data"]), self._tensor(batch["target"])
            if self.val_micro_batch is None:
                self._choose_val_micro_batch(data)
            with context.autocast(self.device):
                output = forward_in_micro_batches(self.network, data,
                                                  self.val_micro_batch).float()
            mask = self._optional(batch, "mask")
            losses.append(self.loss(output, target, mask,
                                    self._optional(batch, "labels")).item() * data.shape[0])
            shown = output.clamp(0.0, 1.0) * (1.0 if mask is None else mask)  # as predicted
            squared_errors.append(torch.mean((shown - target) ** 2).item() * data.shape[0])
            weights.append(data.shape[0])
        loss_sum, error_sum, n = ddp.sum_across_ranks(
            [sum(losses), sum(squared_errors), sum(weights)], self.dist, self.device)
        n = max(1.0, n)
        mse = error_sum / n
        return loss_sum / n, (10 * math.log10(1.0 / mse) if mse > 0 else float("inf"))

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        return {
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "grad_scaler": self.grad_scaler.state_dict() if self.grad_scaler else None,
            "epoch": self.epoch,
            "history": self.history.state_dict(),
            "early_stopping": self.early_stopping.state_dict(),
            "schedule": dataclasses.asdict(self.schedule),
            "network_config": self.network_config.to_dict(),
            "trainer": type(self).__name__,
        }

    def rng_state(self) -> dict:
        state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                 "python": random.getstate()}
        if self.device.type == "cuda":  # dropout masks on the GPU come from the CUDA generator
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def save(self, name: str) -> None:
        """Every rank contributes its RNG state; rank 0 alone writes."""
        rng_states = ddp.gather_objects(self.rng_state(), self.dist)
        if self.dist.is_main:
            save_checkpoint({**self.state(), "rng": rng_states}, self.output_folder / name)

    def load(self, path: Path) -> None:
        """Restore a checkpoint: weights, optimiser, epoch, history, early stopping, RNGs, and the
        epoch budget the run was started with (unless this trainer was given one)."""
        # on the CPU: RNG states must stay CPU tensors; load_state_dict moves the rest
        state = load_checkpoint(path, map_location="cpu")
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.grad_scaler and state.get("grad_scaler"):
            self.grad_scaler.load_state_dict(state["grad_scaler"])
        self.epoch = state["epoch"]
        if not self.epochs_given:
            self.schedule.epochs = state.get("schedule", {}).get("epochs", self.schedule.epochs)
        self.history.load_state_dict(state["history"])
        self.early_stopping.load_state_dict(state["early_stopping"])
        rng = state["rng"][self.dist.rank] if self.dist.rank < len(state["rng"]) \
            else state["rng"][0]  # resumed on more processes than it was saved from
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)

    def resume(self) -> bool:
        """Continue from the latest checkpoint (False when there is none)."""
        for debris in interrupted_writes(self.output_folder, layout.CHECKPOINT_GLOB):
            if self.dist.is_main:
                debris.unlink(missing_ok=True)  # a write a kill interrupted; the checkpoint is whole
        latest = self.output_folder / LATEST
        if not latest.is_file():
            return False
        self.load(latest)
        self.log(f"resumed from {latest} after epoch {self.epoch}")
        return True

    # ------------------------------------------------------------------ the loop
    def log(self, text: str) -> None:
        if not self.dist.is_main:
            return
        log_line(self.output_folder / "training_log.txt",
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {text}")

    def finished(self) -> bool:
        return (self.epoch >= self.schedule.epochs or self.early_stopping.should_stop
                or self.time_budget.exhausted(sum(self.history.budget_seconds)))

    def set_time_budget(self, seconds: float, clock: str = "wall") -> None:
        """Stop after ``seconds`` of training (wall or CPU clock), counting resumed epochs."""
        self.time_budget = TimeBudget(seconds, clock)

    def extend(self, epochs: int) -> None:
        """Train to ``epochs`` in all; extending a finished run restarts the patience count."""
        if self.finished() and epochs > self.epoch:
            self.early_stopping.epochs_without_improvement = 0
        self.schedule.epochs = epochs

    def run_training(self) -> None:
        if self.finished():
            self.log(f"nothing to do: {self.epoch} epochs done of {self.schedule.epochs}")
            if not (self.output_folder / FINAL).is_file():
                self.save(FINAL)  # killed between the last epoch and the end
            return
        self.log(f"training {self.run.describe()} on {self.device}: {len(self.train_index)} "
                 f"training slices, {len(self.val_index)} validation slices, "
                 f"batch {self.config.batch_size}, {dataclasses.asdict(self.schedule)}")
        loader = self._train_loader()
        try:
            while not self.finished():
                self.run_epoch(loader)
        finally:
            if hasattr(loader, "_finish"):
                loader._finish()
        self.save(FINAL)
        reason = ("early stopping" if self.early_stopping.should_stop else
                  "time budget" if self.time_budget.exhausted(sum(self.history.budget_seconds))
                  else "last epoch")
        self.log(f"finished after epoch {self.epoch} ({reason}); best validation loss "
                 f"{self.early_stopping.best_loss:.6f} at epoch {self.early_stopping.best_epoch + 1}")

    def run_epoch(self, loader) -> None:
        started = time.perf_counter()
        iterations = self.schedule.iterations_per_epoch
        bar = tqdm(range(iterations), desc=f"epoch {self.epoch + 1}/{self.schedule.epochs}",
                   unit="batch", disable=not self.progress, leave=False)
        self.time_budget.start_epoch(sum(self.history.budget_seconds))
        losses = []
        for _ in bar:
            losses.append(self.train_step(next(loader)))
            if self.time_budget.over():
                self.log(f"time budget of {self.time_budget.seconds:.0f} s ({self.time_budget.clock}"
                         f" clock) spent after {len(losses)} batches of epoch {self.epoch + 1}")
                break
        val_loss, val_psnr = self.validate()
        is_best = self.early_stopping.update(self.epoch, val_loss)
        train_loss = ddp.sum_across_ranks([float(np.mean(losses))], self.dist,
                                          self.device)[0] / self.dist.world_size
        self.history.append(train_loss=train_loss, val_loss=val_loss,
                            val_psnr=val_psnr, learning_rate=self.optimizer.param_groups[0]["lr"],
                            epoch_seconds=time.perf_counter() - started,
                            budget_seconds=self.time_budget.epoch_seconds())
        self.epoch += 1
        if is_best:
            self.save(BEST)
        self.save(LATEST)
        if self.dist.is_main:
            self.history.plot(self.output_folder / "progress.png", title=self.run.describe())
        self.log(f"epoch {self.epoch}: train loss {self.history.train_loss[-1]:.6f}, "
                 f"val loss {val_loss:.6f}, val PSNR {val_psnr:.2f} dB"
                 f"{' (best)' if is_best else ''}, {self.history.epoch_seconds[-1]:.1f} s")
