"""Per-part normalisation of canonical skeletons and frame sub-sampling, as Uni-Sign's pose branch does them.

Uni-Sign (``load_part_kp`` / ``crop_scale``) normalises a clip of COCO-WholeBody points part by part:

- body: the square box around the bounding box of all confident body points (confidence > threshold) over the whole
  clip; coordinates are mapped so that box becomes [-1, 1] (centred, divided by the larger box side) and clipped;
- hands: relative to their own wrist point, divided by the same body scale (the larger box side), clipped to [-1, 1];
- face: relative to the nose tip, same scale, clipped;
- points with confidence <= threshold end with coordinates 0 and confidence 0; a clip with fewer than 4 confident
  body points (or a degenerate box) is all zeros, every part;
- the confidence is clipped to [-1, 1] with the coordinates (Uni-Sign clips the whole (x, y, score) array), so a
  detector score above 1 enters as 1.

Two choices Uni-Sign does not face, because RTMPose always returns every point:

- An anchor (wrist, nose tip) with confidence exactly 0 is *absent* (a masked point, or a layout without it, e.g.
  reduced MediaPipe Holistic has no nose tip): the part is then made relative to the centroid of its confident points
  on that frame, rather than to a meaningless (0, 0), so a face without a nose tip is kept; a part with no confident
  point at all is zeroed. An anchor with a low but non-zero confidence is used, as Uni-Sign does.
- Channels after x and y (MediaPipe's z) get the same treatment without a box: relative to the anchor for hands and
  face, to the mean depth of the confident body points for the body, divided by the body scale and clipped.
"""

from __future__ import annotations

import numpy as np
import torch

from .canonical import CANONICAL_PARTS, NUM_CANONICAL_JOINTS


MIN_CONFIDENT_BODY_POINTS = 4


_ANCHORED_PARTS = tuple(part for part in CANONICAL_PARTS.values() if part.name != "body")


def normalize_parts(
    keypoints: torch.Tensor,
    confidence: torch.Tensor,
    frame_mask: torch.Tensor,
    threshold: float = 0.3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalise a batch of canonical skeletons part by part (see the module docstring).

    Args:
        keypoints (`torch.Tensor` of shape `(B, T, 69, C)`): Canonical keypoints, `C >= 2` (x, y[, z]).
        confidence (`torch.Tensor` of shape `(B, T, 69)`): Their confidences.
        frame_mask (`torch.Tensor` of shape `(B, T)`): True on real frames, False on padding.
        threshold (`float`, *optional*, defaults to `0.3`): Points with confidence <= `threshold` are dropped.

    Returns:
        `(keypoints, confidence)` of the input shapes: coordinates in [-1, 1], confidences at most 1; dropped points
        and padded frames have coordinates 0 and confidence 0 (so has a NaN coordinate).
    """
    pose = normalized_pose(keypoints, confidence, frame_mask, threshold)
    return pose[..., :-1], pose[..., -1].to(confidence.dtype)


def normalized_pose(
    keypoints: torch.Tensor,
    confidence: torch.Tensor,
    frame_mask: torch.Tensor,
    threshold: float = 0.3,
) -> torch.Tensor:
    """`normalize_parts` with the confidence appended as the last channel: the model input, `(B, T, 69, C + 1)`.

    The whole batch is normalised with a few tensor operations over all joints at once: every point minus the
    reference of its part on its frame (the corner of the body's box and its mean depth, a hand's wrist, the nose
    tip, or the centroid standing in for an absent anchor), divided by the body scale. They run on the batch laid out
    `B x C x J x T`, frames innermost: a part's points are then one contiguous run of `part size x T` values per
    channel, and per-point masks and per-frame references broadcast over outer axes, so every operation vectorises
    over long runs (channels last, or joints innermost, they would loop over runs of C, or of a part's few joints).
    """
    if keypoints.ndim != 4 or keypoints.shape[2] != NUM_CANONICAL_JOINTS or keypoints.shape[-1] < 2:
        raise ValueError(f"keypoints must be (batch, frames, {NUM_CANONICAL_JOINTS}, C >= 2); got {keypoints.shape}.")
    if confidence.shape != keypoints.shape[:3] or frame_mask.shape != keypoints.shape[:2]:
        raise ValueError(
            f"confidence {tuple(confidence.shape)} and frame_mask {tuple(frame_mask.shape)} must be "
            f"{tuple(keypoints.shape[:3])} and {tuple(keypoints.shape[:2])}."
        )
    channels = keypoints.shape[-1]
    frame_mask = frame_mask.bool()
    points = keypoints.permute(0, 3, 2, 1).contiguous()  # B x C x J x T
    confidence_ = confidence.transpose(1, 2).contiguous()  # B x J x T
    confident = (confidence_ > threshold) & frame_mask[:, None, :]

    body = CANONICAL_PARTS["body"]
    body_points = points[:, :, : body.size]
    inside = confident[:, None, : body.size]
    lower = torch.where(inside, body_points, torch.inf).amin(dim=(2, 3))  # (B, C)
    upper = torch.where(inside, body_points, -torch.inf).amax(dim=(2, 3))
    scale = (upper[:, :2] - lower[:, :2]).amax(dim=-1)  # (B,)
    count = confident[:, : body.size].sum(dim=(1, 2))
    usable = (count >= MIN_CONFIDENT_BODY_POINTS) & (scale > 0)
    scale = torch.where(usable, scale, torch.ones_like(scale))

    # Reference of each part per frame: the corner of the body's square box (and its mean confident depth), and the
    # anchors.
    box_origin = [(lower[:, :2] + upper[:, :2] - scale[:, None]) / 2]
    if channels > 2:
        depth_sum = (body_points[:, 2:] * inside).sum(dim=(2, 3))
        box_origin.append(depth_sum / count.clamp(min=1)[:, None])
    box_origin = torch.where(usable[:, None], torch.cat(box_origin, dim=-1), 0)
    keep = confident & usable[:, None, None]
    references = []
    for part in _ANCHORED_PARTS:
        joints = slice(part.offset, part.offset + part.size)
        part_points = points[:, :, joints]
        anchor_seen = confidence_[:, part.offset + part.anchor] > 0
        reference = part_points[:, :, part.anchor].clone()
        # The centroid of the part's confident points stands in where the anchor is absent on a real frame (on
        # padding every point is dropped whatever its reference).
        if bool((frame_mask & ~anchor_seen).any()):
            part_weight = confident[:, None, joints].to(points.dtype)
            centroid = (part_points * part_weight).sum(2) / part_weight.sum(2).clamp(min=1)
            reference = torch.where(anchor_seen[:, None], reference, centroid)
            keep[:, joints] &= (anchor_seen | confident[:, joints].any(dim=1))[:, None]
        references.append((joints, reference))
    body_points.sub_(box_origin[:, :, None, None])
    for joints, reference in references:
        points[:, :, joints].sub_(reference[:, :, None])
    points.div_(scale[:, None, None, None])
    # The body's x and y: its box mapped from [0, 1] to [-1, 1].
    points[:, :2, : body.size].sub_(0.5).mul_(2)

    keep = keep.to(points.dtype)
    points.clamp_(-1, 1).nan_to_num_(0.0).mul_(keep[:, None])
    pose = torch.cat([points, (confidence_.clamp(max=1) * keep).to(points.dtype)[:, None]], dim=1)
    return pose.permute(0, 3, 2, 1).contiguous().to(keypoints.dtype)


def sample_frame_indices(
    num_frames: np.ndarray, max_frames: int, *, generator: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The frames kept of every clip of a batch, drawn for the whole batch at once.

    Args:
        num_frames (`np.ndarray` of shape `(B,)`): Frames in each clip.
        max_frames (`int`): The most frames to keep of a clip.
        generator (`np.random.Generator`, *optional*): Without one (evaluation), each long clip keeps `max_frames`
            evenly spaced frames from its first to its last, deterministically. With one (training), a random sorted
            subset of `max_frames` frames, each subset equally likely, as Uni-Sign's
            ``sorted(random.sample(range(duration), k=max_length))``.

    Returns:
        `(indices, lengths)`: `indices` (`B x min(max(num_frames), max_frames)` int64) holds, in row `b`, the sorted
        frame indices of clip `b` in its first `lengths[b]` entries (all its frames when `num_frames[b] <= max_frames`,
        else `max_frames` of them); entries past `lengths[b]` are 0.
    """
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1; got {max_frames}.")
    num_frames = np.asarray(num_frames, dtype=np.int64)
    lengths = np.minimum(num_frames, max_frames)
    width = int(lengths.max(initial=0))
    positions = np.arange(width)
    long = num_frames > max_frames
    if generator is None:
        # As np.linspace(0, num_frames - 1, max_frames): steps of (num_frames - 1) / (max_frames - 1) > 1 that
        # rounding never makes repeat.
        step = np.where(long, (num_frames - 1) / max(max_frames - 1, 1), 1.0)
        indices = np.rint(positions[None, :] * step[:, None]).astype(np.int64)
    else:
        indices = np.broadcast_to(positions, (len(num_frames), width)).copy()
        if long.any():
            # Random keys, 2 past a clip's end so that those frames are never among its `max_frames` smallest.
            keys = generator.random((int(long.sum()), int(num_frames.max())))
            keys[np.arange(keys.shape[1])[None, :] >= num_frames[long, None]] = 2.0
            chosen = np.argpartition(keys, max_frames - 1, axis=1)[:, :max_frames]
            indices[long] = np.sort(chosen, axis=1)
    return np.where(positions[None, :] < lengths[:, None], indices, 0), lengths


def sample_frames(num_frames: int, max_frames: int, *, generator: np.random.Generator | None = None) -> np.ndarray:
    """Indices of at most `max_frames` frames out of `num_frames`, sorted: one clip of `sample_frame_indices`.

    Returns:
        `np.ndarray` of int64 indices: all frames when `num_frames <= max_frames`.
    """
    indices, lengths = sample_frame_indices(np.array([num_frames]), max_frames, generator=generator)
    return indices[0, : lengths[0]]
