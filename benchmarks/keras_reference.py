"""The paper's network in Keras/TensorFlow, trained step by step: the reference that
``benchmarks/limits.py`` alternates with autosynth's trainer in one run.

The network is the one of the published code (github.com/afiosman/UNet-for-MR-to-MR-image-
translation, Osman & Tamam 2022): per level two 3x3 ReLU convolutions (He uniform), dropout
after the first, 2x2 max-pooling; nearest 2x up-sampling, concatenated skips, two 3x3 convs
with dropout after the first; a 1x1 tanh head; 1,962,337 parameters (checked below, the same
count as ``autosynth.architectures.UNetConfig.paper()``); Adam 1e-3, MSE.

Runs as a worker in its own interpreter (TensorFlow is an optional benchmark extra, never a
dependency): it reads lines ``STEPS`` on stdin and answers each with one JSON line
``{"slices_per_s": ...}`` for that many updates of a batch of 32 slices of 224 x 224.

    python benchmarks/keras_reference.py --threads 2     # then write "2" on stdin
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # before TensorFlow is imported

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

FEATURES = (16, 32, 64, 128, 256)
DROPOUT = (0.1, 0.1, 0.2, 0.2, 0.3)
PAPER_PARAMETERS = 1_962_337
BATCH, SIZE = 32, 224


def build(keras):
    layers = keras.layers
    conv = dict(kernel_size=3, activation="relu", padding="same",
                kernel_initializer="he_uniform")
    inputs = keras.Input((SIZE, SIZE, 1))
    x, skips = inputs, []
    for level, (features, rate) in enumerate(zip(FEATURES, DROPOUT)):
        x = layers.Conv2D(features, **conv)(x)
        x = layers.Dropout(rate)(x)
        x = layers.Conv2D(features, **conv)(x)
        if level < len(FEATURES) - 1:
            skips.append(x)
            x = layers.MaxPooling2D(2)(x)
    for level in reversed(range(len(FEATURES) - 1)):
        x = layers.concatenate([layers.UpSampling2D(2)(x), skips[level]])
        x = layers.Conv2D(FEATURES[level], **conv)(x)
        x = layers.Dropout(DROPOUT[level])(x)
        x = layers.Conv2D(FEATURES[level], **conv)(x)
    outputs = layers.Conv2D(1, 1, activation="tanh")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model = build(tf.keras)
    count = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    if count != PAPER_PARAMETERS:
        sys.exit(f"keras_reference: {count} parameters, the paper's network has "
                 f"{PAPER_PARAMETERS}")
    rng = np.random.default_rng(0)
    data = rng.random((BATCH, SIZE, SIZE, 1), dtype=np.float32)
    target = rng.random((BATCH, SIZE, SIZE, 1), dtype=np.float32)
    model.train_on_batch(data, target)          # graph tracing and first allocation
    print(json.dumps({"ready": True, "parameters": count, "tensorflow": tf.__version__}),
          flush=True)
    for line in sys.stdin:
        steps = int(line.strip() or 1)
        started = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(data, target)
        rate = BATCH * steps / (time.perf_counter() - started)
        print(json.dumps({"slices_per_s": rate}), flush=True)


if __name__ == "__main__":
    main()
