"""Fingerprint dictionaries written directly, for planner tests that need a large dataset."""


def synthetic_fingerprint(n_cases=100, shape_zyx=(155, 240, 240), cropped_zyx=(140, 170, 140),
                          spacing_zyx=(1.0, 1.0, 1.0), axial_axis=0,
                          contrasts=("T1", "T2", "FLAIR")):
    """``axial_axis`` picks a canonical orientation whose head-foot axis is that array axis."""
    def occupancy(axis):
        size, brain = shape_zyx[axis], cropped_zyx[axis]
        start = (size - brain) // 2
        counts = [0] * start + [1000] * brain + [0] * (size - start - brain)
        return {"fraction": brain / size, "slices": [[start, start + brain]],
                "brain_voxels_per_slice": counts}

    case = {"spacing_zyx": list(spacing_zyx), "shape_zyx": list(shape_zyx),
            "cropped_shape_zyx": list(cropped_zyx),
            "slice_occupancy": {name: occupancy(a) for a, name in enumerate("ZYX")}}
    return {
        "dataset_name": "Dataset001_Synthetic", "contrasts": list(contrasts),
        "n_cases": n_cases, "median_spacing_zyx": list(spacing_zyx),
        "canonical_orientation": {0: "RAS", 1: "RSA", 2: "SAR"}[axial_axis],
        "intensity_properties": {c: {"zscore_percentile_00_5": -2.04,
                                     "zscore_percentile_99_5": 3.51} for c in contrasts},
        "cases": {f"case_{i:03d}": case for i in range(n_cases)},
    }
