"""The language level's corrupters: rule-based corruptions, the miner of the model's own errors, the learned corrupter.

The rule-based corruptions are imported eagerly; the rest only on first use, so that importing the rules stays
light: the miner of the translation model's own errors (`mine_translation_errors`), the classifier of the kinds of
error it finds (`classify_error`, `count_error_kinds`), and the LoRA / QLoRA corrupter that learns to write them
(`CorrupterConfig`, `CorrupterTrainer`, `corrupter_pairs`, `generate_rejected_texts`, `load_corrupter`).
"""

from importlib import import_module

from .rules import ENGLISH_RULES, corrupt_text


_LAZY_EXPORTS = {
    "ERROR_KINDS": "error_kinds",
    "CorrupterCollator": "corrupter_trainer",
    "CorrupterConfig": "corrupter_config",
    "CorrupterPairsReport": "pairs",
    "CorrupterTrainer": "corrupter_trainer",
    "GenerationReport": "generation",
    "MiningReport": "mining",
    "classify_error": "error_kinds",
    "corrupter_pairs": "pairs",
    "count_error_kinds": "error_kinds",
    "examples_by_kind": "error_kinds",
    "generate_rejected_texts": "generation",
    "is_meaning_change": "mining",
    "load_corrupter": "corrupter_trainer",
    "load_corrupter_base": "corrupter_trainer",
    "mine_translation_errors": "mining",
}

__all__ = ["ENGLISH_RULES", "corrupt_text", *sorted(_LAZY_EXPORTS)]


def __getattr__(name: str):
    if name in _LAZY_EXPORTS:
        value = getattr(import_module(f".{_LAZY_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
