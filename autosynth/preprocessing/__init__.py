"""From raw cases to 2D training samples, and back: the functions the trainer and predictor share.

``preprocess_case`` / ``restore_to_original`` / ``denormalize`` are pure (arrays in, arrays
out); ``preprocess_dataset`` runs them over a dataset; ``load_case`` reads the result.
"""
from autosynth.dataset.brain_mask import derive_brain_mask
from autosynth.normalization import denormalize, normalize
from autosynth.preprocessing.case_preprocessing import (PreprocessingError, preprocess_case,
                                                        restore_to_original)
from autosynth.preprocessing.preprocessor import preprocess_dataset
from autosynth.preprocessing.properties import CaseProperties
from autosynth.preprocessing.storage import case_paths, list_cases, load_case

__all__ = ["derive_brain_mask", "PreprocessingError", "preprocess_case", "restore_to_original",
           "denormalize", "normalize", "preprocess_dataset", "CaseProperties", "case_paths",
           "list_cases", "load_case"]
