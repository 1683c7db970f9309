"""Validation runs at the micro-batch measured fastest, and that choice cannot change a result."""
import torch

from autosynth.architectures import UNetConfig, build_network
from autosynth.training.micro_batch import fastest_micro_batch, forward_in_micro_batches
from tests.training.test_trainer import _trainer

COST_PER_CALL = {4: 1.0, 8: 1.0, 16: 3.0, 32: 7.0}   # seconds per forward pass of that size


class TimedStandIn:
    """A 'network' whose forward pass costs COST_PER_CALL on a fake clock: 8 is fastest
    (4 x 1 s for 32 slices, against 8, 6 and 7 s)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self, x):
        self.now += COST_PER_CALL[x.shape[0]]
        return x

    def clock(self) -> float:
        return self.now


def test_the_fastest_candidate_is_chosen():
    network = TimedStandIn()
    best, rates = fastest_micro_batch(network, torch.zeros(32, 1, 4, 4), network.clock)
    assert best == 8 and sorted(rates) == [4, 8, 16, 32]
    assert rates[8] == 32 / 4.0


def test_an_evaluation_forward_gives_the_same_bits_in_any_micro_batch():
    torch.manual_seed(0)
    network = build_network(UNetConfig(features_per_stage=[4, 8, 16], convs_per_stage=[2] * 3,
                                       dropout_per_stage=[0.1] * 3)).eval()
    x = torch.rand(12, 1, 32, 32).contiguous(memory_format=torch.channels_last)
    network = network.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        whole = network(x)
        for micro in (2, 4, 5, 8):    # (a batch of 1 takes another oneDNN path)
            assert torch.equal(forward_in_micro_batches(network, x, micro), whole)


def test_trainer_validates_at_the_measured_micro_batch(preprocessed_tiny, monkeypatch):
    chosen = []

    def fake_probe(network, data):
        chosen.append(data.shape[0])
        return 2, {2: 99.0, data.shape[0]: 1.0}

    monkeypatch.setattr("autosynth.training.trainer.fastest_micro_batch", fake_probe)
    calls = []
    original = forward_in_micro_batches

    def spy(network, data, micro):
        calls.append(micro)
        return original(network, data, micro)

    monkeypatch.setattr("autosynth.training.trainer.forward_in_micro_batches", spy)
    trainer = _trainer(epochs=1)
    first = trainer.validate()
    assert trainer.val_micro_batch == 2 and set(calls) == {2} and len(chosen) == 1
    trainer.val_micro_batch = trainer.config.batch_size       # one pass per batch
    assert trainer.validate() == first                        # the same loss and PSNR
    trainer.validate()
    assert len(chosen) == 1                                   # measured once per run
    log = (trainer.output_folder / "training_log.txt").read_text()
    assert "validation micro-batch 2, the fastest here" in log
