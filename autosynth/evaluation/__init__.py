"""Evaluation of synthetic images: MAE, MSE, PSNR and SSIM, whole-image and per region."""
from autosynth.evaluation.metrics import compute_metrics, mae, mse, psnr, region_masks
from autosynth.evaluation.ssim import SSIMMaps, ssim, ssim_maps

__all__ = ["compute_metrics", "mae", "mse", "psnr", "region_masks", "ssim", "ssim_maps",
           "SSIMMaps"]
