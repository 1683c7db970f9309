"""The BraSyn and paper protocols against computations written out by hand."""
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from autosynth.evaluation.protocols import CaseImages, brasyn, paper, percentile_clip
from autosynth.evaluation.reference_scale import ReferenceScale
from autosynth.experiment_planning.plans import NormalizationPlan

SK = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)


def small_case():
    rng = np.random.default_rng(4)
    shape = (12, 13, 14)
    brain = np.zeros(shape, bool)
    brain[1:11, 2:12, 2:13] = True
    reference = np.where(brain, 100 + 20 * rng.random(shape), 0)
    labels = np.zeros(shape, np.uint8)
    labels[4:8, 5:9, 6:10] = 1
    reference[labels > 0] += 80                              # a bright lesion
    prediction = np.where(brain, np.clip(reference / 220 + 0.05 * rng.standard_normal(shape),
                                         0, 1), 0)
    return CaseImages(prediction, reference, brain, labels,
                      ReferenceScale(NormalizationPlan("none"), "test"), 0)


def hand_brasyn(pred, ref, region):
    """The challenge's steps, one by one: own 0.5 / 99.5 percentiles over the volume, lower
    bound at least 0, clip, scale; mask both images; whole-volume MSE, PSNR (R = 1) and the
    border-cropped mean of the Gaussian SSIM map (torchmetrics' reduction)."""
    def clip01(image):
        low, high = np.percentile(image, [0.5, 99.5])
        low = max(low, 0)
        return (np.clip(image, low, high) - low) / (high - low)

    p, r = clip01(pred) * region, clip01(ref) * region
    mse = np.mean((p - r) ** 2)
    _, s_map = structural_similarity(r, p, full=True, **SK)
    return mse, 10 * np.log10(1 / mse), s_map[5:-5, 5:-5, 5:-5].mean()


def test_brasyn_reproduces_the_hand_computation():
    case = small_case()
    scores = brasyn(case)
    tumour = case.labels > 0
    for suffix, region in (("", np.ones_like(tumour)), ("_tumour", tumour),
                           ("_non_tumour_brain", ~tumour)):
        mse, psnr, ssim = hand_brasyn(case.prediction, case.reference, region)
        assert scores["brasyn_mse" + suffix] == pytest.approx(mse, rel=1e-9)
        assert scores["brasyn_psnr" + suffix] == pytest.approx(psnr, rel=1e-9)
        assert scores["brasyn_ssim" + suffix] == pytest.approx(ssim, abs=1e-9)
    # the per-image rescaling forgives a wrong global scale entirely
    rescaled = CaseImages(case.prediction * 3 + 0, case.reference, case.brain, case.labels,
                          case.scale, 0)
    assert brasyn(rescaled)["brasyn_psnr"] == pytest.approx(scores["brasyn_psnr"])
    # and the tumour SSIM over the whole masked volume is near 1 for a wrong tumour
    assert scores["brasyn_ssim_tumour"] > 0.9


def test_percentile_clip_lower_bound_is_zero():
    image = np.array([-5.0] * 10 + list(np.linspace(0, 10, 990)))
    out = percentile_clip(image)
    assert out.min() == 0 and out.max() == 1
    assert out[-1] == 1 and np.isclose(out[500], (image[500] - 0) / (np.percentile(image, 99.5)))


def test_paper_protocol_is_the_mean_over_brain_slices_of_whole_slice_metrics():
    case = small_case()
    plan = NormalizationPlan("percentile_01", percentile_low=0.0, percentile_high=100.0)
    case = CaseImages(case.prediction, case.reference, case.brain, case.labels,
                      ReferenceScale(plan, "test"), 0)
    low, high = case.reference[case.brain].min(), case.reference[case.brain].max()
    reference = np.where(case.brain, (case.reference - low) / (high - low), 0)
    slices = [i for i in range(case.brain.shape[0]) if case.brain[i].any()]
    scores = paper(case)
    error = case.prediction - reference
    assert scores["paper_mae"] == pytest.approx(np.mean([np.abs(error[i]).mean()
                                                          for i in slices]), rel=1e-5)
    assert scores["paper_psnr"] == pytest.approx(np.mean(
        [10 * np.log10(1 / np.mean(error[i] ** 2)) for i in slices]), rel=1e-5)
    assert scores["paper_ssim"] == pytest.approx(np.mean(
        [structural_similarity(reference[i], case.prediction[i], **SK) for i in slices]),
        abs=1e-6)
    assert scores["paper_ssim_data_range_2"] > scores["paper_ssim"]
