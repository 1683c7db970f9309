"""Per-case lock files: concurrent runs into one folder split the cohort, stale locks are taken."""
import json
import os
import signal
import subprocess
import sys

import pytest

from autosynth.cli.predict import main as predict_main
from autosynth.inference.case_lock import claim, lock_path
from tests.inference.model_builders import make_model_folder, write_cohort

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock-based locks")


def test_a_held_case_cannot_be_claimed_twice(tmp_path):
    output = tmp_path / "sub00.nii.gz"
    lock = claim(output)
    assert lock is not None and lock_path(output).is_file()
    assert json.loads(lock_path(output).read_text())["pid"] == os.getpid()
    assert claim(output) is None                      # another open file, same process: refused
    lock.release()
    assert not lock_path(output).exists()
    again = claim(output)
    assert again is not None
    again.release()


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path):
    output = tmp_path / "sub00.nii.gz"
    code = ("import sys, time\n"
            "from pathlib import Path\n"
            "from autosynth.inference.case_lock import claim\n"
            f"assert claim(Path({str(output)!r})) is not None\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env=os.environ.copy())
    try:
        assert holder.stdout.readline().strip() == "held"
        assert claim(output) is None                  # alive: its case is left to it
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    assert json.loads(lock_path(output).read_text())["pid"] == holder.pid   # file left behind
    lock = claim(output)
    assert lock is not None
    assert json.loads(lock_path(output).read_text())["pid"] == os.getpid()
    lock.release()


def test_a_case_held_by_another_run_is_left_to_it(tmp_path, autosynth_env, capsys):
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=2)
    out = tmp_path / "out"
    out.mkdir()
    lock = claim(out / "sub01.nii.gz")
    try:
        assert predict_main(["-i", str(tmp_path / "in"), "-o", str(out), "-m", str(model),
                             "--no-progress", "--continue"]) == 0
    finally:
        lock.release()
    assert "1 case(s) predicted, 0 skipped (already done), 1 left to other runs" in \
        capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["prediction_info.json", "sub00.nii.gz"]


_RUN = """
import os, sys, time
from pathlib import Path
import autosynth.inference.cohort as cohort

log, ready, others = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
real = cohort.finish_case

def counted(prepared, *args, **kwargs):
    with open(log, "a") as f:
        f.write(f"{os.getpid()} {prepared.case.case_id}\\n")
    time.sleep(0.5)
    return real(prepared, *args, **kwargs)

cohort.finish_case = counted
(ready / str(os.getpid())).touch()
while len(list(ready.iterdir())) < others:   # start together
    time.sleep(0.05)
from autosynth.cli.predict import main
sys.exit(main(sys.argv[4:]))
"""


@pytest.mark.slow
def test_concurrent_continue_runs_predict_each_case_once(tmp_path, autosynth_env):
    model = make_model_folder(autosynth_env / "results")
    ids = write_cohort(tmp_path / "in", n_cases=6)
    log, ready = tmp_path / "predictions.log", tmp_path / "ready"
    ready.mkdir()
    arguments = ["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-m", str(model),
                 "--no-progress", "--continue"]
    runs = [subprocess.Popen([sys.executable, "-c", _RUN, str(log), str(ready), "2", *arguments],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=os.environ.copy()) for _ in range(2)]
    results = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    made = [line.split() for line in log.read_text().splitlines()]
    assert sorted(case for _, case in made) == ids                   # each case exactly once
    assert {pid for pid, _ in made} == {str(run.pid) for run in runs}   # both runs shared it
    counts = [int(out.split(": ")[-1].split(" case(s) predicted")[0]) for out, _ in results]
    assert sum(counts) == 6
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted([f"{i}.nii.gz" for i in ids] + ["prediction_info.json"])  # no locks
