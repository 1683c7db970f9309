"""Preprocessing workers: one pool per command run, no torch in the workers, and the files
do not depend on the number of workers."""
import os
import subprocess
import sys
from pathlib import Path

from autosynth.cli.plan_and_preprocess import main
from autosynth.utils.parallel import map_cases, worker_pool
from tests.builders import write_tiny_dataset
from tests.preprocessing.pool_probe import worker_state

ROOT = Path(__file__).resolve().parents[2]


SCRIPT = """
import torch  # as the command's main module does, through the planner
from autosynth.utils.parallel import map_cases
from tests.preprocessing.pool_probe import worker_state

if __name__ == "__main__":
    for pid, torch_loaded, threads in map_cases(worker_state, list(range(4)), 2, False):
        print(torch_loaded, threads)
"""


def test_workers_import_neither_torch_nor_the_parents_main_module(tmp_path):
    script = tmp_path / "command.py"     # run as a script, as a console entry point is
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "1"] * 4


def test_one_pool_serves_every_step_of_a_run():
    with worker_pool(2):
        first = {pid for pid, _, _ in map_cases(worker_state, list(range(6)), 2, False)}
        second = {pid for pid, _, _ in map_cases(worker_state, list(range(6)), 2, False)}
    assert second <= first and len(first) <= 2   # the same workers, not a new pool


def test_np1_and_np2_write_identical_files(tmp_path, monkeypatch):
    outputs = {}
    for processes in ("1", "2"):
        root = tmp_path / f"np{processes}"
        monkeypatch.setenv("AUTOSYNTH_RAW", str(tmp_path / "raw"))
        monkeypatch.setenv("AUTOSYNTH_PREPROCESSED", str(root))
        if processes == "1":
            write_tiny_dataset(tmp_path / "raw" / "Dataset042_Tiny", n_cases=4)
        assert main(["-d", "42", "-np", processes, "--no-progress", "--verify"]) == 0
        outputs[processes] = {path.relative_to(root): path.read_bytes()
                              for path in sorted(root.rglob("*")) if path.is_file()}
    assert outputs["1"].keys() == outputs["2"].keys()
    assert any(path.suffix == ".npy" for path in outputs["1"])
    different = [str(p) for p in outputs["1"] if outputs["1"][p] != outputs["2"][p]]
    assert different == []
