"""Attention-guided perturbation: apply the local operators where the reference model looks.

The trainer passes the reference model's salience (its decoder's cross-attention over pose positions, summed over
heads, layers and target tokens): `B x T` over frames, or `B x T x 4` over frames and the canonical parts
(`PART_NAMES` order). The top-k salient frames are perturbed, and nothing else except where an operator says so
(`window_drop` re-times the rest). This runs inside the training step, so everything here is a pure tensor function
of its arguments and the generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..data.canonical import PART_NAMES
from .registry import (
    ConfiguredOperator,
    PerturbedBatch,
    check_strength,
    get_operator_spec,
    random_below,
    register_operator,
    valid_frames,
)
from .spatial import face_freeze, hand_relocation, handshape_change
from .temporal import drop_frames, freeze_frames, shuffle_frames


# Temporal operators that can act on the salient frames: the set of frames plays the role of the window.
FRAME_SET_OPERATORS = ("window_freeze", "window_drop", "window_shuffle")
SALIENT_PART = "salient_part"
DEFAULT_OPERATORS = (SALIENT_PART, "window_freeze")


def salience_per_frame(salience: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Bring salience over encoder positions (`B x T' [x P]`) to the pose frames (`B x T [x P]`): frame `t` takes
    position `t x T' // T` (an encoder that strides in time covers the padded batch uniformly)."""
    if salience.shape[1] == num_frames:
        return salience
    position = torch.arange(num_frames, device=salience.device) * salience.shape[1] // num_frames
    return salience[:, position]


def salience_top_k(salience: torch.Tensor, lengths: torch.Tensor, k: int | float) -> torch.Tensor:
    """The `k` most salient frames of each sequence, as a `B x T` bool mask.

    Args:
        salience (`torch.Tensor`): `B x T` (or `B x T x P`, summed over parts) salience of each frame.
        lengths (`torch.Tensor`): `B` valid frames per sequence; padded frames are never selected.
        k (`int` or `float`): An `int` is a number of frames (capped at each length); a `float` in `(0, 1]` a
            fraction of each sequence's length (rounded up).

    Ties go to the earlier frame.
    """
    if salience.dim() == 3:
        salience = salience.sum(-1)
    num_frames = salience.shape[1]
    valid = valid_frames(lengths, num_frames)
    if isinstance(k, float):
        if not 0.0 < k <= 1.0:
            raise ValueError(f"A fractional `k` must lie in (0, 1], got {k}; pass an int for a number of frames.")
        count = torch.ceil(k * lengths.double()).long()
    elif k < 0:
        raise ValueError(f"`k` must be non-negative, got {k}.")
    else:
        count = torch.full_like(lengths, k)
    scores = salience.float().masked_fill(~valid, float("-inf"))
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(num_frames, device=order.device).expand_as(order))
    return (rank < count[:, None]) & valid


def _at_frames(original: PerturbedBatch, perturbed: PerturbedBatch, frames: torch.Tensor) -> PerturbedBatch:
    confidence = None
    if original.confidence is not None:
        confidence = torch.where(frames[:, :, None], perturbed.confidence, original.confidence)
    return PerturbedBatch(
        torch.where(frames[:, :, None, None], perturbed.keypoints, original.keypoints),
        torch.where(frames[:, :, None], perturbed.mask, original.mask),
        confidence,
    )


def _salient_part_perturbation(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    salience: torch.Tensor,
    frames: torch.Tensor,
    generator: torch.Generator | None,
    strength: float,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """At each selected frame, the local operator of the part the model looks at most: a handshape change on the
    salient hand, a face freeze on the face, a relocation of the dominant hand when the body (the arms) is most
    salient. Frame-only salience (`B x T`) changes the dominant hand's shape."""
    original = PerturbedBatch(keypoints, mask, confidence)
    if salience.dim() == 2:
        changed = handshape_change(keypoints, mask, lengths, generator, strength, confidence=confidence)
        return _at_frames(original, changed, frames)
    part = salience.argmax(-1)
    by_part = {
        "body": hand_relocation(keypoints, mask, lengths, generator, strength, confidence=confidence),
        "left_hand": handshape_change(
            keypoints, mask, lengths, generator, strength, hand="left", confidence=confidence
        ),
        "right_hand": handshape_change(
            keypoints, mask, lengths, generator, strength, hand="right", confidence=confidence
        ),
        "face": face_freeze(keypoints, mask, lengths, generator, strength, confidence=confidence),
    }
    result = original
    for index, name in enumerate(PART_NAMES):
        result = _at_frames(result, by_part[name], frames & (part == index))
    return result


def attention_guided_perturbation(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    salience: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 1.0,
    top_k: int | float = 0.2,
    operators: Sequence[str] = DEFAULT_OPERATORS,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Perturb each sequence at its `top_k` most salient frames, with one of `operators` drawn per sample.

    The rejected sample damages exactly what the reference model relies on. Operators:

    - `"salient_part"`: at each selected frame, the local spatial operator of the most salient part (needs
      `B x T x 4` salience): `handshape_change` on a salient hand, `face_freeze` on the face, `hand_relocation` of
      the dominant hand when the body is most salient.
    - any registered spatial operator (`"handshape_change"`, `"face_drop"`, ...): applied with its defaults and
      kept at the selected frames only.
    - `"window_freeze"` (each selected frame holds the last unselected one before it), `"window_shuffle"` (the
      selected frames are permuted among themselves), `"window_drop"` (the selected frames are removed and the rest
      stretched over the length; this re-times unselected frames too).

    Args:
        keypoints (`torch.Tensor`): `B x T x J x C` source-space keypoints.
        mask (`torch.Tensor`): `B x T x J` bool, point observed.
        lengths (`torch.Tensor`): `B` valid frames per sequence.
        salience (`torch.Tensor`): `B x T' ` or `B x T' x 4` salience from the reference model; `T'` encoder
            positions are mapped to the `T` frames by `salience_per_frame`.
        generator (`torch.Generator`, *optional*): Source of every random draw.
        strength (`float`, defaults to 1.0): Passed to the spatial operators (unused by the temporal ones: the
            selected frames are the window).
        top_k (`int` or `float`, defaults to 0.2): Frames perturbed per sequence (see `salience_top_k`).
        operators (`Sequence[str]`, defaults to `("salient_part", "window_freeze")`): Operators drawn from.
        confidence (`torch.Tensor`, *optional*): `B x T x J` confidences, carried with the points (see
            `signdpo_trl.perturbations.registry`).

    Returns:
        `PerturbedBatch` shaped as the input, padding untouched.
    """
    strength = check_strength(strength)
    if not operators:
        raise ValueError("`operators` is empty: name at least one operator to apply at the salient frames.")
    salience = salience_per_frame(salience.detach().to(keypoints.device), keypoints.shape[1])
    frames = salience_top_k(salience, lengths, top_k)
    original = PerturbedBatch(keypoints, mask, confidence)
    candidates = []
    for name in operators:
        if name == SALIENT_PART:
            candidate = _salient_part_perturbation(
                keypoints, mask, lengths, salience, frames, generator, strength, confidence
            )
        elif name == "window_freeze":
            candidate = freeze_frames(keypoints, mask, lengths, frames, confidence)
        elif name == "window_drop":
            candidate = drop_frames(keypoints, mask, lengths, frames, confidence)
        elif name == "window_shuffle":
            candidate = shuffle_frames(keypoints, mask, lengths, frames, generator, confidence)
        elif get_operator_spec(name).level.startswith("spatial"):
            spatial = ConfiguredOperator(get_operator_spec(name))(
                keypoints, mask, lengths, generator, confidence=confidence, strength=strength
            )
            candidate = _at_frames(original, spatial, frames)
        else:
            raise ValueError(
                f"Operator {name!r} cannot be applied at salient frames; use {SALIENT_PART!r}, a spatial operator or "
                f"one of {', '.join(FRAME_SET_OPERATORS)}."
            )
        candidates.append(candidate)
    if len(candidates) == 1:
        return candidates[0]
    choice = random_below(torch.full_like(lengths, len(candidates)), generator)
    result = candidates[0]
    for index, candidate in enumerate(candidates[1:], start=1):
        chosen = (choice == index)[:, None]
        result = _at_frames(result, candidate, chosen.expand_as(frames))
    return result


register_operator("attention_guided", level="attention")(attention_guided_perturbation)
