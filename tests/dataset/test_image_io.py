import numpy as np
import pytest
import SimpleITK as sitk

from autosynth.dataset.image_io import (Geometry, ImageIOError, read_case, read_image,
                                        write_image, write_image_like)

OBLIQUE = tuple(sitk.VersorRigid3DTransform((0.05, -0.03, 0.02, 0.998)).GetMatrix())


def _geometry(direction=OBLIQUE):
    return Geometry((7, 6, 5), (0.9375, 1.2, 3.3), (-119.7, 17.25, -3.125), direction)


def test_write_then_read_keeps_voxels_and_geometry(tmp_path):
    array = np.random.default_rng(0).normal(size=(5, 6, 7)).astype(np.float32)
    write_image(array, _geometry(), tmp_path / "a.nii.gz")
    back, geometry = read_image(tmp_path / "a.nii.gz")
    assert np.array_equal(back, array)
    assert geometry.size == (7, 6, 5)
    # a NIfTI header holds float32: everything matches to float32 precision
    assert geometry.differences(_geometry(), rtol=1e-6) == []


def test_nifti_round_trip_through_the_io_layer_is_bit_exact_for_an_oblique_image(tmp_path):
    write_image(np.ones((5, 6, 7), np.int16), _geometry(), tmp_path / "source.nii.gz")
    source, source_geometry = read_image(tmp_path / "source.nii.gz")
    assert source_geometry.direction != tuple(np.eye(3).ravel())
    write_image_like(source * 2, tmp_path / "source.nii.gz", tmp_path / "copy.nii.gz")
    copy, copy_geometry = read_image(tmp_path / "copy.nii.gz")
    assert copy_geometry == source_geometry  # every digit of spacing, origin and direction
    assert np.array_equal(copy, source * 2)


def test_read_case_stacks_channels_and_rejects_a_different_grid(tmp_path):
    g = _geometry(tuple(np.eye(3).ravel()))
    for i in range(2):
        write_image(np.full((5, 6, 7), i, np.float32), g, tmp_path / f"c{i}.nii.gz")
    data, geometry = read_case([tmp_path / "c0.nii.gz", tmp_path / "c1.nii.gz"])
    assert data.shape == (2, 5, 6, 7) and data.dtype == np.float32 and data[1].max() == 1
    moved = Geometry(g.size, (0.9375, 1.2, 3.5), g.origin, g.direction)
    write_image(np.zeros((5, 6, 7), np.float32), moved, tmp_path / "c2.nii.gz")
    with pytest.raises(ImageIOError, match=r"c2.nii.gz: grid differs.*spacing"):
        read_case([tmp_path / "c0.nii.gz", tmp_path / "c2.nii.gz"])


def test_writes_are_atomic_and_leave_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "out.nii.gz"
    write_image(np.zeros((5, 6, 7), np.float32), _geometry(), target)
    before = target.read_bytes()

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sitk, "WriteImage", explode)
    with pytest.raises(RuntimeError):
        write_image(np.ones((5, 6, 7), np.float32), _geometry(), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.nii.gz"]


def test_clear_errors_for_missing_non_image_and_wrong_shape(tmp_path):
    with pytest.raises(ImageIOError, match="missing.nii.gz: file not found"):
        read_image(tmp_path / "missing.nii.gz")
    (tmp_path / "text.nii.gz").write_text("hello")
    with pytest.raises(ImageIOError, match="text.nii.gz: not a readable image"):
        read_image(tmp_path / "text.nii.gz")
    with pytest.raises(ImageIOError, match="does not match"):
        write_image(np.zeros((2, 2, 2)), _geometry(), tmp_path / "x.nii.gz")


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    write_image(np.zeros((5, 6, 7), np.float32), _geometry(), tmp_path / "out.nii.gz")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out.nii.gz").stat().st_mode & 0o777 == 0o666 & ~umask


def test_read_image_on_grid_names_the_file_the_reference_and_the_difference(tmp_path):
    from autosynth.dataset.image_io import read_image_on_grid

    g = _geometry(tuple(np.eye(3).ravel()))
    write_image(np.ones((5, 6, 7), np.float32), g, tmp_path / "mask.nii.gz")
    assert read_image_on_grid(tmp_path / "mask.nii.gz", g, "the images").sum() == 210
    shifted = Geometry(g.size, g.spacing, (0.0, 0.0, 0.0), g.direction)
    with pytest.raises(ImageIOError, match=r"mask.nii.gz: grid differs from the images: origin"):
        read_image_on_grid(tmp_path / "mask.nii.gz", shifted, "the images")
