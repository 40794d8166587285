"""Spatial perturbation operators: they alter the skeleton inside each frame and keep the timing.

Global operators alter every frame's whole skeleton; local ones alter one region (one hand's fingers, one hand's
location, the face). See `signdpo_trl.perturbations.registry` for the operator contract.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..data.canonical import (
    BODY,
    BODY_POINT_NAMES,
    CANONICAL_PARTS,
    FACE,
    HAND_POINT_NAMES,
    LEFT_HAND,
    NUM_CANONICAL_JOINTS,
    PART_NAMES,
    RIGHT_HAND,
)
from .registry import (
    PerturbedBatch,
    carried,
    check_strength,
    finish,
    normal,
    register_operator,
    uniform,
    valid_frames,
)


_BODY_POINT = {name: BODY.offset + i for i, name in enumerate(BODY_POINT_NAMES)}
_HAND_POINT = {name: i for i, name in enumerate(HAND_POINT_NAMES)}
_HANDS = (LEFT_HAND, RIGHT_HAND)
# The body's arm joints that belong to each hand: a hand's role includes its elbow and wrist.
_ARM_POINTS = {
    "left_hand": (_BODY_POINT["left_elbow"], _BODY_POINT["left_wrist"]),
    "right_hand": (_BODY_POINT["right_elbow"], _BODY_POINT["right_wrist"]),
}
# Hand points per finger (thumb to little finger), base outwards: a 5 x 4 index table into the hand part.
_FINGER_NAMES = ("thumb", "index", "middle", "ring", "pinky")
_FINGERS = torch.tensor([[_HAND_POINT[f"{finger}_{joint}"] for joint in "1234"] for finger in _FINGER_NAMES])
_PALM = [_HAND_POINT[name] for name in ("wrist", "thumb_1", "index_1", "middle_1", "ring_1", "pinky_1")]
# A curled finger's joints, as fractions of the way from the finger's base to the palm centre.
_CURL = torch.tensor([0.35, 0.65, 0.85])
# An extended finger's bones, as fractions of the palm length (wrist to middle-finger base).
_EXTENDED_BONES = torch.tensor([0.45, 0.3, 0.25])
# A finger counts as extended when its base-to-tip distance exceeds this fraction of its bone-length sum.
_EXTENDED_RATIO = 0.6
_EPS = 1e-6
# Sizes and displacements are measured in the image plane (x, y); the normalisation scales depth by the same body size.
IMAGE_PLANE = 2


def _check_layout(keypoints: torch.Tensor) -> None:
    if keypoints.dim() != 4 or keypoints.shape[2] != NUM_CANONICAL_JOINTS:
        raise ValueError(
            f"Spatial operators expect canonical keypoints of shape B x T x {NUM_CANONICAL_JOINTS} x C (source space, "
            f"before normalisation), got {tuple(keypoints.shape)}."
        )


def _mean_position(points: torch.Tensor, observed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over frames of `points` (`B x T x ... x C`) where `observed` (`B x T x ...`); and whether any was."""
    weight = observed.to(points.dtype)
    count = weight.sum(1)
    mean = (points * weight[..., None]).sum(1) / count.clamp(min=1)[..., None]
    return mean, count > 0


def _observed(mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`B x T x J`: point observed in a frame inside the sequence."""
    return mask & valid_frames(lengths, mask.shape[1])[:, :, None]


def body_size(keypoints: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Per-sample body size (`B`) in the image plane: the mean shoulder width, else the extent of the observed points,
    else 1. Depth (a third channel) is left out: its units differ between trackers."""
    points = keypoints[..., :IMAGE_PLANE].float()
    observed = _observed(mask, lengths)
    left, right = _BODY_POINT["left_shoulder"], _BODY_POINT["right_shoulder"]
    width = (points[:, :, left] - points[:, :, right]).norm(dim=-1)
    both = observed[:, :, left] & observed[:, :, right]
    shoulder_width = (width * both).sum(1) / both.sum(1).clamp(min=1)
    if not bool((shoulder_width <= _EPS).any()):
        return shoulder_width
    # The extent, only for a batch where some sample has no shoulder width, one coordinate at a time (a mask
    # broadcast over the innermost axis, of size C, would not vectorise).
    planes = points.unbind(-1)
    upper = torch.stack([plane.masked_fill(~observed, float("-inf")).amax(dim=(1, 2)) for plane in planes], -1)
    lower = torch.stack([plane.masked_fill(~observed, float("inf")).amin(dim=(1, 2)) for plane in planes], -1)
    extent = (upper - lower).amax(-1).nan_to_num(0.0, posinf=0.0, neginf=0.0)
    size = torch.where(shoulder_width > _EPS, shoulder_width, extent)
    return torch.where(size > _EPS, size, torch.ones_like(size))


def _right_hand_chosen(
    keypoints: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor, hand: str, generator: torch.Generator | None
) -> torch.Tensor:
    """`B` bool: which hand an operator acts on per sample (`True` for the right hand)."""
    batch_size = keypoints.shape[0]
    if hand == "left":
        return torch.zeros(batch_size, dtype=torch.bool, device=keypoints.device)
    if hand == "right":
        return torch.ones(batch_size, dtype=torch.bool, device=keypoints.device)
    if hand == "random":
        return uniform((batch_size,), generator, keypoints.device) < 0.5
    if hand == "dominant":
        # The dominant hand is the one whose wrist travels further; ties go to the right hand.
        observed = _observed(mask, lengths)
        motion = []
        for part in _HANDS:
            wrist = keypoints[:, :, part.offset].float()
            seen = observed[:, 1:, part.offset] & observed[:, :-1, part.offset]
            motion.append(((wrist[:, 1:] - wrist[:, :-1]).norm(dim=-1) * seen).sum(1))
        return motion[1] >= motion[0]
    raise ValueError(f"`hand` must be 'dominant', 'random', 'left' or 'right', got {hand!r}.")


@register_operator("joint_permutation", level="spatial_global")
def joint_permutation(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 1.0,
    parts: Sequence[str] = PART_NAMES,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Permute joints within each part, with one permutation per sample held over all frames.

    The limbs are rewired: every frame shows a body that no signer can produce, so nothing the text depends on
    survives intact. `strength` is the fraction of each part's joints that move (at least two when `strength > 0`);
    the chosen joints are cycled, so every chosen joint lands on another's place. Masks travel with their points.

    Args:
        parts (`Sequence[str]`, defaults to all four parts): The parts whose joints are permuted.
    """
    strength = check_strength(strength)
    _check_layout(keypoints)
    batch_size, num_frames, num_joints, channels = keypoints.shape
    source = torch.arange(num_joints, device=keypoints.device).expand(batch_size, num_joints).clone()
    for name in parts:
        part = CANONICAL_PARTS[name]
        count = min(part.size, max(2, round(strength * part.size))) if strength > 0 else 0
        if count < 2:
            continue
        order = torch.argsort(uniform((batch_size, part.size), generator, keypoints.device), dim=1)
        chosen = order[:, :count] + part.offset
        source.scatter_(1, chosen, chosen.roll(-1, dims=1))
    index = source[:, None, :].expand(batch_size, num_frames, num_joints)
    new_keypoints = keypoints.gather(2, index[..., None].expand(-1, -1, -1, channels))
    new_confidence = carried(confidence, lambda values: values.gather(2, index))
    return finish(keypoints, mask, new_keypoints, mask.gather(2, index), lengths, confidence, new_confidence)


def _hand_swap_source() -> torch.Tensor:
    source = torch.arange(NUM_CANONICAL_JOINTS)
    source[LEFT_HAND.offset : LEFT_HAND.offset + LEFT_HAND.size] = torch.arange(RIGHT_HAND.size) + RIGHT_HAND.offset
    source[RIGHT_HAND.offset : RIGHT_HAND.offset + RIGHT_HAND.size] = torch.arange(LEFT_HAND.size) + LEFT_HAND.offset
    for left, right in zip(_ARM_POINTS["left_hand"], _ARM_POINTS["right_hand"]):
        source[left], source[right] = right, left
    return source


_HAND_SWAP_SOURCE = _hand_swap_source()


@register_operator("hand_swap", level="spatial_global", randomized=False)
def hand_swap(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 1.0,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Swap the roles of the two hands: the left hand's points (and the body's left elbow and wrist) take the right
    hand's place and vice versa.

    This is not a mirror image (a mirror is an augmentation: left-handed signers exist). Coordinates are not
    reflected; the hands exchange labels in place, so the dominant hand becomes the non-dominant one and each arm
    now ends in the other side's hand. Applying it twice gives the input back. `strength` is not used: a swap is all
    or nothing.
    """
    check_strength(strength)
    _check_layout(keypoints)
    source = _HAND_SWAP_SOURCE.to(keypoints.device)
    new_confidence = carried(confidence, lambda values: values[:, :, source])
    return finish(keypoints, mask, keypoints[:, :, source], mask[:, :, source], lengths, confidence, new_confidence)


@register_operator("skeleton_displacement", level="spatial_global")
def skeleton_displacement(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 1.0,
    frequency: float = 2.0,
    num_waves: int = 8,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Displace every joint by a smooth random offset field held over all frames.

    The offset of a joint is a sum of `num_waves` random sinusoids of its mean position (in body sizes, `frequency`
    cycles per body size), so nearby joints move alike and the body is warped as a whole rather than jittered; the
    field is fixed over time, so the motion survives but every pose is deformed (hands and face included, at the
    scale of their size). The field lies in the image plane; depth is left alone. `strength` scales the field: its
    per-joint standard deviation is about `0.7 * strength` body sizes (body size: the mean shoulder width).

    Args:
        frequency (`float`, defaults to 2.0): Spatial frequency of the field, in cycles per body size.
        num_waves (`int`, defaults to 8): Number of random sinusoids summed.
    """
    strength = check_strength(strength)
    _check_layout(keypoints)
    batch_size, _, _, channels = keypoints.shape
    device = keypoints.device
    points = keypoints.float()
    size = body_size(keypoints, mask, lengths)
    mean_position, _ = _mean_position(points[..., :IMAGE_PLANE], _observed(mask, lengths))
    position = (mean_position - mean_position.mean(1, keepdim=True)) / size[:, None, None]
    wave_vector = normal((batch_size, num_waves, IMAGE_PLANE), generator, device) * (2 * torch.pi * frequency)
    phase = uniform((batch_size, num_waves), generator, device) * (2 * torch.pi)
    amplitude = normal((batch_size, num_waves, IMAGE_PLANE), generator, device) / num_waves**0.5
    waves = torch.sin(torch.einsum("bjc,bkc->bjk", position, wave_vector) + phase[:, None, :])
    offset = torch.einsum("bjk,bkc->bjc", waves, amplitude) * (strength * size)[:, None, None]
    offset = torch.nn.functional.pad(offset, (0, channels - IMAGE_PLANE))
    displaced = torch.where(mask[..., None], points + offset[:, None], points)
    return finish(keypoints, mask, displaced, mask, lengths, confidence, confidence)


def _flexion_toggled(hand_points: torch.Tensor) -> torch.Tensor:
    """Every finger of `hand_points` (`B x T x 21 x C`) flipped between curled and extended, as `B x T x 5 x 3 x C`
    (the three joints above each finger's base)."""
    fingers = hand_points[:, :, _FINGERS.to(hand_points.device)]
    base = fingers[:, :, :, :1]
    wrist = hand_points[:, :, None, :1]
    bones = (fingers[:, :, :, 1:] - fingers[:, :, :, :-1]).norm(dim=-1).sum(-1)
    extension = (fingers[:, :, :, -1] - fingers[:, :, :, 0]).norm(dim=-1) / bones.clamp(min=_EPS)
    palm_centre = hand_points[:, :, _PALM].mean(2)[:, :, None, None]
    curled = base + _CURL.to(hand_points)[:, None] * (palm_centre - base)
    palm_length = (hand_points[:, :, _HAND_POINT["middle_1"]] - hand_points[:, :, 0]).norm(dim=-1)
    direction = (base - wrist) / (base - wrist).norm(dim=-1, keepdim=True).clamp(min=_EPS)
    reach = _EXTENDED_BONES.to(hand_points).cumsum(0)[:, None] * palm_length[:, :, None, None, None]
    extended = base + direction * reach
    return torch.where((extension > _EXTENDED_RATIO)[..., None, None], curled, extended)


def _donor_hand(
    hand_points: torch.Tensor,
    hand_mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None,
    hand_confidence: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """For each sample, the same hand of another sample of the batch, time-rescaled to this sample's length and
    expressed relative to its wrist; returns it (`B x T x 21 x C`) with its mask (`B x T x 21`) and, given
    `hand_confidence`, the donor's confidences (`B x T x 21`)."""
    batch_size, num_frames = hand_points.shape[:2]
    device = hand_points.device
    shift = 1 + (uniform((batch_size,), generator, device) * (batch_size - 1)).long().clamp(max=batch_size - 2)
    donor = (torch.arange(batch_size, device=device) + shift) % batch_size
    frame = torch.arange(num_frames, device=device)[None]
    donor_frame = (frame * lengths[donor, None]) // lengths[:, None].clamp(min=1)
    donor_frame = torch.minimum(donor_frame, (lengths[donor, None] - 1).clamp(min=0))
    donor_points = hand_points[donor[:, None], donor_frame]
    donor_mask = hand_mask[donor[:, None], donor_frame]
    palm = (hand_points[:, :, _HAND_POINT["middle_1"]] - hand_points[:, :, 0]).norm(dim=-1)
    palm_seen = hand_mask[:, :, _HAND_POINT["middle_1"]] & hand_mask[:, :, 0]
    palm_valid = palm_seen & valid_frames(lengths, num_frames)
    palm_length = (palm * palm_valid).sum(1) / palm_valid.sum(1).clamp(min=1)
    scale = torch.where(palm_length[donor] > _EPS, palm_length / palm_length[donor].clamp(min=_EPS), 1.0)
    relative = (donor_points - donor_points[:, :, :1]) * scale[:, None, None, None]
    donor_confidence = carried(hand_confidence, lambda values: values[donor[:, None], donor_frame])
    return relative, donor_mask & donor_mask[:, :, :1], donor_confidence


@register_operator("handshape_change", level="spatial_local")
def handshape_change(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 1.0,
    hand: str = "dominant",
    mode: str = "auto",
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Re-shape one hand's fingers while its wrist, and so the sign's location and movement, stays where it was.

    Signs that differ only in handshape become indistinguishable from the wrong sign. `strength` is the fraction of
    the five fingers re-shaped (at least one when `strength > 0`), chosen per sample. A re-shaped finger either
    takes the configuration, relative to the wrist and scaled to this hand's palm, of the same finger of another
    sample of the batch at the same relative time (`mode="donor"`), or is flipped between curled and extended
    (`mode="flexion"`; used wherever the donor's hand is unseen). Frames where the wrist is unseen are left alone.

    Args:
        hand (`str`, defaults to `"dominant"`): `"dominant"` (the hand whose wrist travels further), `"random"`,
            `"left"` or `"right"`.
        mode (`str`, defaults to `"auto"`): `"donor"`, `"flexion"`, or `"auto"` (donor when the batch has more than
            one sample).
    """
    strength = check_strength(strength)
    _check_layout(keypoints)
    if mode not in ("auto", "donor", "flexion"):
        raise ValueError(f"`mode` must be 'auto', 'donor' or 'flexion', got {mode!r}.")
    batch_size = keypoints.shape[0]
    if mode == "donor" and batch_size < 2:
        raise ValueError("`mode='donor'` takes handshapes from other samples: it needs a batch of at least two.")
    use_donor = mode == "donor" or (mode == "auto" and batch_size > 1)
    device = keypoints.device
    num_fingers = len(_FINGERS)
    count = min(num_fingers, max(1, round(strength * num_fingers))) if strength > 0 else 0

    right = _right_hand_chosen(keypoints, mask, lengths, hand, generator)
    finger_rank = torch.argsort(torch.argsort(uniform((batch_size, num_fingers), generator, device), dim=1), dim=1)
    finger_chosen = finger_rank < count
    fingers, above_base = _FINGERS.to(device), _FINGERS[:, 1:].to(device)
    points = keypoints.float()
    new_points, new_mask = points.clone(), mask.clone()
    new_confidence = carried(confidence, torch.clone)
    for part in _HANDS:
        joints = slice(part.offset, part.offset + part.size)
        hand_points, hand_mask = points[:, :, joints], mask[:, :, joints]
        hand_confidence = None if confidence is None else confidence[:, :, joints]
        original, original_mask = hand_points[:, :, above_base], hand_mask[:, :, above_base]
        # Flexion needs the palm and the whole finger; elsewhere the finger keeps its shape. A flexed finger keeps
        # its points' confidences; a donor's finger brings the donor's.
        flexible = hand_mask[:, :, _PALM].all(-1)[..., None] & hand_mask[:, :, fingers].all(-1)
        reshaped = torch.where(flexible[..., None, None], _flexion_toggled(hand_points), original)
        reshaped_mask = original_mask
        original_confidence = None if confidence is None else hand_confidence[:, :, above_base]
        reshaped_confidence = original_confidence
        if use_donor:
            relative, donor_mask, donor_confidence = _donor_hand(
                hand_points, hand_mask, lengths, generator, hand_confidence
            )
            donor_seen = donor_mask[:, :, :1, None]
            donor_points = (hand_points[:, :, :1] + relative)[:, :, above_base]
            reshaped = torch.where(donor_seen[..., None], donor_points, reshaped)
            reshaped_mask = torch.where(donor_seen, donor_mask[:, :, above_base], reshaped_mask)
            if confidence is not None:
                reshaped_confidence = torch.where(donor_seen, donor_confidence[:, :, above_base], reshaped_confidence)
        reshaped = reshaped * reshaped_mask[..., None]
        this_hand = right if part is RIGHT_HAND else ~right
        apply = (finger_chosen & this_hand[:, None])[:, None, :, None] & hand_mask[:, :, :1, None]
        finger_joints = above_base.flatten() + part.offset
        new_points[:, :, finger_joints] = torch.where(apply[..., None], reshaped, original).flatten(2, 3)
        new_mask[:, :, finger_joints] = torch.where(apply, reshaped_mask, original_mask).flatten(2, 3)
        if confidence is not None:
            reshaped_confidence = reshaped_confidence * reshaped_mask
            moved = torch.where(apply, reshaped_confidence, original_confidence)
            new_confidence[:, :, finger_joints] = moved.flatten(2, 3)
    return finish(keypoints, mask, new_points, new_mask, lengths, confidence, new_confidence)


def _body_anchors(points: torch.Tensor, observed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Places a hand can sign at, per sample (`B x 6 x C`: forehead, nose, chin, chest, left and right shoulder),
    from the mean body pose; and whether each is known (`B x 6`). The nose is the body's, else the face's nose tip
    (layouts such as MediaPipe Holistic carry the head in the face only)."""
    joints = [_BODY_POINT[name] for name in ("nose", "left_shoulder", "right_shoulder")] + [FACE.offset + FACE.anchor]
    mean, seen = _mean_position(points[:, :, joints], observed[:, :, joints])
    body_nose, left_shoulder, right_shoulder, face_nose = mean.unbind(1)
    nose = torch.where(seen[:, :1], body_nose, face_nose)
    nose_seen = seen[:, 0] | seen[:, 3]
    mid_shoulder = (left_shoulder + right_shoulder) / 2
    up = nose - mid_shoulder
    anchors = torch.stack(
        (nose + 0.4 * up, nose, nose - 0.3 * up, mid_shoulder - 0.7 * up, left_shoulder, right_shoulder), dim=1
    )
    shoulders_seen = seen[:, 1] & seen[:, 2]
    head_known = nose_seen & shoulders_seen
    known = torch.stack((head_known, nose_seen, head_known, head_known, seen[:, 1], seen[:, 2]), dim=1)
    return anchors, known


@register_operator("hand_relocation", level="spatial_local")
def hand_relocation(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 1.0,
    hand: str = "dominant",
    min_distance: float = 0.25,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Move one hand to another place on the body: the same handshape and movement, signed at the wrong location.

    Signs that differ only in location (at the chin, the forehead, the chest) become the wrong sign. Per sample, one
    body anchor (forehead, nose, chin, chest, left or right shoulder, from the mean body pose) at least
    `min_distance` body sizes from the hand's mean wrist position is drawn (the farthest anchor when none is), and the
    hand's 21 points and the body's wrist are translated by `strength` times the offset that brings the mean wrist
    there; the elbow moves by half of it. The translation is the same in every frame, so the movement is kept.

    Args:
        hand (`str`, defaults to `"dominant"`): `"dominant"`, `"random"`, `"left"` or `"right"`.
        min_distance (`float`, defaults to 0.25): Minimum distance of the new location, in body sizes.
    """
    strength = check_strength(strength)
    _check_layout(keypoints)
    batch_size, _, num_joints, _ = keypoints.shape
    device = keypoints.device
    points = keypoints.float()
    observed = _observed(mask, lengths)
    size = body_size(keypoints, mask, lengths)
    anchors, known = _body_anchors(points, observed)

    right = _right_hand_chosen(keypoints, mask, lengths, hand, generator)
    # A hand's location: the mean of its own wrist, else of the body's wrist on that side.
    wrists = [part.offset for part in _HANDS] + [_ARM_POINTS[part.name][1] for part in _HANDS]
    wrist_mean, wrist_seen = _mean_position(points[:, :, wrists], observed[:, :, wrists])
    hand_location = torch.where(wrist_seen[:, :2, None], wrist_mean[:, :2], wrist_mean[:, 2:])
    hand_located = wrist_seen[:, :2] | wrist_seen[:, 2:]
    location = torch.where(right[:, None], hand_location[:, 1], hand_location[:, 0])
    location_known = torch.where(right, hand_located[:, 1], hand_located[:, 0])
    distance = (anchors - location[:, None]).norm(dim=-1)
    eligible = known & (distance >= min_distance * size[:, None])
    draw = uniform(tuple(distance.shape), generator, device)
    farthest = distance / distance.amax(1, keepdim=True).clamp(min=_EPS)
    score = torch.where(eligible, 2 + draw, torch.where(known, farthest, torch.full_like(draw, -1.0)))
    target = anchors[torch.arange(batch_size, device=device), score.argmax(1)]
    offset = strength * (target - location) * (known.any(1) & location_known)[:, None]

    weight = torch.zeros(batch_size, num_joints, device=device)
    for part in _HANDS:
        elbow, wrist = _ARM_POINTS[part.name]
        this_hand = (right if part is RIGHT_HAND else ~right).float()[:, None]
        weight[:, part.offset : part.offset + part.size] = this_hand
        weight[:, wrist] = this_hand[:, 0]
        weight[:, elbow] = 0.5 * this_hand[:, 0]
    moved = points + weight[:, None, :, None] * offset[:, None, None, :]
    return finish(keypoints, mask, torch.where(mask[..., None], moved, points), mask, lengths, confidence, confidence)


_HEAD_POINTS = [_BODY_POINT[name] for name in ("nose", "left_ear", "right_ear")]


@register_operator("face_freeze", level="spatial_local", randomized=False)
def face_freeze(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 1.0,
    include_head: bool = True,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Freeze the face (and the head: nose and ears) at its first observed position.

    Removes the non-manual markers carried by the face and head: a head shake that negates the clause, raised brows
    for a question, mouthing. Each point is held at its value in the first frame where it is observed; points never
    observed and masks are left alone. `strength` is the fraction of the motion removed: 1 freezes, 0.5 halves the
    motion around the first pose.

    Args:
        include_head (`bool`, defaults to `True`): Also freeze the body's nose and ears.
    """
    strength = check_strength(strength)
    _check_layout(keypoints)
    batch_size, _, _, channels = keypoints.shape
    joints = list(FACE.indices) + (_HEAD_POINTS if include_head else [])
    points = keypoints.float()
    region, region_observed = points[:, :, joints], _observed(mask, lengths)[:, :, joints]
    first = region_observed.float().argmax(1)
    first_position = region.gather(1, first[:, None, :, None].expand(-1, 1, -1, channels))
    frozen = torch.lerp(region, first_position.expand_as(region), strength)
    frozen = torch.where(mask[:, :, joints, None], frozen, region)
    new_points = points.clone()
    new_points[:, :, joints] = frozen
    return finish(keypoints, mask, new_points, mask, lengths, confidence, confidence)


@register_operator("face_drop", level="spatial_local")
def face_drop(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 1.0,
    confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Mask face points out in every frame, as if the face tracker had failed.

    Removes the non-manual markers (and mouthing) the face carries. `strength` is the fraction of the 18 face points
    dropped (at least one when `strength > 0`), chosen per sample; 1 drops the whole face. Dropped points get
    coordinate 0 so that nothing of them leaks to a model that ignores the mask.
    """
    strength = check_strength(strength)
    _check_layout(keypoints)
    batch_size = keypoints.shape[0]
    count = min(FACE.size, max(1, round(strength * FACE.size))) if strength > 0 else 0
    rank = torch.argsort(torch.argsort(uniform((batch_size, FACE.size), generator, keypoints.device), dim=1), dim=1)
    dropped = torch.zeros(mask.shape[0], mask.shape[2], dtype=torch.bool, device=mask.device)
    dropped[:, FACE.offset : FACE.offset + FACE.size] = rank < count
    new_mask = mask & ~dropped[:, None]
    new_keypoints = keypoints.masked_fill(dropped[:, None, :, None], 0)
    new_confidence = carried(confidence, lambda values: values.masked_fill(dropped[:, None], 0))
    return finish(keypoints, mask, new_keypoints, new_mask, lengths, confidence, new_confidence)
