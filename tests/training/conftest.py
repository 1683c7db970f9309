import json

import pytest

from tests.builders import write_tiny_dataset


@pytest.fixture
def preprocessed_tiny(autosynth_env):
    """Dataset042_Tiny (6 cases) planned and preprocessed as '2d', with a short schedule."""
    from autosynth.cli.plan_and_preprocess import main

    write_tiny_dataset(autosynth_env / "raw" / "Dataset042_Tiny", n_cases=6)
    assert main(["-d", "42", "-c", "2d", "-np", "1", "--no-progress"]) == 0
    plans_file = autosynth_env / "preprocessed" / "Dataset042_Tiny" / "plans.json"
    plans = json.loads(plans_file.read_text())
    config = plans["configurations"]["2d"]
    config["batch_size"] = 4
    config["training"].update(epochs=4, iterations_per_epoch=3, val_iterations=2, patience=50,
                              augmentation=False, seed=7)
    plans_file.write_text(json.dumps(plans, indent=2))
    return autosynth_env
