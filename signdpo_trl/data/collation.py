"""Batch collation of pose rows: frame sampling, padding, per-part normalisation, target tokenisation.

A batch is built in two stages so that preference hooks can act between them:

1. `PoseCollator.pad` samples frames and pads the rows into *source-space* tensors (canonical joints before
   normalisation): `keypoints` B x T x J x C, `mask` B x T x J, `lengths` B and, under `"unisign"`, `confidence`
   B x T x J.
2. `PoseCollator.encode` normalises each part and appends the confidence channel, giving the model inputs `pose`
   B x T x J x (C + 1) and `pose_mask` B x T.

Two input conventions (`normalization`); a model records the one it was trained on in its configuration
(`SignTranslationConfig.pose_normalization`) and `PoseCollator.for_model` builds the matching collator:

- `"unisign"`: Uni-Sign's `load_part_kp` (see `normalize.normalize_parts`). The source batch holds every point the
  detector reported (`mask`: confidence > 0) with its confidence, which perturbation operators carry with the points
  they move; `encode` then drops points at or below `confidence_threshold`, makes hands and face relative to their
  stored wrist and nose tip whatever those points' confidence, and passes the confidence (clipped to 1) as the last
  channel. Only an anchor that is absent (confidence exactly 0, e.g. the nose tip of reduced MediaPipe Holistic, a
  case Uni-Sign never meets since RTMPose returns every point) falls back to the centroid of its part's confident
  points.
- `"masked"`: the convention of the checkpoints trained before `pose_normalization` existed. `pad` removes points at
  or below `confidence_threshold` (`mask`) and zeroes them, and the model sees 0/1 visibility as its confidence
  channel, so a low-confidence wrist or nose tip counts as absent and its part is centred on its centroid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import datasets
import numpy as np
import torch

from .normalize import normalized_pose, sample_frame_indices


# The input conventions `PoseCollator` builds; new models get the first (`SignTranslationConfig` keeps a copy).
POSE_NORMALIZATIONS = ("unisign", "masked")
# What a model whose configuration has no `pose_normalization` (saved before the field existed) was trained on.
LEGACY_POSE_NORMALIZATION = "masked"
# The columns of a pose row that the collators read as arrays.
POSE_COLUMNS = ("keypoints", "confidence")


def pose_array_format(dataset):
    """`dataset` in the format the collators read fastest: its pose columns in numpy format, so that a row's
    `keypoints` and `confidence` arrive as one T x J x C and one T x J array (never as nested Python lists), and its
    other columns as Python objects (a text stays a `str`, a list of texts a `list`).

    Anything but a `datasets.Dataset`, and a dataset with a transform of its own (`set_transform`), is returned as it
    is.
    """
    if not isinstance(dataset, datasets.Dataset) or dataset.format["type"] == "custom":
        return dataset
    columns = [column for column in POSE_COLUMNS if column in dataset.column_names]
    if not columns:
        return dataset
    return dataset.with_format("numpy", columns=columns, output_all_columns=True)


def pose_normalization_of(model) -> str:
    """The input convention `model` was trained on: its configuration's `pose_normalization`, or `"masked"` for a
    configuration that predates the field (e.g. one loaded with `trust_remote_code` from an older checkpoint's own
    configuration file).

    Args:
        model: A `SignTranslationModel`, or a wrapper that exposes its `config` (a `peft.PeftModel`).
    """
    config = getattr(model, "config", None)
    if config is None:
        raise TypeError(
            f"{type(model).__name__} has no `config`, so its input convention is unknown; pass a SignTranslationModel "
            f"or build the collator with `normalization=` one of {', '.join(map(repr, POSE_NORMALIZATIONS))}."
        )
    return getattr(config, "pose_normalization", None) or LEGACY_POSE_NORMALIZATION


@dataclass
class PoseBatch:
    """A padded batch of canonical poses in source space.

    Args:
        keypoints (`torch.Tensor`): B x T x J x C coordinates; zero in padding and at points not in `mask`.
        mask (`torch.Tensor`): B x T x J booleans, True where a point is in the batch: reported by the detector
            (confidence > 0) under `"unisign"`, above the confidence threshold under `"masked"`.
        lengths (`torch.Tensor`): B valid frame counts; frames at or beyond a sequence's length are padding.
        confidence (`torch.Tensor`, *optional*): B x T x J detector confidences (0 in padding), present under
            `"unisign"`, whose `encode` needs them; a hook that builds a new `PoseBatch` passes them on, moved with
            the points (operators do this when given `confidence=`).
    """

    keypoints: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    confidence: torch.Tensor | None = None

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
            Points at or below this confidence are left out of the model input (Uni-Sign's `thr`).
        frame_sampling (`str`, defaults to `"uniform"`):
            `"uniform"`: evenly spaced frames, deterministic (evaluation). `"random"`: a random sorted subset per
            clip (training augmentation); never used for evaluation.
        seed (`int` or `tuple[int, ...]`, *optional*):
            When set, the random draws of the `batch_index`-th batch come from a generator seeded with
            `(*seed, batch_index)`; the trainers set it (`(args.seed, process index)`) and restore `batch_index` when
            resuming, so a resumed run draws what an uninterrupted one does. The Trainer collates batches ahead of
            the step and restores torch's global generator only afterwards, so draws from the global generator
            (the behaviour without a seed) do not survive a resume exactly. In DataLoader worker processes the
            draws are the same as in the main process, whatever the number of workers (see `batches_per_pass`).
        batch_index (`int`, defaults to `0`): Index of the next batch, counted by the collator. In a DataLoader
            worker, the index of the first batch of the workers' first pass.
        batches_per_pass (`int`, *optional*), repeat_passes (`bool`, defaults to `False`):
            How a collator copied into DataLoader workers (`num_workers > 0`) tells which batch it collates. A
            DataLoader over a map-style dataset deals the batches of a pass out in turn (`in_order=True`): worker `w`
            of `W` collates batches `w`, `w + W`, ... of each pass. Persistent workers keep their copy across passes;
            pass `p` then starts `p * batches_per_pass` batches after `batch_index` (training: epochs follow each
            other), or at `batch_index` again with `repeat_passes` (evaluation: every pass draws the same pairs).
            Without `batches_per_pass`, workers are taken to make one pass. The trainers set both.
        normalization (`str`, defaults to `"unisign"`):
            The input convention (see the module docstring): `"unisign"` or `"masked"`. Build the collator of a
            trained model with `PoseCollator.for_model(model, ...)`, which reads it from the model's configuration.
    """

    max_frames: int = 256
    confidence_threshold: float = 0.3
    frame_sampling: str = "uniform"
    seed: int | tuple[int, ...] | None = None
    batch_index: int = 0
    normalization: str = "unisign"
    batches_per_pass: int | None = None
    repeat_passes: bool = False
    # Batches this copy of the collator has collated in a DataLoader worker.
    _worker_batches: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.frame_sampling not in ("uniform", "random"):
            raise ValueError(f"frame_sampling must be 'uniform' or 'random', got {self.frame_sampling!r}.")
        if self.max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, got {self.max_frames}.")
        if self.normalization not in POSE_NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {', '.join(map(repr, POSE_NORMALIZATIONS))}; got "
                f"{self.normalization!r}."
            )

    @classmethod
    def for_model(cls, model, **kwargs):
        """This collator class built for `model`: its `normalization` is the input convention the model was trained
        on (`pose_normalization_of(model)`); `kwargs` are the other fields."""
        return cls(normalization=pose_normalization_of(model), **kwargs)

    def check_model(self, model) -> None:
        """Raises `ValueError` if `model` was trained on another input convention than this collator builds."""
        expected = pose_normalization_of(model)
        if self.normalization != expected:
            raise ValueError(
                f"The collator builds {self.normalization!r} inputs but the model was trained on {expected!r} inputs "
                f"(its config's `pose_normalization`). Build the collator with "
                f"`{type(self).__name__}.for_model(model, ...)` or pass `normalization={expected!r}`."
            )

    def batch_generator(self) -> torch.Generator:
        """The generator of the next batch's random draws (see `seed`); advances `batch_index` (in a DataLoader
        worker, the count of batches this copy has collated)."""
        if self.seed is None:
            return torch.Generator().manual_seed(int(torch.randint(0, 2**62, ()).item()))
        entropy = [*(self.seed if isinstance(self.seed, tuple) else (self.seed,)), self._next_batch_index()]
        return torch.Generator().manual_seed(int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]))

    def _next_batch_index(self) -> int:
        worker = torch.utils.data.get_worker_info()
        if worker is None:
            self.batch_index += 1
            return self.batch_index - 1
        collated, self._worker_batches = self._worker_batches, self._worker_batches + 1
        first, position = self.batch_index, collated
        if self.batches_per_pass is not None:
            batches_of_this_worker = len(range(worker.id, self.batches_per_pass, worker.num_workers))
            pass_index, position = divmod(collated, max(batches_of_this_worker, 1))
            if not self.repeat_passes:
                first += pass_index * self.batches_per_pass
        return first + position * worker.num_workers + worker.id

    def pad(self, examples: Sequence[dict[str, Any]], generator: torch.Generator | None = None) -> PoseBatch:
        """Samples frames from each row and pads them into one source-space `PoseBatch`.

        The only work done per row is taking its two arrays; frame sampling, padding and the conversion to float32 are
        done for the whole batch at once (the trainers hand the collator the dataset in numpy format, see
        `pose_array_format`, so a row's arrays arrive as they are stored).

        Args:
            examples (`Sequence[dict]`): Rows with `keypoints` (T x J x C) and `confidence` (T x J) arrays (nested
                lists are accepted, at the cost of converting them).
            generator (`torch.Generator`, *optional*): Source of the random frame sampling; defaults to
                `batch_generator()`.
        """
        frame_generator = None
        if self.frame_sampling == "random":
            generator = generator if generator is not None else self.batch_generator()
            frame_generator = np.random.default_rng(int(torch.randint(0, 2**62, (), generator=generator).item()))
        keypoints = [np.asarray(example["keypoints"]) for example in examples]
        confidence = [np.asarray(example["confidence"]) for example in examples]
        for row_index, (clip_keypoints, clip_confidence) in enumerate(zip(keypoints, confidence)):
            if (
                clip_keypoints.ndim != 3
                or clip_keypoints.shape[0] == 0
                or clip_keypoints.shape[1:] != keypoints[0].shape[1:]
                or clip_confidence.shape != clip_keypoints.shape[:2]
            ):
                raise ValueError(
                    f"Row {examples[row_index].get('id', row_index)!r}: keypoints must be a non-empty T x J x C array "
                    f"and confidence T x J, with the J x C of the batch's first row {keypoints[0].shape[1:]}; got "
                    f"{clip_keypoints.shape} and {clip_confidence.shape}."
                )
        num_frames = np.array([len(clip_keypoints) for clip_keypoints in keypoints])
        indices, lengths = sample_frame_indices(num_frames, self.max_frames, generator=frame_generator)
        # The clips laid end to end, then a frame of zeros that every padded position points at: one gather pads.
        padded = np.arange(indices.shape[1])[None, :] >= lengths[:, None]
        rows = np.where(padded, num_frames.sum(), (np.cumsum(num_frames) - num_frames)[:, None] + indices)
        zero_frame = np.zeros((1, *keypoints[0].shape[1:]), dtype=np.float32)
        keypoints = torch.from_numpy(np.concatenate([*keypoints, zero_frame], dtype=np.float32)[rows])
        confidence = torch.from_numpy(np.concatenate([*confidence, zero_frame[..., 0]], dtype=np.float32)[rows])
        lengths = torch.from_numpy(lengths)
        if self.normalization == "masked":
            mask = confidence > self.confidence_threshold
            return PoseBatch(keypoints=keypoints * mask[..., None], mask=mask, lengths=lengths)
        # Low-confidence points stay: Uni-Sign subtracts a stored wrist or nose tip whatever its confidence, and
        # perturbation operators must move them with the rest. `encode` applies the threshold.
        reported = confidence > 0
        return PoseBatch(keypoints * reported[..., None], reported, lengths, confidence)

    def encode(self, batch: PoseBatch) -> dict[str, torch.Tensor]:
        """Normalises a source-space batch per part and returns the model inputs `pose` and `pose_mask`."""
        frame_mask = batch.frame_mask
        if self.normalization == "masked":
            visibility = (batch.mask & frame_mask[..., None]).to(batch.keypoints.dtype)
            return {
                "pose": normalized_pose(batch.keypoints, visibility, frame_mask, threshold=0.5),
                "pose_mask": frame_mask,
            }
        if batch.confidence is None:
            raise ValueError(
                "normalization='unisign' feeds the detector's confidences to the model, and this PoseBatch has none. "
                "A hook that builds a PoseBatch must pass on `confidence` (an operator carries it when called with "
                "`confidence=batch.confidence`)."
            )
        confidence = torch.where(batch.mask & frame_mask[..., None], batch.confidence, 0).to(batch.keypoints.dtype)
        pose = normalized_pose(batch.keypoints, confidence, frame_mask, threshold=self.confidence_threshold)
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
