"""The SignDPO collator: pads the chosen clips and runs the preference hooks that build the rejected sides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .collators import PoseBatch, PoseCollator, tokenize_targets
from .hooks import PreferenceHook


@dataclass
class SignPreferenceCollator(PoseCollator):
    """Collates pose rows into a SignDPO batch: the chosen pairs plus one rejected sample per level.

    The output holds:
    - `pose`, `pose_mask`, `labels`: the chosen side (clean clip, reference text);
    - `rejected_pose_<level>` for every input-level hook (same text, perturbed pose; same frame mask);
    - `rejected_labels_language` for the language hook (same pose, corrupted text);
    - `source_keypoints`, `source_mask`, `source_lengths` (and `source_confidence` under the `"unisign"` input
      convention): the chosen clip in source space, for the hooks that run in the training step: the attention
      level, which needs the reference model's salience, and the pose levels under
      `SignDPOConfig.pose_levels_in_step`;
    - `step_seed`: a seed drawn from the batch's generator for the in-step hooks' own draws, so that they too come
      from the collator's seeded stream (a resumed run draws the same pairs).

    Text is truncated before padding. Every random draw of a batch goes through one generator (see
    [`PoseCollator`]'s `seed`), so a seeded collator draws the same pairs in a resumed run as in an uninterrupted one.

    Args:
        tokenizer: The target-text tokenizer.
        hooks (`Sequence[PreferenceHook]`): The preference hooks, one per level.
        text_column (`str`, defaults to `"text"`): Column of the reference translation.
        max_target_length (`int`, defaults to `128`): Maximum number of target tokens.
        max_frames, confidence_threshold, frame_sampling, seed, batch_index, normalization: see [`PoseCollator`].
    """

    tokenizer: Any = None
    hooks: Sequence[PreferenceHook] = field(default_factory=tuple)
    text_column: str = "text"
    max_target_length: int | None = 128

    def __post_init__(self):
        super().__post_init__()
        if self.tokenizer is None:
            raise ValueError("SignPreferenceCollator needs a tokenizer: pass tokenizer=<your tokenizer>.")
        levels = [hook.level for hook in self.hooks]
        if len(set(levels)) != len(levels):
            raise ValueError(f"Two preference hooks share a level name: {levels}.")

    @property
    def in_step_hooks(self) -> list[PreferenceHook]:
        return [hook for hook in self.hooks if hook.in_step]

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        for row, example in enumerate(examples):
            text = example.get(self.text_column)
            if not isinstance(text, str) or not text.strip():
                raise ValueError(
                    f"Row {example.get('id', row)!r} has no reference text in column {self.text_column!r}; "
                    "SignDPO needs the translation of every clip."
                )
        generator = self.batch_generator()
        batch = self.pad(examples, generator)
        inputs = self.encode(batch)
        texts = [example[self.text_column] for example in examples]
        inputs["labels"] = tokenize_targets(self.tokenizer, texts, self.max_target_length)
        for hook in self.hooks:
            if hook.in_step:
                continue
            rejected = hook(batch, examples, generator)
            if isinstance(rejected, PoseBatch):
                inputs[f"rejected_pose_{hook.level}"] = self.encode(rejected)["pose"]
            else:
                inputs[f"rejected_labels_{hook.level}"] = tokenize_targets(
                    self.tokenizer, rejected, self.max_target_length
                )
        if self.in_step_hooks:
            inputs["source_keypoints"] = batch.keypoints
            inputs["source_mask"] = batch.mask
            inputs["source_lengths"] = batch.lengths
            if batch.confidence is not None:
                inputs["source_confidence"] = batch.confidence
            inputs["step_seed"] = torch.randint(0, 2**62, (1,), generator=generator)
        return inputs
