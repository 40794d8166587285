"""Collators of the trainers: pose rows and their transcripts, and the callback that makes them resumable.

The pose side (frame sampling, padding, normalisation) lives in `signdpo_trl.data.collation`; its names are
re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import TrainerCallback
from transformers.trainer_utils import has_length

from ..data.collation import PoseBatch, PoseCollator, shift_right, tokenize_targets


__all__ = [
    "CollatorResumeCallback",
    "PoseBatch",
    "PoseCollator",
    "SignTranslationCollator",
    "shift_right",
    "tokenize_targets",
]


@dataclass
class SignTranslationCollator(PoseCollator):
    """Collates pose rows and their transcripts for maximum-likelihood training and evaluation.

    Args:
        tokenizer: The text tokenizer (the trainer's `processing_class`).
        text_column (`str`, defaults to `"text"`): Column holding the target sentence.
        max_target_length (`int`, *optional*, defaults to `128`): Maximum number of label tokens.
        decoder_start_token_id (`int`, *optional*): When set, `decoder_input_ids` (the labels shifted right behind
            this token) are added to the batch; the Trainer's label smoother removes `labels` before the forward pass,
            so the model could not derive them itself.
        max_frames, confidence_threshold, frame_sampling, seed, normalization: see [`PoseCollator`]; the trainer
            builds it with `SignTranslationCollator.for_model(model, ...)`, so it feeds the model the input convention
            it was trained on.
    """

    tokenizer: Any = None
    text_column: str = "text"
    max_target_length: int | None = 128
    decoder_start_token_id: int | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.tokenizer is None:
            raise ValueError("SignTranslationCollator needs a tokenizer: pass tokenizer=<your tokenizer>.")

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        inputs = self.encode(self.pad(examples))
        texts = [example[self.text_column] for example in examples]
        inputs["labels"] = tokenize_targets(self.tokenizer, texts, self.max_target_length)
        if self.decoder_start_token_id is not None:
            inputs["decoder_input_ids"] = shift_right(
                inputs["labels"], self.decoder_start_token_id, self.tokenizer.pad_token_id
            )
        return inputs


class CollatorResumeCallback(TrainerCallback):
    """Points a seeded collator at the first batch a run consumes: 0 for a new run, the batches already trained on
    for a resumed one (the Trainer skips them without collating them).

    Args:
        collator ([`PoseCollator`]): The training collator.
    """

    def __init__(self, collator: PoseCollator):
        self.collator = collator

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        accumulation = args.gradient_accumulation_steps
        consumed = state.global_step * accumulation
        if train_dataloader is not None and has_length(train_dataloader):
            # As Trainer._init_training_state: whole epochs, then the update steps of the current one.
            batches_per_epoch = len(train_dataloader)
            epochs, updates = divmod(state.global_step, max(math.ceil(batches_per_epoch / accumulation), 1))
            consumed = epochs * batches_per_epoch + updates * accumulation
        self.collator.batch_index = consumed
