"""signdpo-trl: SignDPO, multi-level Direct Preference Optimisation for skeleton-based sign language translation.

Use it where a TRL user writes `from trl import DPOTrainer, DPOConfig`:

```python
from signdpo_trl import SignDPOConfig, SignDPOTrainer
```

Names are imported lazily, so `import signdpo_trl.data` does not import TRL or the models.
"""

from importlib import import_module

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


def __getattr__(name: str):
    if name in _MODULE_OF:
        value = getattr(import_module(f".{_MODULE_OF[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
