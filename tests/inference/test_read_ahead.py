"""A cohort reads and preprocesses the next case while the network runs on this one."""
import time

import torch
from torch import nn

from autosynth.inference import (PredictionSettings, TrainedModel, cohort, discover_input_cases,
                                 networks, predict_cohort)
from tests.inference.model_builders import make_model_folder, write_cohort

events = []


class SlowOneMinus(nn.Module):
    """1 - x, taking 0.2 s per call, and noting when each call ran."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        started = time.perf_counter()
        time.sleep(0.2)
        events.append(("network", started, time.perf_counter()))
        return 1.0 - x[:, :1]


def test_the_next_case_is_read_while_the_network_runs(tmp_path, autosynth_env, monkeypatch):
    monkeypatch.setattr(networks, "load_network", lambda path, device: SlowOneMinus())
    original = cohort.prepare_case

    def noting(case, model, force):
        events.append(("read " + case.case_id, time.perf_counter(), None))
        return original(case, model, force)

    monkeypatch.setattr(cohort, "prepare_case", noting)
    events.clear()
    model = TrainedModel.load(make_model_folder(autosynth_env / "results"))
    write_cohort(tmp_path / "in", n_cases=3)
    cases = discover_input_cases(tmp_path / "in", model.sources, model.dataset_json)
    result = predict_cohort(cases, model, tmp_path / "out", PredictionSettings(engine="torch"),
                            progress=False)
    assert result["predicted"] == 3
    reads = {name.split()[1]: start for name, start, _ in events if name.startswith("read")}
    first_network_call_ends = min(end for name, _, end in events if name == "network")
    assert sorted(reads) == ["sub00", "sub01", "sub02"]
    assert reads["sub01"] < first_network_call_ends     # read while sub00 was in the network
