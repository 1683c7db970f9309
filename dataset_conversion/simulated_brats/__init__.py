"""The embedded demo cohort: BraTS-like T1/T2/FLAIR simulated from MNI anatomy and MR physics.

No public MRI data set can be downloaded everywhere, so ``autosynth_make_demo_dataset`` makes
one: real anatomy (MNI ICBM152 tissue maps shipped with nilearn), per-subject deformation and a
glioma-like lesion, images from the spin-echo and inversion-recovery signal equations, and
scanner artefacts. See ``documentation/demo_cohort.md``.
"""
from dataset_conversion.simulated_brats.anatomy import MissingDemoDependencyError, load_anatomy
from dataset_conversion.simulated_brats.cohort import generate_cohort
from dataset_conversion.simulated_brats.subject import SimulatedSubject, simulate_subject

__all__ = ["MissingDemoDependencyError", "SimulatedSubject", "generate_cohort", "load_anatomy",
           "simulate_subject"]
