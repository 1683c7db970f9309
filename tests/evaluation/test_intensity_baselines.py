import numpy as np

from autosynth.evaluation.intensity_baselines import HistogramMapping, fit_histogram_mapping
from autosynth.preprocessing.storage import save_npy


def _write_case(folder, name, source, target, mask):
    save_npy(folder / f"{name}.npy", np.stack([source, target]).astype(np.float32))
    save_npy(folder / f"{name}_mask.npy", mask.astype(np.uint8))


def test_histogram_mapping_recovers_a_monotone_intensity_transform(tmp_path, monkeypatch):
    import autosynth.evaluation.intensity_baselines as baselines

    rng = np.random.default_rng(0)
    cases = []
    for i in range(3):
        source = rng.uniform(0, 1, (4, 16, 16))
        mask = np.ones_like(source, bool)
        mask[:, :2] = False
        _write_case(tmp_path, f"c{i}", source, np.sqrt(source) * mask, mask)
        cases.append(f"c{i}")

    def load(folder, case):
        data = np.load(folder / f"{case}.npy")
        return data, np.load(folder / f"{case}_mask.npy"), None, None

    monkeypatch.setattr(baselines, "load_case", load)
    mapping = fit_histogram_mapping(tmp_path, cases, 0, 1)
    x = np.linspace(0.05, 0.95, 19)
    assert np.allclose(mapping(x), np.sqrt(x), atol=0.02)
    assert np.all(np.diff(mapping.source_quantiles) > 0)


def test_mapping_is_monotone_and_clamped():
    mapping = HistogramMapping(np.array([0.0, 0.5, 1.0]), np.array([0.2, 0.3, 0.9]))
    values = mapping(np.array([-1.0, 0.25, 0.75, 2.0]))
    assert np.allclose(values, [0.2, 0.25, 0.6, 0.9])
