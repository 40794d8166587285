"""Preference hooks: each adds one kind of rejected sample to a SignDPO batch.

The chosen side of every pair is the clean clip and its reference text. A hook builds the rejected side of one level:
input-level hooks return a perturbed pose (same text), the language hook returns corrupted texts (same pose). Users
add their own level by subclassing `PoseHook` (or registering a new operator and naming it in the configuration)
without touching the trainer.

A pose hook returns a source-space `PoseBatch` that `PoseCollator.encode` turns into the rejected `pose`. Under the
`"unisign"` input convention the batch carries the detector's confidences (`PoseBatch.confidence`), which the model
sees: a hook passes them on, moved with the points (operators do it when called with `confidence=`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch

from ..corrupter import corrupt_text
from ..perturbations import build_operator
from ..perturbations.attention import attention_guided_perturbation
from .collators import PoseBatch


class PreferenceHook(ABC):
    """Builds the rejected side of one preference level for a whole batch.

    Attributes:
        level (`str`): The level name, used as the key of the rejected sample and in the logged metrics.
        in_step (`bool`): Whether the hook needs the model and so runs inside the training step, not the collator.
    """

    level: str
    in_step: bool = False

    @abstractmethod
    def __call__(self, batch: PoseBatch, examples: Sequence[dict[str, Any]], generator: torch.Generator) -> Any: ...


class PoseHook(PreferenceHook):
    """An input-level hook: rejected pose = one of `operators` applied to the chosen pose, drawn per clip.

    Each clip draws one operator; every operator then runs once, over the sub-batch of the clips that drew it, so a
    batch mixes operators without a loop over clips and without perturbing any clip more than once.

    Args:
        level (`str`): The level name (e.g. `"spatial_local"`).
        operators (`Sequence[str]`): Registered operator names to draw from.
        strength (`float`): Strength passed to every operator.
        in_step (`bool`, defaults to `False`): Run inside the training step, on the batch where the model is, rather
            than in the collator (`SignDPOConfig.pose_levels_in_step`); the trainer then passes no rows.
    """

    def __init__(self, level: str, operators: Sequence[str], strength: float, in_step: bool = False):
        if not operators:
            raise ValueError(f"The {level!r} hook needs at least one operator.")
        self.level = level
        self.in_step = in_step
        self.operators = [build_operator(name, strength=strength) for name in operators]

    def __call__(self, batch: PoseBatch, examples: Sequence[dict[str, Any]], generator: torch.Generator) -> PoseBatch:
        choice = torch.randint(len(self.operators), (len(batch.lengths),), generator=generator)
        keypoints, mask = torch.empty_like(batch.keypoints), torch.empty_like(batch.mask)
        confidence = None if batch.confidence is None else torch.empty_like(batch.confidence)
        for index, operator in enumerate(self.operators):
            # Each operator runs over the clips that drew it, as one sub-batch (operators that borrow from other
            # clips, e.g. a donor handshape, borrow from that sub-batch).
            rows = (choice == index).nonzero().squeeze(1).to(batch.keypoints.device)
            if len(rows) == 0:
                continue
            perturbed = operator(
                batch.keypoints[rows],
                batch.mask[rows],
                batch.lengths[rows],
                generator=generator,
                confidence=None if batch.confidence is None else batch.confidence[rows],
            )
            keypoints[rows] = perturbed.keypoints
            mask[rows] = perturbed.mask
            if confidence is not None:
                confidence[rows] = perturbed.confidence
        return PoseBatch(keypoints=keypoints, mask=mask, lengths=batch.lengths, confidence=confidence)


class AttentionHook(PreferenceHook):
    """The attention-guided level: local operators applied where the reference model's cross-attention is highest.

    It runs inside the training step, which passes the reference model's salience over the chosen pair.

    Args:
        operators (`Sequence[str]`): Local operators to apply at the salient frames (and parts).
        strength (`float`): Operator strength.
        top_k (`int`): Number of most salient frames to perturb.
    """

    level = "attention"
    in_step = True

    def __init__(self, operators: Sequence[str], strength: float, top_k: int):
        self.operators = tuple(operators)
        self.strength = strength
        self.top_k = top_k

    def __call__(  # type: ignore[override]
        self, batch: PoseBatch, salience: torch.Tensor, generator: torch.Generator
    ) -> PoseBatch:
        perturbed = attention_guided_perturbation(
            batch.keypoints,
            batch.mask,
            batch.lengths,
            salience,
            generator=generator,
            strength=self.strength,
            top_k=self.top_k,
            operators=self.operators,
            confidence=batch.confidence,
        )
        return PoseBatch(perturbed.keypoints, perturbed.mask, batch.lengths, perturbed.confidence)


class LanguageHook(PreferenceHook):
    """The language level: the rejected side is a fluent but wrong translation of the same clip.

    Rows that carry a list of corrupted translations in `rejected_texts_column` (written, e.g., by the LoRA corrupter)
    get one of them at random; other rows get a rule-based corruption of their reference (see
    [`~signdpo_trl.corrupter.corrupt_text`]), drawing substitute entities from the batch's other references.

    Args:
        text_column (`str`): Column of the reference translation.
        rejected_texts_column (`str`): Column of the corrupted translations.
        language (`str`): `"en"` or `"zh"`, for the rule-based corruptions.
    """

    level = "language"

    def __init__(self, text_column: str = "text", rejected_texts_column: str = "rejected_texts", language: str = "en"):
        self.text_column = text_column
        self.rejected_texts_column = rejected_texts_column
        self.language = language

    def __call__(self, batch: PoseBatch, examples: Sequence[dict[str, Any]], generator: torch.Generator) -> list[str]:
        references = [example[self.text_column] for example in examples]
        rejected = []
        for row, (example, reference) in enumerate(zip(examples, references)):
            candidates = [
                text
                for text in (example.get(self.rejected_texts_column) or [])
                if text and text.strip() and text.strip() != reference.strip()
            ]
            if candidates:
                rejected.append(candidates[int(torch.randint(len(candidates), (), generator=generator))])
            else:
                pool = references[:row] + references[row + 1 :]
                rejected.append(corrupt_text(reference, pool=pool, generator=generator, language=self.language))
        return rejected
