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

from ..data.collation import PoseBatch, PoseCollator, pose_array_format, shift_right, tokenize_targets


__all__ = [
    "CollatorResumeCallback",
    "PoseBatch",
    "PoseCollator",
    "SignTranslationCollator",
    "check_dataloader_order",
    "count_passes",
    "pose_array_format",
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


def check_dataloader_order(args) -> None:
    """Raises `ValueError` when DataLoader workers may hand batches out of turn (`dataloader_in_order=False`): a
    seeded collator in a worker tells which batch it collates from the order in which the batches are dealt."""
    if args.dataloader_num_workers > 0 and not args.dataloader_in_order:
        raise ValueError(
            "dataloader_in_order=False lets DataLoader workers take batches out of turn, and the collator's copy in "
            "each worker counts its turns to know which batch it builds (its random draws are seeded by it, so that "
            "a resumed run draws what an uninterrupted one does); keep dataloader_in_order=True."
        )


def count_passes(collator, dataloader, *, repeat_passes: bool = False) -> None:
    """Tells a seeded collator how many batches one pass of `dataloader` has, so that its copies in the DataLoader's
    worker processes know which batch they collate (see [`PoseCollator`]'s `batches_per_pass`).

    Args:
        collator: The DataLoader's `collate_fn`; anything but a [`PoseCollator`] is left alone.
        dataloader: The DataLoader, before it is iterated (its workers copy the collator when they start).
        repeat_passes (`bool`, defaults to `False`): Every pass draws what the first did (evaluation), rather than
            carrying on from the previous one (training epochs).
    """
    if isinstance(collator, PoseCollator) and has_length(dataloader):
        collator.batches_per_pass = len(dataloader)
        collator.repeat_passes = repeat_passes


class CollatorResumeCallback(TrainerCallback):
    """Points a seeded collator at the first batch of each epoch: at the start of training, 0 for a new run or the
    batches already trained on for a resumed one (the Trainer skips them without collating them); at every later
    epoch, that epoch's first batch.

    With DataLoader workers the collator of the main process collates nothing, so its own count does not move; the
    workers, started at each epoch (or once, when persistent), count on from the index they find in it.

    Args:
        collator ([`PoseCollator`]): The training collator.
    """

    def __init__(self, collator: PoseCollator):
        self.collator = collator
        self.batches_per_epoch = None
        self.epoch = None

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        accumulation = args.gradient_accumulation_steps
        consumed = state.global_step * accumulation
        self.batches_per_epoch, self.epoch = None, None
        if train_dataloader is not None and has_length(train_dataloader):
            # As Trainer._init_training_state: whole epochs, then the update steps of the current one.
            self.batches_per_epoch = len(train_dataloader)
            epochs, updates = divmod(state.global_step, max(math.ceil(self.batches_per_epoch / accumulation), 1))
            consumed = epochs * self.batches_per_epoch + updates * accumulation
            self.epoch = epochs - 1  # the first on_epoch_begin is that of epoch `epochs`
        self.collator.batch_index = consumed

    def on_epoch_begin(self, args, state, control, **kwargs):
        if self.epoch is None:
            return
        self.epoch += 1
        self.collator.batch_index = max(self.collator.batch_index, self.epoch * self.batches_per_epoch)
