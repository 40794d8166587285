"""signdpo-trl: SignDPO, multi-level Direct Preference Optimisation for skeleton-based sign language translation.

Use it where a TRL user writes `from trl import DPOTrainer, DPOConfig`:

```python
from signdpo_trl import SignDPOConfig, SignDPOTrainer
```

Names are imported lazily, so `import signdpo_trl.data` does not import TRL or the models. The model is registered
with transformers' Auto classes once transformers' `auto` module is imported (at once if it already is), so that
`AutoTokenizer.from_pretrained(checkpoint)` on a saved checkpoint never asks about custom code where signdpo_trl is
imported: transformers reads the checkpoint's `config.json`, whose `auto_map` names custom code, before the tokenizer.
"""

import sys
from importlib import import_module
from importlib.abc import Loader, MetaPathFinder
from importlib.util import find_spec

from .version import __version__


_EXPORTS = {
    "data": ["SynthSignConfig", "generate_synthsign", "load_pose", "build_pose_dataset"],
    "visualization": ["plot_pose_comparison", "plot_skeleton_frames", "save_skeleton_gif"],
    "metrics": ["SLT_METRIC_PATH", "compute_slt_metrics", "probe_accuracy"],
    "inference": ["Translator"],
    "models": ["SignTranslationConfig", "SignTranslationModel", "build_tokenizer", "sync_text_config"],
    "trainer": [
        "PoseCollator",
        "SignDPOConfig",
        "SignDPOTrainer",
        "SignPreferenceCollator",
        "SignSFTConfig",
        "SignSFTTrainer",
        "SignTranslationCollator",
    ],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["__version__", *sorted(_MODULE_OF)]


_TRANSFORMERS_AUTO = "transformers.models.auto"


class _RegisterWithTransformersAuto(MetaPathFinder):
    """Imports `signdpo_trl.models` (which registers the model with `AutoConfig`, `AutoModel` and
    `AutoModelForSeq2SeqLM`) right after transformers' `auto` package is first imported, and then leaves
    `sys.meta_path`."""

    def find_spec(self, name, path=None, target=None):
        if name != _TRANSFORMERS_AUTO:
            return None
        sys.meta_path.remove(self)
        spec = find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenRegister(spec.loader)
        return spec


class _ThenRegister(Loader):
    def __init__(self, loader: Loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        import_module(".models", __name__)


if _TRANSFORMERS_AUTO in sys.modules:
    import_module(".models", __name__)
else:
    sys.meta_path.insert(0, _RegisterWithTransformersAuto())


def __getattr__(name: str):
    if name in _MODULE_OF:
        value = getattr(import_module(f".{_MODULE_OF[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
