from autosynth.dataset.cases import discover_cases, split_channel_name


def test_split_channel_name_keeps_underscores_in_case_id():
    assert split_channel_name("BraTS_2018_001_0002.nii.gz", ".nii.gz") == ("BraTS_2018_001", 2)
    assert split_channel_name("case.nii.gz", ".nii.gz") is None
    assert split_channel_name("case_001.nii.gz", ".nii.gz") is None


def test_discover_cases_finds_channels_masks_and_labels(tiny_dataset):
    (tiny_dataset / "labelsTr" / "case_001.nii.gz").unlink()
    cases = discover_cases(tiny_dataset)
    assert [c.case_id for c in cases] == ["case_000", "case_001", "case_002"]
    assert sorted(cases[0].channels) == [0, 1, 2]
    assert cases[0].mask.name == "case_000.nii.gz" and cases[0].label is not None
    assert cases[1].label is None
    assert discover_cases(tiny_dataset, subset="Ts") == []
