"""The demo says separately, and plainly, whether the model is ahead in the brain and in the
tumour; losing in the tumour does not fail the demo."""
import json

from dataset_conversion import demo


def _summary(folder, model_tumour_psnr):
    def stats(psnr_brain, psnr_tumour):
        return {"psnr_brain": {"mean": psnr_brain}, "ssim_brain": {"mean": 0.8},
                "psnr_tumour": {"mean": psnr_tumour}, "ssim_tumour": {"mean": 0.5},
                "psnr_non_tumour_brain": {"mean": psnr_brain},
                "ssim_non_tumour_brain": {"mean": 0.8}}
    rows = {"T1 → FLAIR": {"mean_sd": stats(25.0, model_tumour_psnr)},
            "identity (normalised source)": {"mean_sd": {**stats(20.0, 13.5),
                                                         "ssim_brain": {"mean": 0.6},
                                                         "ssim_tumour": {"mean": 0.4},
                                                         "ssim_non_tumour_brain": {"mean": 0.6}}},
            "histogram matching": {"mean_sd": {**stats(21.0, 12.0),
                                               "ssim_brain": {"mean": 0.7},
                                               "ssim_tumour": {"mean": 0.4},
                                               "ssim_non_tumour_brain": {"mean": 0.7}}}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test_summary.json").write_text(json.dumps({"rows": rows}))


def test_losing_in_the_tumour_is_said_plainly(autosynth_env):
    _summary(autosynth_env / "results" / "Dataset900_SimBraTS", model_tumour_psnr=12.5)
    (autosynth_env / "raw" / "Dataset900_SimBraTS").mkdir(parents=True, exist_ok=True)
    verdict = demo.model_is_ahead("900", ["T1"], "FLAIR")
    assert verdict == {"brain": [], "tumour": ["identity (normalised source)"],
                       "non-tumour brain": []}
    lines = demo.ahead_lines(verdict)
    assert lines[0] == "brain: model ahead of both baselines in PSNR and SSIM: yes"
    assert lines[1].startswith("tumour: model ahead of both baselines in PSNR and SSIM: NO")
    assert "identity (normalised source)" in lines[1]
