"""Language-level corruptions for the SignDPO language preference level."""

from .rules import ENGLISH_RULES, corrupt_text


__all__ = ["ENGLISH_RULES", "corrupt_text"]
