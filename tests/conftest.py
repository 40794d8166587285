import os
from pathlib import Path

import pytest


os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = PROJECT_ROOT.parent / "shared" / "fixtures" / "pose"
# The opening of a script run in a fresh process where signdpo_trl must not be importable (it is installed in this
# environment, pip install -e .): what a machine with only torch and transformers sees of a saved folder.
WITHOUT_SIGNDPO_TRL = """\
import importlib.abc, sys

class HideSigndpoTrl(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "signdpo_trl" or name.startswith("signdpo_trl."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, HideSigndpoTrl())
try:
    import signdpo_trl  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise AssertionError("signdpo_trl must not be importable here")
"""


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"Pose fixtures not found at {FIXTURES}: the checkout must have shared/ beside it.")
    return FIXTURES
