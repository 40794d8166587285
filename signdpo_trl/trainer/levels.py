"""The one table of SignDPO's preference levels: what each rejects, where it is built, which fields configure it.

The pose-side names come from the perturbation registry (`signdpo_trl.perturbations.LEVELS`); this table adds the
language level and everything the trainer needs to know about a level. The configuration validates against it, and
the hooks of a configuration are built from it, so a level is defined here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..perturbations import IN_STEP_LEVELS, LEVEL_ALIASES, canonical_level
from ..perturbations import LEVELS as PERTURBATION_LEVELS
from .hooks import AttentionHook, LanguageHook, PoseHook, PreferenceHook


@dataclass(frozen=True)
class Level:
    """A preference level.

    Args:
        name (`str`): The name configurations and logged metrics use.
        side (`str`): `"pose"`: the rejected sample is a perturbed pose with the reference text, (x~, y);
            `"text"`: a wrong translation of the clean pose, (x, y~).
        runs_in (`str`): `"collator"` (built with the batch) or `"step"` (needs the reference model's salience, so it
            is built inside the training step).
        fields (`tuple[str, ...]`): The `SignDPOConfig` fields that configure it.
        build_hook (`Callable`): `(args) -> PreferenceHook` from a `SignDPOConfig`.
    """

    name: str
    side: Literal["pose", "text"]
    runs_in: Literal["collator", "step"]
    fields: tuple[str, ...]
    build_hook: Callable[..., PreferenceHook]


def _pose_level(name: str) -> Level:
    in_step = name in IN_STEP_LEVELS
    fields = (f"{name}_operators", f"{name}_strength") + (
        ("attention_top_k", "attention_placement") if in_step else ()
    )
    if in_step:

        def build(args) -> PreferenceHook:
            return AttentionHook(args.attention_operators, args.attention_strength, args.attention_top_k)

    else:

        def build(args) -> PreferenceHook:
            return PoseHook(name, getattr(args, f"{name}_operators"), getattr(args, f"{name}_strength"))

    return Level(name, "pose", "step" if in_step else "collator", fields, build)


LEVEL_TABLE: dict[str, Level] = {name: _pose_level(name) for name in PERTURBATION_LEVELS}
LEVEL_TABLE["language"] = Level(
    "language",
    "text",
    "collator",
    ("rejected_texts_column", "language"),
    lambda args: LanguageHook(args.text_column, args.rejected_texts_column, language=args.language),
)

SIGNDPO_LEVELS = tuple(LEVEL_TABLE)
POSE_LEVELS = tuple(name for name, level in LEVEL_TABLE.items() if level.side == "pose")


def resolve_level(name: str) -> str:
    """A level's name as the table spells it (aliases such as `"attention_guided"` resolved)."""
    name = canonical_level(name)
    if name not in LEVEL_TABLE:
        aliases = ", ".join(f"{alias!r} for {level!r}" for alias, level in LEVEL_ALIASES.items())
        raise ValueError(f"Unknown SignDPO level {name!r}; choose among {list(SIGNDPO_LEVELS)} (also {aliases}).")
    return name


def build_preference_hooks(args) -> list[PreferenceHook]:
    """The hooks of the levels a [`SignDPOConfig`] turns on, in its order, configured from it."""
    return [LEVEL_TABLE[resolve_level(level)].build_hook(args) for level in args.levels]


__all__ = ["LEVEL_TABLE", "POSE_LEVELS", "SIGNDPO_LEVELS", "Level", "build_preference_hooks", "resolve_level"]
