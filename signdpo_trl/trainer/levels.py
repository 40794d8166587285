"""The one table of SignDPO's preference levels: what each rejects, where it is built, which fields configure it.

The pose-side names come from the perturbation registry (`signdpo_trl.perturbations.LEVELS`); this table adds the
language level and everything the trainer needs to know about a level. The configuration validates against it, and
the hooks of a configuration are built from it, so a level is defined here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..perturbations import IN_STEP_LEVELS, LEVEL_ALIASES, canonical_level, get_operator_spec, list_operators
from ..perturbations import LEVELS as PERTURBATION_LEVELS
from ..perturbations.attention import FRAME_SET_OPERATORS, SALIENT_PART
from .hooks import AttentionHook, LanguageHook, PoseHook, PreferenceHook


@dataclass(frozen=True)
class Level:
    """A preference level.

    Args:
        name (`str`): The name configurations and logged metrics use.
        side (`str`): `"pose"`: the rejected sample is a perturbed pose with the reference text, (x~, y);
            `"text"`: a wrong translation of the clean pose, (x, y~).
        runs_in (`str`): `"collator"` (built with the batch) or `"step"` (needs the reference model's salience, so it
            is built inside the training step). A configuration's `pose_levels_in_step` moves the collator's pose
            levels into the step too.
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
            return PoseHook(
                name,
                getattr(args, f"{name}_operators"),
                getattr(args, f"{name}_strength"),
                in_step=getattr(args, "pose_levels_in_step", False),
            )

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


def level_operators(level: str) -> list[str]:
    """The operator names a pose level can draw from, among the operators registered now.

    A level built in the collator takes any registered operator except those that need the model's salience; the
    attention level takes what [`~signdpo_trl.perturbations.attention_guided_perturbation`] applies at salient frames:
    `"salient_part"`, the frame-set operators and every registered spatial operator.
    """
    if LEVEL_TABLE[level].runs_in == "step":
        spatial = [name for name in list_operators() if get_operator_spec(name).level.startswith("spatial")]
        return [SALIENT_PART, *FRAME_SET_OPERATORS, *spatial]
    return [name for name in list_operators() if not get_operator_spec(name).requires_salience]


def check_level_operators(args, built: str) -> None:
    """Raises a `ValueError` if a pose level that `args` turns on names an operator it cannot draw from.

    The message names the level, the offending names and the registered names the level accepts. It runs when the
    configuration is built, so a user's own operator must be registered before that, and again when the trainer
    builds its hooks, which catches names set on the configuration after it was built.

    Args:
        args ([`SignDPOConfig`]): The configuration.
        built (`str`): What is being built, for the message (`"SignDPOConfig"`, `"SignDPOTrainer"`).
    """
    for level in args.levels:
        if LEVEL_TABLE[level].side != "pose":
            continue
        operators = getattr(args, f"{level}_operators")
        if not operators:
            raise ValueError(f"Level {level!r} is on but {level}_operators is empty; name at least one operator.")
        accepted = level_operators(level)
        unknown = [name for name in operators if name not in accepted]
        if unknown:
            raise ValueError(
                f"{level}_operators names {unknown}, which the {level!r} level cannot draw from; the registered "
                f"operators it accepts are {accepted}. Register your own with `@register_operator(name, level=...)` "
                f"before building the {built}."
            )


def build_preference_hooks(args) -> list[PreferenceHook]:
    """The hooks of the levels a [`SignDPOConfig`] turns on, in its order, configured from it.

    The operator names are checked again first (see `check_level_operators`): the configuration may have been
    changed since it was built.
    """
    check_level_operators(args, built="SignDPOTrainer")
    return [LEVEL_TABLE[resolve_level(level)].build_hook(args) for level in args.levels]


__all__ = [
    "LEVEL_TABLE",
    "POSE_LEVELS",
    "SIGNDPO_LEVELS",
    "Level",
    "build_preference_hooks",
    "check_level_operators",
    "level_operators",
    "resolve_level",
]
