import json

import pytest

from autosynth.dataset.dataset_json import DatasetJson, DatasetJsonError

VALID = {"name": "X", "channel_names": {"0": "T1", "1": "T2"}, "file_ending": ".nii.gz",
         "numTraining": 2, "custom_key": [1, 2]}


def test_round_trip_keeps_unknown_keys(tmp_path):
    dj = DatasetJson.from_dict(VALID)
    assert dj.channel_names == {0: "T1", 1: "T2"}
    dj.save(tmp_path / "dataset.json")
    again = DatasetJson.load(tmp_path)
    assert again == dj
    assert json.loads((tmp_path / "dataset.json").read_text())["custom_key"] == [1, 2]


@pytest.mark.parametrize("change, message", [
    ({"channel_names": {"0": "T1", "1": "T1"}}, "unique"),
    ({"channel_names": {"0": ""}}, "empty name"),
    ({"channel_names": {}}, "at least one"),
    ({"channel_names": {"a": "T1"}}, "integers"),
    ({"file_ending": ".png"}, "file_ending"),
    ({"numTraining": -1}, "numTraining"),
    ({"numTraining": "3"}, "numTraining"),
])
def test_invalid_content_is_named(change, message):
    with pytest.raises(DatasetJsonError, match=message):
        DatasetJson.from_dict({**VALID, **change})


def test_missing_key_and_broken_json_name_the_file(tmp_path):
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps({"name": "X"}))
    with pytest.raises(DatasetJsonError, match=r"dataset.json: missing required key"):
        DatasetJson.load(path)
    path.write_text("{not json")
    with pytest.raises(DatasetJsonError, match="not valid JSON"):
        DatasetJson.load(path)


def test_channel_index_by_contrast_name():
    dj = DatasetJson.from_dict(VALID)
    assert dj.channel_index("T2") == 1
    assert dj.channel_index("t1") == 0
    with pytest.raises(DatasetJsonError, match="unknown contrast 'FLAIR'.*T1, T2"):
        dj.channel_index("FLAIR")
