"""Disk per BraTS-sized case for each configuration: what ``autosynth_plan_and_preprocess -c``
costs before training starts.

    .venv/bin/python benchmarks/disk_per_configuration.py [--contrasts 4]

Six cases of 240 x 240 x 155 at 1 mm (brains of different sizes, as in ``geometry_core.py``)
are planned with every configuration and preprocessed; reported are the megabytes per case of
each configuration's folder (image arrays, brain masks and, absent here, labels would add one
byte per stored voxel). Prints JSON and writes it to ``--output`` (default
``benchmarks/results/disk_per_configuration.json``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from autosynth.cli.plan_and_preprocess import main as plan_and_preprocess  # noqa: E402
from autosynth.dataset.dataset_json import DatasetJson  # noqa: E402
from autosynth.dataset.image_io import Geometry, write_image  # noqa: E402
from autosynth.experiment_planning.configurations import PLANNERS  # noqa: E402

SHAPE_ZYX = (155, 240, 240)


def write_dataset(folder: Path, contrasts: int) -> None:
    z, y, x = np.ogrid[:SHAPE_ZYX[0], :SHAPE_ZYX[1], :SHAPE_ZYX[2]]
    geometry = Geometry((240, 240, 155), (1.0, 1.0, 1.0), (0.0, -239.0, 0.0),
                        (-1, 0, 0, 0, -1, 0, 0, 0, 1))
    for i, scale in enumerate((0.85, 0.9, 0.95, 1.0, 1.05, 1.12)):
        rng = np.random.default_rng(i)
        r = ((z - 77) / (62 * scale)) ** 2 + ((y - 120) / (82 * scale)) ** 2 \
            + ((x - 120) / (66 * scale)) ** 2
        mask = r < 1
        for c in range(contrasts):
            image = 400 + 100 * (c + 1) * np.sin(x / (7.0 + c)) * np.cos(y / 11.0) \
                + rng.normal(0, 20, SHAPE_ZYX)
            write_image(np.where(mask, image, 0), geometry,
                        folder / "imagesTr" / f"case_{i:03d}_{c:04d}.nii.gz", dtype=np.int16)
        write_image(mask.astype(np.uint8), geometry, folder / "masksTr" / f"case_{i:03d}.nii.gz")
    DatasetJson(name=folder.name, channel_names={c: f"C{c}" for c in range(contrasts)},
                numTraining=6).save(folder / "dataset.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contrasts", type=int, default=4)
    parser.add_argument("--output", type=Path,
                        default=HERE / "results" / "disk_per_configuration.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUTOSYNTH_HOME"] = tmp
        write_dataset(Path(tmp) / "raw" / "Dataset902_Disk", args.contrasts)
        code = plan_and_preprocess(["-d", "902", "-c", *PLANNERS, "-np", "1",
                                    "--no-progress"])
        if code:
            raise SystemExit(f"plan_and_preprocess exited {code}")
        folder = Path(tmp) / "preprocessed" / "Dataset902_Disk"
        result = {"date": time.strftime("%Y-%m-%d", time.gmtime()),
                  "contrasts": args.contrasts, "case": "240x240x155 at 1 mm, float32",
                  "mb_per_case": {name: round(sum(p.stat().st_size for p in (
                      folder / name).glob("*") if p.is_file()) / 6 / 1e6, 1)
                      for name in PLANNERS}}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
