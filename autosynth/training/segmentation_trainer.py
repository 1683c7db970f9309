"""The tumour segmenter of the utility measurement, trained on the synthesis machinery.

:class:`SegmentationTrainer` is a :class:`SynthesisTrainer` with a softmax head over background +
the dataset's labels, Dice + cross-entropy, every *real* contrast as input and integer label
targets; checkpoints, ``--c`` (exact: batches are a pure function of seed and number), early
stopping, the log and the progress plot are the synthesis trainer's. Its plan
(:mod:`autosynth.experiment_planning.segmenter_plan`) is written to its own folder
(:func:`autosynth.results_layout.segmenter_folder`) on the first run and read from there after.
The history's ``val_psnr`` column holds the validation whole-tumour Dice here.
"""
from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from batchgenerators.dataloading.multi_threaded_augmenter import MultiThreadedAugmenter
from torch import nn
from tqdm import tqdm

from autosynth import results_layout as layout
from autosynth.architectures.unet2d import build_network
from autosynth.dataset.dataset_json import DatasetJson
from autosynth.experiment_planning.plans import PLANS_FILE, ConfigurationPlan, Plans, PlansError
from autosynth.experiment_planning.segmenter_plan import (LOSS, SEGMENTER_PLAN_FILE,
                                                          SegmenterPlan, plan_segmenter)
from autosynth.experiment_planning.splits import load_splits
from autosynth.paths import find_dataset_name, preprocessed_root, results_root
from autosynth.training import context
from autosynth.training.data_loading import SliceIndex
from autosynth.training.segmentation_data import (SegmentationBatchLoader,
                                                  fixed_segmentation_batches)
from autosynth.training.trainer import BEST, LATEST, SynthesisTrainer

DICE_SMOOTH = 1.0
DEFAULT_FOLD = "all"


class DiceCELoss(nn.Module):
    """Cross-entropy plus (1 - soft Dice), Dice per sample and foreground class, averaged.

    Both terms are means over samples of equal size, so the loss of a batch is the
    size-weighted sum of the losses of its micro-batches (the trainer's CPU micro-batching
    computes the same update)."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor, mask=None, labels=None
                ) -> torch.Tensor:
        """``mask`` and ``labels`` (the synthesis loss's extra arguments) are not used."""
        classes = target[:, 0].long()
        ce = F.cross_entropy(logits, classes)
        probabilities = torch.softmax(logits, dim=1)
        one_hot = F.one_hot(classes, logits.shape[1]).permute(0, 3, 1, 2).to(logits.dtype)
        intersection = (probabilities * one_hot).sum(dim=(2, 3))[:, 1:]
        sizes = (probabilities.sum(dim=(2, 3)) + one_hot.sum(dim=(2, 3)))[:, 1:]
        soft_dice = (2 * intersection + DICE_SMOOTH) / (sizes + DICE_SMOOTH)
        return ce + (1 - soft_dice.mean())


@dataclass
class SegmentationRun:
    """The segmenter of one dataset, configuration and fold (what :class:`TrainingRun` is to
    a translation)."""

    dataset_name: str
    segmenter: SegmenterPlan
    fold: int | str
    train_cases: list[str]
    val_cases: list[str]
    dataset_json: DatasetJson
    model_folder: Path

    @property
    def configuration(self) -> ConfigurationPlan:
        return self.segmenter.plan

    @property
    def channels(self) -> list[int]:
        return list(range(len(self.segmenter.contrasts)))

    @property
    def preprocessed_folder(self) -> Path:
        return preprocessed_root() / self.dataset_name / self.configuration.data_folder

    @property
    def output_folder(self) -> Path:
        return layout.folder_of_fold(self.model_folder, self.fold)

    @classmethod
    def create(cls, dataset: str | int, configuration: str = "2d",
               fold: int | str = DEFAULT_FOLD) -> "SegmentationRun":
        """The stored segmenter plan of this configuration, or a new one from plans.json."""
        name = find_dataset_name(dataset)
        folder = preprocessed_root() / name
        model = layout.segmenter_folder(results_root() / name, configuration)
        dataset_json = DatasetJson.load(folder)
        stored = model / SEGMENTER_PLAN_FILE
        if stored.is_file():
            segmenter = SegmenterPlan.load(stored)
        else:
            segmenter = plan_segmenter(Plans.load(folder / PLANS_FILE), configuration,
                                       dataset_json)
        if segmenter.plan.training.loss != LOSS:
            raise PlansError(f"{stored}: training.loss must be '{LOSS}' (the segmenter's loss)")
        train, val = load_splits(folder).cases_of_fold(fold)
        return cls(name, segmenter, fold if str(fold) == "all" else int(fold), list(train),
                   list(val), dataset_json, model)

    def describe(self) -> str:
        return (f"tumour segmenter {self.dataset_name} {self.segmenter.configuration_name} "
                f"fold {self.fold} ({'+'.join(self.segmenter.contrasts)} -> "
                f"{len(self.segmenter.labels)} labels)")

    def slice_indices(self) -> tuple[SliceIndex, SliceIndex]:
        return context.fold_slice_indices(self.preprocessed_folder, self.train_cases, self.val_cases,
                                  self.dataset_name, self.segmenter.configuration_name)

    def write_reference_files(self) -> None:
        self.model_folder.mkdir(parents=True, exist_ok=True)
        self.segmenter.save(self.model_folder / SEGMENTER_PLAN_FILE)
        self.dataset_json.save(self.model_folder / layout.MODEL_DATASET_FILE)


class SegmentationTrainer(SynthesisTrainer):
    """Train the segmenter of a :class:`SegmentationRun` (single process)."""

    run: SegmentationRun

    def build_loss(self) -> nn.Module:
        return DiceCELoss()

    def initialize(self) -> None:
        seed = int(self.schedule.seed)
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        segmenter = self.run.segmenter
        self.class_values = segmenter.class_values
        self.network_config = dataclasses.replace(
            self.configure_network(self.config.network),
            input_channels=len(segmenter.contrasts), output_channels=len(self.class_values))
        self.network = build_network(self.network_config).to(self.device)
        self.memory_format = context.memory_format(self.network_config.dimensions)
        self.network = self.network.to(memory_format=self.memory_format)
        self.has_batch_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                  for m in self.network.modules())
        self.forward_network = torch.compile(self.network) if self.compile_network \
            else self.network
        self.loss = self.build_loss()
        self.optimizer = self.build_optimizer(self.network.parameters())
        self.grad_scaler = (torch.amp.GradScaler("cuda") if self.device.type == "cuda"
                            and context.cuda_autocast_dtype() == torch.float16 else None)
        self.train_index, self.val_index = self.run.slice_indices()
        self.val_batches = fixed_segmentation_batches(
            self.val_index, self.run.channels, self.class_values, self.config.batch_size,
            self.schedule.val_iterations, seed + 1, self.config.patch_size)
        self.output_folder.mkdir(parents=True, exist_ok=True)
        self.run.write_reference_files()

    def _train_loader(self):
        start = self.epoch * self.schedule.iterations_per_epoch
        loader = SegmentationBatchLoader(
            self.train_index, self.run.channels, self.class_values, self.config.batch_size,
            int(self.schedule.seed), self.config.patch_size, start_batch=start,
            augment=bool(self.schedule.augmentation), num_threads=max(1, self.num_workers),
            tumour_oversampling=self.config.tumour_oversampling)
        if self.num_workers == 0:
            return iter(loader)
        return MultiThreadedAugmenter(loader, None, self.num_workers, num_cached_per_queue=2,
                                      seeds=list(range(self.num_workers)),
                                      pin_memory=self.device.type == "cuda")

    @torch.inference_mode()
    def validate(self) -> tuple[float, float]:
        """Validation loss and whole-tumour Dice (all foreground classes against background),
        pooled over the fixed validation patches (1 when neither has tumour)."""
        self.network.eval()
        loss_sum, n, overlap, total = 0.0, 0, 0, 0
        for batch in self.val_batches:
            data, target = self._tensor(batch["data"]), self._tensor(batch["target"])
            with context.autocast(self.device):
                logits = self.network(data).float()
            loss_sum += self.loss(logits, target).item() * data.shape[0]
            n += data.shape[0]
            predicted, reference = logits.argmax(dim=1) > 0, target[:, 0] > 0
            overlap += int((predicted & reference).sum())
            total += int(predicted.sum()) + int(reference.sum())
        return loss_sum / max(1, n), (2.0 * overlap / total if total else 1.0)

    def run_epoch(self, loader) -> None:
        started = time.perf_counter()
        bar = tqdm(range(self.schedule.iterations_per_epoch),
                   desc=f"epoch {self.epoch + 1}/{self.schedule.epochs}", unit="batch",
                   disable=not self.progress, leave=False)
        losses = [self.train_step(next(loader)) for _ in bar]
        val_loss, val_dice = self.validate()
        is_best = self.early_stopping.update(self.epoch, val_loss)
        self.history.append(train_loss=float(np.mean(losses)), val_loss=val_loss,
                            val_psnr=val_dice, learning_rate=self.optimizer.param_groups[0]["lr"],
                            epoch_seconds=time.perf_counter() - started,
                            budget_seconds=time.perf_counter() - started)
        self.epoch += 1
        if is_best:
            self.save(BEST)
        self.save(LATEST)
        self.history.plot(self.output_folder / "progress.png", title=self.run.describe(),
                          metric="validation whole-tumour Dice", metric_axis="Dice")
        self.log(f"epoch {self.epoch}: train loss {self.history.train_loss[-1]:.6f}, "
                 f"val loss {val_loss:.6f}, val whole-tumour Dice {val_dice:.4f}"
                 f"{' (best)' if is_best else ''}, {self.history.epoch_seconds[-1]:.1f} s")
