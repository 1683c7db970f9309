"""The raw dataset layout: dataset.json, case discovery, image I/O and the integrity check."""
from autosynth.dataset.dataset_json import DatasetJson, DatasetJsonError
from autosynth.dataset.cases import CaseFiles, discover_cases
from autosynth.dataset.image_io import Geometry, ImageIOError, read_case, read_image, write_image

__all__ = [
    "DatasetJson", "DatasetJsonError", "CaseFiles", "discover_cases",
    "Geometry", "ImageIOError", "read_case", "read_image", "write_image",
]
