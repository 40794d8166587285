"""Language-level corruptions for the SignDPO language preference level.

The rule-based corruptions are imported eagerly; the miner of the model's own errors (`mine_translation_errors`,
which needs `datasets` and the pose collation) only on first use, so that importing the rules stays light.
"""

from importlib import import_module

from .rules import ENGLISH_RULES, corrupt_text


_LAZY_EXPORTS = {"MiningReport": "mining", "is_meaning_change": "mining", "mine_translation_errors": "mining"}

__all__ = ["ENGLISH_RULES", "MiningReport", "corrupt_text", "is_meaning_change", "mine_translation_errors"]


def __getattr__(name: str):
    if name in _LAZY_EXPORTS:
        value = getattr(import_module(f".{_LAZY_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
