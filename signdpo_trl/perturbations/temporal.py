"""Temporal perturbation operators: they re-time the frames and leave each frame's skeleton as it was.

Every operator builds a source-frame index (`B x T`: output frame `t` of sample `b` is input frame
`source[b, t]`), which is the identity outside `[0, lengths[b])`, and gathers keypoints, masks (and confidences, when
given) with it; frames
never cross the sequence's own length and padding is untouched. Global operators re-order the whole sequence;
local ones alter one window of `strength x length` frames at a random place per sample.

The frame-set primitives `freeze_frames`, `drop_frames` and `shuffle_frames` act on any set of frames (a window, or
the most salient frames in `signdpo_trl.perturbations.attention`).
"""

from __future__ import annotations

import torch

from .registry import (
    PerturbedBatch,
    carried,
    check_strength,
    finish,
    random_below,
    register_operator,
    uniform,
    valid_frames,
)


def _frame_index(lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    return torch.arange(num_frames, device=lengths.device).expand(lengths.shape[0], num_frames)


def gather_frames(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    source: torch.Tensor,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Output frame `t` of sample `b` is input frame `source[b, t]` (padding restored exactly)."""
    channels, num_joints = keypoints.shape[-1], keypoints.shape[-2]
    new_keypoints = keypoints.gather(1, source[:, :, None, None].expand(-1, -1, num_joints, channels))
    frame_source = source[:, :, None].expand(-1, -1, num_joints)
    new_confidence = carried(confidence, lambda values: values.gather(1, frame_source))
    return finish(keypoints, mask, new_keypoints, mask.gather(1, frame_source), lengths, confidence, new_confidence)


def _window_width(
    lengths: torch.Tensor, strength: float, minimum: int = 1, maximum: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-sample window length `round(strength x length)`, clamped to `[minimum, maximum]` and to the length."""
    maximum = lengths if maximum is None else torch.minimum(maximum, lengths)
    width = torch.round(strength * lengths.double()).long().clamp(min=minimum)
    return torch.minimum(width, maximum).clamp(min=0)


def _window(
    lengths: torch.Tensor,
    strength: float,
    generator: torch.Generator | None,
    minimum: int = 1,
    maximum: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample window `[start, start + width)` inside the sequence (see `_window_width`), at a uniformly random
    place."""
    width = _window_width(lengths, strength, minimum, maximum)
    return random_below(lengths - width + 1, generator), width


def _in_window(start: torch.Tensor, width: torch.Tensor, num_frames: int) -> torch.Tensor:
    frame = torch.arange(num_frames, device=start.device)[None]
    return (frame >= start[:, None]) & (frame < (start + width)[:, None])


def freeze_frames(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    frames: torch.Tensor,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Replace every frame in `frames` (`B x T` bool) by the last frame before it that is not in `frames` (the first
    one after it when there is none before; frame 0 when the whole sequence is in `frames`)."""
    num_frames = keypoints.shape[1]
    frame = _frame_index(lengths, num_frames)
    valid = valid_frames(lengths, num_frames)
    kept = valid & ~frames
    previous = torch.where(kept, frame, -1).cummax(1).values
    following = torch.where(kept, frame, num_frames).flip(1).cummin(1).values.flip(1)
    held = torch.where(previous >= 0, previous, torch.where(following < lengths[:, None], following, 0))
    return gather_frames(keypoints, mask, lengths, torch.where(frames & valid, held, frame), confidence)


def drop_frames(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    frames: torch.Tensor,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Remove the frames in `frames` (`B x T` bool) and stretch the remaining ones, in order, back over the
    sequence's length by nearest-frame resampling (each remaining frame appears at least once).

    The batch keeps its shape and its lengths: the dropped content is gone and what is left plays slower. A sequence
    whose every frame is in `frames` is left alone.
    """
    num_frames = keypoints.shape[1]
    frame = _frame_index(lengths, num_frames)
    valid = valid_frames(lengths, num_frames)
    kept = valid & ~frames
    kept_count = kept.sum(1, keepdim=True)
    # Kept frames first, in order: kept_frames[b, j] is the j-th kept frame.
    kept_frames = torch.argsort(torch.where(kept, frame, num_frames + frame), dim=1)
    position = ((2 * frame + 1) * kept_count) // (2 * lengths[:, None].clamp(min=1))
    source = kept_frames.gather(1, position.clamp(max=num_frames - 1))
    kept_source = torch.where(valid & (kept_count > 0), source, frame)
    return gather_frames(keypoints, mask, lengths, kept_source, confidence)


def shuffle_frames(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    frames: torch.Tensor,
    generator: torch.Generator | None = None,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Permute the frames in `frames` (`B x T` bool) among their own places, so that each of them receives another
    one of them (a random cyclic order; nothing moves where only one frame is selected)."""
    batch_size, num_frames = frames.shape
    frame = _frame_index(lengths, num_frames)
    selected = frames & valid_frames(lengths, num_frames)
    count = selected.sum(1, keepdim=True)
    # Selected frames first, in random order; each takes the content of the next one in that order.
    draw = uniform((batch_size, num_frames), generator, frames.device)
    order = torch.argsort(torch.where(selected, draw, 2.0 + frame), dim=1)
    rank = torch.arange(num_frames, device=frames.device)[None]
    following = torch.where(rank + 1 < count, rank + 1, 0)
    incoming = torch.where(rank < count, order.gather(1, following), order)
    source = frame.clone().scatter_(1, order, incoming)
    return gather_frames(keypoints, mask, lengths, source, confidence)


@register_operator("sequence_reversal", level="temporal_global", randomized=False)
def sequence_reversal(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 1.0,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Play each sequence backwards within its own length: frame `t` becomes frame `length - 1 - t`.

    Every sign is reversed and the sign order inverted; the poses themselves are kept. `strength` is not used.
    """
    check_strength(strength)
    frame = _frame_index(lengths, keypoints.shape[1])
    source = torch.where(frame < lengths[:, None], lengths[:, None] - 1 - frame, frame)
    return gather_frames(keypoints, mask, lengths, source, confidence)


@register_operator("segment_shuffle", level="temporal_global")
def segment_shuffle(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 1.0,
    max_segments: int = 8,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Cut each sequence into `k` equal segments and play them in a random order (never the original one).

    Signs survive inside the segments but their order, which carries the sentence's structure, is destroyed.
    `strength` sets `k = 2 + round(strength x (max_segments - 2))`, at most one segment per frame.

    Args:
        max_segments (`int`, defaults to 8): The number of segments at strength 1.
    """
    strength = check_strength(strength)
    if max_segments < 2:
        raise ValueError(f"`max_segments` must be at least 2, got {max_segments}.")
    batch_size, num_frames = keypoints.shape[:2]
    device = keypoints.device
    num_segments = 2 + round(strength * (max_segments - 2))
    segments = torch.minimum(torch.full_like(lengths, num_segments), lengths)
    frame = _frame_index(lengths, num_frames)
    valid = valid_frames(lengths, num_frames)
    segment = (frame * segments[:, None]) // lengths[:, None].clamp(min=1)

    draw = uniform((batch_size, num_segments), generator, device)
    # An order that came out unchanged is broken by swapping the first two segments.
    slot = torch.arange(num_segments, device=device)[None]
    increasing = (draw[:, 1:] > draw[:, :-1]) | (slot[:, 1:] >= segments[:, None])
    unchanged = (increasing.all(1) & (segments >= 2))[:, None]
    draw = torch.where(unchanged & (slot == 0), draw[:, 1:2], torch.where(unchanged & (slot == 1), draw[:, :1], draw))
    segment_rank = torch.argsort(torch.argsort(draw, dim=1), dim=1)

    segment_key = segment_rank.gather(1, segment.clamp(max=num_segments - 1))
    key = torch.where(valid, segment_key, num_segments) * num_frames + frame
    return gather_frames(keypoints, mask, lengths, torch.argsort(key, dim=1), confidence)


@register_operator("window_shuffle", level="temporal_local")
def window_shuffle(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 0.2,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Shuffle the frames of one window: within it the motion is scrambled (every frame of the window lands on
    another place of it), outside it nothing changes.

    A single sign becomes unreadable. `strength` is the window's length as a fraction of the sequence's (at least
    two frames).
    """
    strength = check_strength(strength)
    start, width = _window(lengths, strength, generator, minimum=2)
    window = _in_window(start, width, keypoints.shape[1])
    return shuffle_frames(keypoints, mask, lengths, window, generator, confidence)


@register_operator("window_drop", level="temporal_local")
def window_drop(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 0.2,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Cut one window out and stretch the rest, in order, back over the sequence's length (nearest-frame
    resampling); lengths and padding do not change.

    A sign (or part of one) is missing from the signing. `strength` is the window's length as a fraction of the
    sequence's (at least one frame, and at least one frame is kept).
    """
    strength = check_strength(strength)
    start, width = _window(lengths, strength, generator, maximum=(lengths - 1).clamp(min=0))
    window = _in_window(start, width, keypoints.shape[1])
    return drop_frames(keypoints, mask, lengths, window, confidence)


@register_operator("window_repeat", level="temporal_local")
def window_repeat(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 0.2,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Play one window twice: the copy overwrites the frames that follow it.

    A sign is repeated (which in many sign languages changes its meaning, e.g. plural or aspect) and what came after
    it is lost. `strength` is the window's length as a fraction of the sequence's (at least one frame, at most half
    the sequence so that the copy fits).
    """
    strength = check_strength(strength)
    width = _window_width(lengths, strength, maximum=lengths // 2)
    start = random_below(lengths - 2 * width + 1, generator)
    frame = _frame_index(lengths, keypoints.shape[1])
    copy = _in_window(start + width, width, keypoints.shape[1])
    copied = torch.where(copy, frame - width[:, None], frame)
    return gather_frames(keypoints, mask, lengths, copied, confidence)


@register_operator("window_freeze", level="temporal_local")
def window_freeze(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 0.2,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Hold the first frame of one window over the whole window: the signer stops moving for its duration.

    The movement of a sign is lost, its pose kept. `strength` is the window's length as a fraction of the sequence's
    (at least two frames).
    """
    strength = check_strength(strength)
    start, width = _window(lengths, strength, generator, minimum=2)
    held = _in_window(start + 1, (width - 1).clamp(min=0), keypoints.shape[1])
    return freeze_frames(keypoints, mask, lengths, held, confidence)
