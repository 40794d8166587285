"""Batch collation of pose rows: frame sampling, padding, per-part normalisation, target tokenisation.

A batch is built in two stages so that preference hooks can act between them:

1. `PoseCollator.pad` samples frames and pads the rows into *source-space* tensors (canonical joints before
   normalisation): `keypoints` B x T x J x C, `mask` B x T x J (point observed) and `lengths` B.
2. `PoseCollator.encode` normalises each part as Uni-Sign does and appends the visibility channel, giving the model
   inputs `pose` B x T x J x (C + 1) and `pose_mask` B x T.

Perturbation operators move points between frames and joints, so a graded detector confidence has no meaning after
them; the model therefore sees *visibility* (1 for a point above the confidence threshold, 0 otherwise) as its
confidence channel, in MLE and in DPO alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from .normalize import normalize_parts, sample_frames


@dataclass
class PoseBatch:
    """A padded batch of canonical poses in source space.

    Args:
        keypoints (`torch.Tensor`): B x T x J x C coordinates; zero in padding and at unobserved points.
        mask (`torch.Tensor`): B x T x J booleans, True where a point is observed (confidence above the threshold).
        lengths (`torch.Tensor`): B valid frame counts; frames at or beyond a sequence's length are padding.
    """

    keypoints: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor

    @property
    def frame_mask(self) -> torch.Tensor:
        """B x T booleans, True for real frames."""
        steps = torch.arange(self.keypoints.shape[1], device=self.lengths.device)
        return steps[None, :] < self.lengths[:, None]


@dataclass
class PoseCollator:
    """Pads pose rows and turns them into model inputs.

    Args:
        max_frames (`int`, defaults to `256`):
            Longer clips are sub-sampled to this many frames.
        confidence_threshold (`float`, defaults to `0.3`):
            Points at or below this confidence are masked (as in Uni-Sign).
        frame_sampling (`str`, defaults to `"uniform"`):
            `"uniform"`: evenly spaced frames, deterministic (evaluation). `"random"`: a random sorted subset per
            clip (training augmentation); never used for evaluation.
        seed (`int` or `tuple[int, ...]`, *optional*):
            When set, the random draws of the `batch_index`-th batch come from a generator seeded with
            `(*seed, batch_index)`; the trainers set it (`(args.seed, process index)`) and restore `batch_index` when
            resuming, so a resumed run draws what an uninterrupted one does. The Trainer collates batches ahead of
            the step and restores torch's global generator only afterwards, so draws from the global generator
            (the behaviour without a seed) do not survive a resume exactly.
        batch_index (`int`, defaults to `0`): Index of the next batch, counted by the collator.
    """

    max_frames: int = 256
    confidence_threshold: float = 0.3
    frame_sampling: str = "uniform"
    seed: int | tuple[int, ...] | None = None
    batch_index: int = 0

    def __post_init__(self):
        if self.frame_sampling not in ("uniform", "random"):
            raise ValueError(f"frame_sampling must be 'uniform' or 'random', got {self.frame_sampling!r}.")
        if self.max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, got {self.max_frames}.")

    def batch_generator(self) -> torch.Generator:
        """The generator of the next batch's random draws (see `seed`); advances `batch_index`."""
        if self.seed is None:
            return torch.Generator().manual_seed(int(torch.randint(0, 2**62, ()).item()))
        entropy = [*(self.seed if isinstance(self.seed, tuple) else (self.seed,)), self.batch_index]
        self.batch_index += 1
        return torch.Generator().manual_seed(int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]))

    def pad(self, examples: Sequence[dict[str, Any]], generator: torch.Generator | None = None) -> PoseBatch:
        """Samples frames from each row and pads them into one source-space `PoseBatch`.

        Args:
            examples (`Sequence[dict]`): Rows with `keypoints` (T x J x C) and `confidence` (T x J).
            generator (`torch.Generator`, *optional*): Source of the random frame sampling; defaults to
                `batch_generator()`.
        """
        frame_generator = None
        if self.frame_sampling == "random":
            generator = generator if generator is not None else self.batch_generator()
            frame_generator = np.random.default_rng(int(torch.randint(0, 2**62, (), generator=generator).item()))
        clips = []
        for row_index, example in enumerate(examples):
            keypoints = np.asarray(example["keypoints"], dtype=np.float32)
            confidence = np.asarray(example["confidence"], dtype=np.float32)
            if keypoints.ndim != 3 or keypoints.shape[0] == 0:
                raise ValueError(
                    f"Row {example.get('id', row_index)!r}: keypoints must be a non-empty T x J x C array, "
                    f"got shape {keypoints.shape}."
                )
            frames = sample_frames(keypoints.shape[0], self.max_frames, generator=frame_generator)
            clips.append((keypoints[frames], confidence[frames]))

        lengths = torch.tensor([len(clip_keypoints) for clip_keypoints, _ in clips], dtype=torch.long)
        keypoints = pad_sequence([torch.from_numpy(k) for k, _ in clips], batch_first=True)
        confidence = pad_sequence([torch.from_numpy(c) for _, c in clips], batch_first=True)
        mask = confidence > self.confidence_threshold
        return PoseBatch(keypoints=keypoints * mask[..., None], mask=mask, lengths=lengths)

    def encode(self, batch: PoseBatch) -> dict[str, torch.Tensor]:
        """Normalises a source-space batch per part and returns the model inputs `pose` and `pose_mask`."""
        frame_mask = batch.frame_mask
        visibility = (batch.mask & frame_mask[..., None]).to(batch.keypoints.dtype)
        coordinates, visibility = normalize_parts(batch.keypoints, visibility, frame_mask, threshold=0.5)
        pose = torch.cat([coordinates, visibility[..., None]], dim=-1)
        return {"pose": pose, "pose_mask": frame_mask}

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return self.encode(self.pad(examples))


def tokenize_targets(tokenizer, texts: Sequence[str], max_length: int | None) -> torch.Tensor:
    """Tokenises target sentences, truncating *before* padding, and returns labels with -100 at padding.

    Args:
        tokenizer: A tokenizer whose post-processor appends the end-of-sequence token.
        texts (`Sequence[str]`): Target sentences.
        max_length (`int` or `None`): Maximum number of label tokens, the end-of-sequence token included.
    """
    encoded = tokenizer(
        list(texts), max_length=max_length, truncation=max_length is not None, padding=True, return_tensors="pt"
    )
    return encoded["input_ids"].masked_fill(encoded["attention_mask"] == 0, -100)


def shift_right(labels: torch.Tensor, decoder_start_token_id: int, pad_token_id: int) -> torch.Tensor:
    """Teacher-forcing decoder inputs: the labels shifted one step right behind the start token, -100 as padding."""
    decoder_input_ids = labels.new_full(labels.shape, pad_token_id)
    decoder_input_ids[:, 0] = decoder_start_token_id
    decoder_input_ids[:, 1:] = labels[:, :-1].masked_fill(labels[:, :-1] == -100, pad_token_id)
    return decoder_input_ids
