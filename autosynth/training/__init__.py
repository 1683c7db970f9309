"""Training: the synthesis trainer, its variants, data loading, checkpoints and logs."""
