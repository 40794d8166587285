"""Packaging for signdpo-trl.

Lower bounds are the versions the test suite was run against; there are no upper pins.
"""

from pathlib import Path

from setuptools import find_packages, setup


ROOT = Path(__file__).parent
version = {}
exec((ROOT / "signdpo_trl" / "version.py").read_text(), version)

install_requires = [
    "torch>=2.13",
    # trl >= 1.9: DPOTrainer after the 0.29 refactor (single _compute_loss, no encoder-decoder path).
    "trl>=1.16",
    # transformers 5: T5 float dropout attributes, attention-implementation switching used by the model.
    "transformers>=5.24",
    "peft>=0.21",
    "accelerate>=1.15",
    "datasets>=5.2",
    "evaluate>=0.4.6",
    "sacrebleu>=2.6",
    # The `rouge` package is the ROUGE-L that the SLT literature reports (not `rouge-score`).
    "rouge>=1.0.1",
    "pose-format>=0.15",
    "tokenizers>=0.23",
    "sentencepiece>=0.2.3",
    "numpy>=2.0",
    "matplotlib>=3.11",
    "tqdm>=4.66",
    "pyyaml>=6.0",
]

extras_require = {
    "qlora": ["bitsandbytes>=0.50"],
    "dev": ["pytest>=9.2", "ruff>=0.17"],
}

setup(
    name="signdpo-trl",
    version=version["__version__"],
    description="SignDPO: multi-level Direct Preference Optimisation for skeleton-based, gloss-free sign language "
    "translation, as an extension of TRL.",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["signdpo_trl", "signdpo_trl.*"]),
    # Every non-Python file the code opens at run time; `make wheel-smoke` checks them in an installed wheel.
    package_data={"signdpo_trl": ["metrics/slt_metric/*.py", "trainer/templates/*.md"]},
    install_requires=install_requires,
    extras_require=extras_require,
    entry_points={"console_scripts": ["signdpo=signdpo_trl.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
