"""The figure of ``scale.py``: seconds of every stage against the cohort size, with its fitted
line, titled with the date, the case size and the measured matmul peak.

    python benchmarks/scale_figure.py [benchmarks/results/scale.json] [-o scale.png]

``scale.py`` draws it after each run (``benchmarks/results/scale.png``); this script redraws it
from a JSON file.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

HERE = Path(__file__).resolve().parent


def draw(result: dict, output: Path) -> Path:
    """One panel per stage: measured seconds (points) and fixed + per-case x n (line)."""
    sizes = [int(n) for n in result["cases"]]
    stages = list(result["fit"])
    columns = 4
    rows = -(-len(stages) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows),
                                squeeze=False)
    for ax, stage in zip(axes.flat, stages):
        seconds = [result["seconds"][stage][str(n)] for n in sizes]
        line = result["fit"][stage]
        ax.plot(sizes, seconds, "o", color="tab:blue")
        ax.plot([0, max(sizes)], [line["fixed_s"], line["fixed_s"] + line["per_case_s"]
                                  * max(sizes)], "-", color="tab:orange")
        ax.set_title(f"{stage}\n{line['fixed_s']:.1f} s + {line['per_case_s']:.2f} s/case, "
                     f"max dev. {100 * line['max_deviation']:.1f} %", fontsize=8)
        ax.set_xlim(0, max(sizes) * 1.05)
        ax.set_ylim(0, max(seconds) * 1.15)
        ax.set_xlabel("cases", fontsize=8)
        ax.set_ylabel("s", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(stages):]:
        ax.axis("off")
    peaks = result["peak_gflops"]
    figure.suptitle(f"benchmarks/scale.py, {result['date_utc']}, {result['spacing_mm']:g} mm "
                    f"cases; matmul peak {min(peaks):.0f}-{max(peaks):.0f} GFLOP/s (median "
                    f"{statistics.median(peaks):.0f}), load average "
                    f"{result['load_average_before'][0]:.1f} -> "
                    f"{result['load_average_after'][0]:.1f}", fontsize=9)
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110)
    plt.close(figure)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="?", type=Path, default=HERE / "results" / "scale.json")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="PNG to write (default: beside the JSON, scale.png)")
    args = parser.parse_args()
    output = args.output or args.json.with_suffix(".png")
    print(f"written {draw(json.loads(args.json.read_text()), output)}")


if __name__ == "__main__":
    main()
