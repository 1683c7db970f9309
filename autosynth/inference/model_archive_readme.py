"""The README and licence text an exported model carries: what data, which translation and
configuration, how well it validated, and under which terms the data (and so the model) came.
"""
from __future__ import annotations

from autosynth import results_layout as layout
from autosynth.inference.model_folder import TrainedModel
from autosynth.paths import raw_root
from autosynth.utils.files import read_json

NOTICE_PATTERNS = ("LICEN[CS]E*", "NOTICE*", "COPYING*")
SHOWN = (("psnr_brain", "PSNR brain (dB)", 2), ("ssim_brain", "SSIM brain", 4),
         ("mae_brain", "MAE brain", 4), ("psnr", "PSNR whole (dB)", 2))


def _mean(summary: dict, key: str, decimals: int) -> str:
    value = summary.get("mean_sd", {}).get(key, {}).get("mean")
    return "n/a" if value is None else f"{value:.{decimals}f}"


def validation_table(model: TrainedModel, folds: list[str]) -> list[str]:
    """One row per fold with an original-space validation, and the pooled row."""
    rows = []
    for fold in folds:
        path = layout.validation_folder(model.folder, fold) / "summary.json"
        if path.is_file():
            summary = read_json(path)
            rows.append(f"| fold {fold} | {summary.get('n_cases')} | "
                        + " | ".join(_mean(summary, k, d) for k, _, d in SHOWN) + " |")
    pooled = model.folder / layout.CROSSVAL_FOLDER / "summary.json"
    if pooled.is_file():
        summary = read_json(pooled)
        rows.append(f"| all folds | {summary.get('n_cases')} | "
                    + " | ".join(_mean(summary, k, d) for k, _, d in SHOWN) + " |")
    if not rows:
        return ["No validation in the original space was found for these folds."]
    return ["| | cases | " + " | ".join(title for _, title, _ in SHOWN) + " |",
            "|---|---|" + "---|" * len(SHOWN), *rows, "",
            "Corrected protocol (documentation/evaluation.md), on the normalised [0, 1] "
            "scale of the model's plan, data range 1."]


def readme_text(model: TrainedModel, folds: list[str], checkpoint: str) -> str:
    data = model.dataset_json
    translation = layout.translation_name(model.sources, model.target)
    return "\n".join([
        f"# autosynth model: {'+'.join(model.sources)} -> {model.target}", "",
        f"- data: {model.dataset_name} ({data.description or 'no description'}; "
        f"{data.numTraining} training cases; contrasts {', '.join(data.contrasts)})",
        f"- translation: {translation}",
        f"- configuration: {model.configuration_name} (plans {model.plans_name}), trainer "
        f"{model.trainer}",
        f"- folds: {', '.join(folds)}, checkpoint `{layout.checkpoint_name(checkpoint)}` "
        "(weights and network description only: an inference-only model)",
        f"- licence / reference of the data: {data.licence or 'not stated'}; "
        f"{data.reference or 'not stated'} (full text in LICENCE.txt)", "",
        "## Validation (original space)", "", *validation_table(model, folds), "",
        "## Use", "", "```",
        "autosynth_install_model_from_zip THIS.zip",
        f"autosynth_predict -i INPUT_FOLDER -o OUTPUT_FOLDER -d {model.dataset_name} -s "
        f"{','.join(model.sources)} -t {model.target} -c {model.configuration_name} -tr "
        f"{model.trainer} -p {model.plans_name} -f {' '.join(folds)} --checkpoint {checkpoint}",
        "```", "",
        "Add `--denormalize` for intensities on the training set's target scale (the archive "
        "carries intensity_reference.json for it). See documentation/prediction.md.", ""])


def licence_text(model: TrainedModel) -> str:
    """dataset.json's licence and reference, and every licence/notice file of the raw dataset
    folder (when it is on this machine)."""
    data = model.dataset_json
    parts = [f"Dataset {model.dataset_name}", f"licence: {data.licence or 'not stated'}",
             f"reference: {data.reference or 'not stated'}"]
    raw = raw_root(create=False) / model.dataset_name
    notices = sorted({p for pattern in NOTICE_PATTERNS for p in raw.glob(pattern)
                      if p.is_file()}) if raw.is_dir() else []
    for notice in notices:
        parts += ["", f"--- {notice.name} ---", notice.read_text(encoding="utf-8",
                                                                 errors="replace").strip()]
    if not raw.is_dir():
        parts += ["", "(the raw dataset folder was not on the exporting machine; notice "
                      "files it may hold are not included)"]
    return "\n".join(parts) + "\n"
