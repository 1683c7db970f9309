"""autosynth: a self-configuring framework for MRI contrast synthesis."""
from setuptools import find_packages, setup

CONSOLE_SCRIPTS = [
    "autosynth_verify = autosynth.cli.verify:main",
    "autosynth_train = autosynth.cli.train:main",
    "autosynth_ablation = autosynth.cli.ablation:main",
    "autosynth_predict = autosynth.cli.predict:main",
    "autosynth_find_best_configuration = autosynth.cli.find_best:main",
    "autosynth_ensemble = autosynth.cli.ensemble:main",
    "autosynth_export_model_to_zip = autosynth.cli.model_archive:export_main",
    "autosynth_install_model_from_zip = autosynth.cli.model_archive:install_main",
    "autosynth_evaluate = autosynth.cli.evaluate:main",
    "autosynth_test = autosynth.cli.test:main",
    "autosynth_train_segmenter = autosynth.cli.segmentation:train_main",
    "autosynth_segmentation_utility = autosynth.cli.segmentation:utility_main",
    "autosynth_demo = dataset_conversion.demo:main",
    "autosynth_convert_brats = dataset_conversion.brats:main",
    "autosynth_convert_ixi = dataset_conversion.ixi:main",
    "autosynth_make_demo_dataset = dataset_conversion.simulated_brats.cli:main",
    "autosynth_plan_and_preprocess = autosynth.cli.plan_and_preprocess:main",
    "autosynth_extract_fingerprint = autosynth.cli.plan_and_preprocess:extract_fingerprint_main",
    "autosynth_plan = autosynth.cli.plan_and_preprocess:plan_main",
    "autosynth_preprocess = autosynth.cli.plan_and_preprocess:preprocess_main",
]

setup(
    name="autosynth",
    version="0.1.0",
    description="Self-configuring MRI contrast synthesis (nnU-Net-style pipeline around the "
    "2D U-Net of Osman & Tamam 2022)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["autosynth", "autosynth.*", "dataset_conversion", "dataset_conversion.*"]),
    include_package_data=True,
    package_data={"dataset_conversion": ["simulated_brats/*.txt"], "autosynth": ["studies/*.yaml"]},
    install_requires=[
        # torch is pinned by the Makefile (torch==2.13.0 is the CPU build on disk here); any 2.x works.
        "torch>=2.4",  # is_bf16_supported(including_emulation=...), torch.amp.GradScaler("cuda")
        "numpy>=1.24",
        "SimpleITK>=2.2",
        "nibabel>=5.0",
        "batchgenerators>=0.25",
        "scipy>=1.10",
        "scikit-image>=0.21",
        "tqdm>=4.60",
        "matplotlib>=3.6",
        "pyyaml>=6.0",  # ablation study files (autosynth_ablation --study)
    ],
    extras_require={
        "demo": ["nilearn>=0.10"],
        "test": ["pytest>=7", "nilearn>=0.10"],
    },
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
)
