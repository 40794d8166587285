"""Trainers: MLE (`SignSFTTrainer`) and SignDPO (`SignDPOTrainer`), their configs, collators and preference hooks."""

from .collators import CollatorResumeCallback, PoseBatch, PoseCollator, SignTranslationCollator, tokenize_targets
from .dpo_config import SignDPOConfig
from .dpo_trainer import SignDPOTrainer, disable_dropout
from .evaluation import evaluate_translation
from .hooks import AttentionHook, LanguageHook, PoseHook, PreferenceHook
from .levels import LEVEL_TABLE, SIGNDPO_LEVELS, Level, build_preference_hooks
from .preference_collator import SignPreferenceCollator
from .sft_config import SignSFTConfig
from .sft_trainer import SignSFTTrainer


__all__ = [
    "LEVEL_TABLE",
    "SIGNDPO_LEVELS",
    "AttentionHook",
    "CollatorResumeCallback",
    "LanguageHook",
    "Level",
    "PoseBatch",
    "PoseCollator",
    "PoseHook",
    "PreferenceHook",
    "SignDPOConfig",
    "SignDPOTrainer",
    "SignPreferenceCollator",
    "SignSFTConfig",
    "SignSFTTrainer",
    "SignTranslationCollator",
    "build_preference_hooks",
    "disable_dropout",
    "evaluate_translation",
    "tokenize_targets",
]
