"""Turning a signed sentence into COCO-WholeBody-133 keypoints with scores, as a pose estimator would report them.

The manual channel (arms and hands) and the non-manual channel (head and face) are drawn from two separate random
streams, so a sentence rendered with and without a non-manual marker has exactly the same hands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import body
from .handshapes import HANDSHAPES, NUM_HAND_ANGLES, RELAXED, hand_points
from .lexicon import LOCATIONS, ORIENTATIONS, SignEntry
from .signers import Signer


# Per-hand motion state: position (3), finger direction (3), palm normal (3), joint angles (20).
_POS, _FINGER, _NORMAL, _ANGLES = slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 9 + NUM_HAND_ANGLES)
_STATE = 9 + NUM_HAND_ANGLES
# The point of the hand (in the hand frame, palm lengths) that is put at a sign's location: the middle of the palm.
_PALM_CENTER = np.array([0.02, -0.62, -0.05])
PALM_LENGTH = 0.27  # wrist to middle knuckle, in shoulder widths
FACE_WIDTH = 0.36  # jaw width, in shoulder widths
_FACE_LOCATIONS = {"forehead", "eyes", "nose", "mouth", "chin", "cheek", "temple"}
_REST = np.concatenate([[-0.42, 1.12, -0.4], np.array([0.35, 0.35, -0.87]), np.array([0.9, -0.1, 0.42]), RELAXED])
# Elbows point down and out; this is the direction IK bends the right arm towards.
_ELBOW_POLE = np.array([-0.35, 0.75, -0.8])


@dataclass
class RenderedClip:
    """One rendered clip.

    Args:
        keypoints (`np.ndarray` of shape `(T, 133, 2)`): COCO-WholeBody-133 points as fractions of the frame width
            and height (x, y); 0 where the score is 0.
        scores (`np.ndarray` of shape `(T, 133)`): Detection scores in [0, 1].
        sign_spans (`list[tuple[int, int]]`): Frame span `[start, end)` of each sign.
        marker_span (`tuple[int, int]`): Frame span of the clause (where a non-manual marker is held).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    sign_spans: list[tuple[int, int]]
    marker_span: tuple[int, int]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-8)


def _smoothstep(s: np.ndarray) -> np.ndarray:
    return s * s * (3 - 2 * s)


def _smooth_noise(rng: np.random.Generator, num_frames: int, spacing: float, size: int = 1) -> np.ndarray:
    """Slowly varying noise in [-1, 1]: random knots every `spacing` frames, linearly interpolated."""
    knots = int(np.ceil(num_frames / spacing)) + 2
    values = rng.uniform(-1, 1, size=(knots, size))
    t = np.arange(num_frames) / spacing
    low = np.floor(t).astype(int)
    w = _smoothstep(t - low)[:, None]
    return values[low] * (1 - w) + values[low + 1] * w


def _orientation(name: str) -> np.ndarray:
    finger, normal = ORIENTATIONS[name]
    return np.concatenate([_unit(np.array(finger)), _unit(np.array(normal))])


def _location(name: str, signer: Signer) -> np.ndarray:
    x, y, z = LOCATIONS[name]
    if name in _FACE_LOCATIONS:
        x, y = x * signer.head_size, y * signer.neck_length
    return np.array([x, y, z])


def _rotate(vectors: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues' rotation of `vectors` (n, 3) about unit `axis` (n, 3) by `angle` (n,) radians."""
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    dot = (vectors * axis).sum(-1, keepdims=True)
    return vectors * cos + np.cross(axis, vectors) * sin + axis * dot * (1 - cos)


def sign_motion(entry: SignEntry, num_frames: int, signer: Signer, rng: np.random.Generator) -> np.ndarray:
    """Motion states of both hands over one sign.

    Returns:
        `np.ndarray` of shape `(num_frames, 2, 29)`: dominant then non-dominant hand; each in its own right-hand
        frame (the non-dominant hand is mirrored to the signer's other side afterwards).
    """
    tau = np.linspace(0.0, 1.0, num_frames)
    amplitude = signer.amplitude * rng.uniform(0.85, 1.15)
    location = _location(entry.location, signer) + rng.normal(0, 0.02, 3)
    if entry.hands == "symmetric":
        location[0] -= 0.12
    dominant = np.empty((num_frames, _STATE))
    dominant[:, _POS] = location
    dominant[:, 3:9] = _orientation(entry.orientation)
    dominant[:, _ANGLES] = HANDSHAPES[entry.handshape] + rng.normal(0, 3.0, NUM_HAND_ANGLES)

    movement = entry.movement
    offset = np.zeros((num_frames, 3))
    eased = _smoothstep(tau)
    if movement == "straight_down":
        offset[:, 1] = 0.26 * (eased - 0.5)
    elif movement == "straight_across":
        offset[:, 0] = 0.3 * (eased - 0.5)
    elif movement == "arc":
        angle = np.pi * (1 - eased)
        offset[:, 0], offset[:, 1] = 0.16 * np.cos(angle), -0.13 * np.sin(angle)
    elif movement == "circle":
        angle = 2 * np.pi * tau
        offset[:, 0], offset[:, 1] = 0.11 * (np.cos(angle) - 1), 0.11 * np.sin(angle)
    elif movement == "repeated":
        offset[:, 1] = -0.09 * np.abs(np.sin(2 * np.pi * tau))
        offset[:, 2] = 0.04 * np.abs(np.sin(2 * np.pi * tau))
    elif movement == "wiggle":
        phase = 2 * np.pi * (2.5 * tau[:, None] + np.arange(4)[None, :] * 0.25)
        wiggle = 28.0 * np.sin(phase)
        angles = dominant[:, _ANGLES]  # a view: the fingers' knuckle and middle joints flex in turn
        for joint in (0, 1):
            angles[:, joint:16:4] += wiggle
    elif movement == "twist":
        angle = np.radians(-55 + 110 * eased)
        dominant[:, _NORMAL] = _rotate(dominant[:, _NORMAL], dominant[:, _FINGER], angle)
    else:  # hold: a little tremor only
        offset += rng.normal(0, 0.004, (num_frames, 3))
    dominant[:, _POS] += amplitude * offset

    if entry.hands == "symmetric":
        other = dominant.copy()
    elif entry.hands == "base":
        other = np.empty_like(dominant)
        other[:, _POS] = -(location[0] + 0.13), location[1] + 0.16, location[2] + 0.02
        other[:, 3:9] = _orientation("up")
        other[:, _ANGLES] = HANDSHAPES["B"]
    else:
        other = np.broadcast_to(_REST, dominant.shape).copy()
        other[:, _POS] += rng.normal(0, 0.01, 3)
    return np.stack([dominant, other], axis=1)


def _transition(start: np.ndarray, end: np.ndarray, num_frames: int) -> np.ndarray:
    """States blending from `start` to `end` (each `(2, 29)`) over `num_frames` frames."""
    s = _smoothstep(np.arange(1, num_frames + 1) / (num_frames + 1))[:, None, None]
    blend = start + (end - start) * s
    # Normals that flip (palm out to palm in) turn through the thumb side instead of through zero.
    flip = ((start[:, _NORMAL] * end[:, _NORMAL]).sum(-1) < -0.3)[None, :, None]
    thumb_side = np.cross(start[:, _FINGER], start[:, _NORMAL])[None]
    blend[..., _NORMAL] += flip * np.sin(np.pi * s) * thumb_side
    return blend


def _smooth_time(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along the first axis (edge-padded)."""
    radius = max(1, int(round(2.5 * sigma)))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.repeat(values[:1], radius, 0), values, np.repeat(values[-1:], radius, 0)])
    return sum(w * padded[i : i + len(values)] for i, w in enumerate(kernel))


def manual_timeline(
    entries: list[SignEntry],
    signer: Signer,
    rng: np.random.Generator,
    sign_frames: tuple[int, int],
    transition_frames: tuple[int, int],
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Hand states over the whole clip (rest, signs joined by transitions, rest) and each sign's frame span."""
    rest = np.stack([_REST, _REST])
    segments = [np.repeat(rest[None], int(rng.integers(2, 6)), axis=0)]
    spans = []
    position = len(segments[0])
    for entry in entries + [None]:
        low, high = transition_frames
        gap = int(round(rng.integers(low, high + 1) / signer.speed)) + (1 if entry is None else 0)
        if entry is None:
            nxt = np.repeat(rest[None], int(rng.integers(2, 6)), axis=0)
        else:
            duration = max(3, int(round(rng.integers(sign_frames[0], sign_frames[1] + 1) / signer.speed)))
            nxt = sign_motion(entry, duration, signer, rng)
        if gap:
            segments.append(_transition(segments[-1][-1], nxt[0], gap))
            position += gap
        if entry is not None:
            spans.append((position, position + len(nxt)))
        segments.append(nxt)
        position += len(nxt)
    states = _smooth_time(np.concatenate(segments), sigma=0.9)
    return states, spans


def _hand_geometry(states: np.ndarray, palm_length: float, finger_length: float) -> np.ndarray:
    """21 points per frame of right hands (body units) from their states `(T, 29)`."""
    finger = _unit(states[:, _FINGER])
    normal = _unit(states[:, _NORMAL] - (states[:, _NORMAL] * finger).sum(-1, keepdims=True) * finger)
    rotation = np.stack([np.cross(finger, normal), -finger, -normal], axis=-1)  # columns: hand x, y, z
    local = hand_points(states[:, _ANGLES], finger_length) - _PALM_CENTER
    return states[:, None, _POS] + palm_length * np.einsum("tij,tkj->tki", rotation, local)


def _elbows(shoulders: np.ndarray, wrists: np.ndarray, upper: float, fore: float, pole: np.ndarray) -> np.ndarray:
    """Two-bone inverse kinematics: elbow positions for shoulders and wrists `(T, 3)`."""
    reach = wrists - shoulders
    distance = np.linalg.norm(reach, axis=-1, keepdims=True)
    distance = np.clip(distance, abs(upper - fore) + 1e-3, upper + fore - 1e-3)
    along = _unit(reach)
    a = (upper**2 - fore**2 + distance**2) / (2 * distance)
    h = np.sqrt(np.maximum(upper**2 - a**2, 0.0))
    bend = _unit(pole - (pole * along).sum(-1, keepdims=True) * along)
    return shoulders + a * along + h * bend


def _head_angles(
    num_frames: int, marker: str, span: tuple[int, int], signer: Signer, fps: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Head yaw, pitch, roll (radians, `(T, 3)`) and the marker envelope `(T,)` (0 outside the clause, 1 inside)."""
    drift = _smooth_noise(rng, num_frames, spacing=12.0, size=3) * np.radians([3.0, 2.5, 1.5]) * signer.head_motion
    frames = np.arange(num_frames)
    ramp = 4.0
    envelope = np.clip(np.minimum(frames - span[0] + 1, span[1] - frames) / ramp, 0.0, 1.0)
    envelope = _smoothstep(envelope)
    angles = drift.copy()
    if marker == "negation":
        amplitude = np.radians(rng.uniform(16, 24))
        frequency = rng.uniform(1.6, 2.4) / fps
        angles[:, 0] += amplitude * envelope * np.sin(2 * np.pi * frequency * (frames - span[0]))
    elif marker == "question":
        angles[:, 1] += np.radians(rng.uniform(11, 16)) * envelope
    return angles, envelope


def _face_points(angles: np.ndarray, envelope: np.ndarray, marker: str, rng: np.random.Generator) -> np.ndarray:
    """The 68 face points plus eyes and ears `(T, 72, 3)` in face units, turned by the head angles."""
    num_frames = len(angles)
    points = np.concatenate([body.FACE_TEMPLATE, body.HEAD_LANDMARKS])[None].repeat(num_frames, 0)
    mouth = 0.04 + 0.04 * _smooth_noise(rng, num_frames, spacing=5.0)[:, 0]
    points[:, body.INNER_LIP_LOWER, 1] += mouth[:, None]
    points[:, 55:60, 1] += 0.6 * mouth[:, None]
    if marker == "question":  # raised brows, widened eyes
        points[:, body.BROWS, 1] -= 0.09 * envelope[:, None]
        points[:, body.EYELIDS_UPPER, 1] -= 0.025 * envelope[:, None]
    elif marker == "negation":  # furrowed brows, mouth corners down
        points[:, body.BROWS, 1] += 0.03 * envelope[:, None]
        points[:, body.INNER_LIP_CORNERS, 1] += 0.05 * envelope[:, None]
        points[:, [48, 54], 1] += 0.05 * envelope[:, None]
    yaw, pitch, roll = angles.T
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    zero, one = np.zeros(num_frames), np.ones(num_frames)
    r_yaw = np.stack([np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1), np.stack([-sy, zero, cy], -1)], 1)
    r_pitch = np.stack(
        [np.stack([one, zero, zero], -1), np.stack([zero, cp, -sp], -1), np.stack([zero, sp, cp], -1)], 1
    )
    r_roll = np.stack(
        [np.stack([cr, -sr, zero], -1), np.stack([sr, cr, zero], -1), np.stack([zero, zero, one], -1)], 1
    )
    rotation = r_roll @ r_pitch @ r_yaw
    # Pitch convention: positive pitch moves the nose tip (z < 0) down (y grows): y' = y cos p - z sin p.
    return body.HEAD_PIVOT + np.einsum("tij,tkj->tki", rotation, points - body.HEAD_PIVOT)


def render_clip(
    entries: list[SignEntry],
    marker: str,
    signer: Signer,
    manual_rng: np.random.Generator,
    face_rng: np.random.Generator,
    *,
    fps: float = 25.0,
    sign_frames: tuple[int, int] = (8, 14),
    transition_frames: tuple[int, int] = (2, 4),
    frame_size: tuple[int, int] = (1280, 720),
    jitter: float = 0.006,
    motion_blur: float = 1.0,
    occlusion: bool = True,
    drop_rate: float = 0.02,
    missing_frame_rate: float = 0.01,
) -> RenderedClip:
    """Render one signed sentence as COCO-WholeBody-133 keypoints and scores in frame fractions.

    Args:
        entries (`list[SignEntry]`): The signs, in order.
        marker (`str`): Non-manual marker over the clause: `"none"`, `"negation"` or `"question"`.
        signer (`Signer`): Who signs.
        manual_rng (`np.random.Generator`): Random stream of the body, arms and hands (timing, motion, noise).
        face_rng (`np.random.Generator`): Random stream of the head and face.
        Other arguments: as in `SynthSignConfig`.
    """
    states, spans = manual_timeline(entries, signer, manual_rng, sign_frames, transition_frames)
    num_frames = len(states)
    marker_span = (spans[0][0], spans[-1][1])

    points = np.zeros((num_frames, body.NUM_COCO_WHOLEBODY, 3))
    sway = _smooth_noise(manual_rng, num_frames, spacing=15.0, size=2) * 0.015
    shoulders = np.zeros((num_frames, 2, 3))
    shoulders[:, 0, 0], shoulders[:, 1, 0] = 0.5, -0.5  # left (image right), right
    shoulders[:, :, :2] += sway[:, None, :]
    shoulders[:, :, 1] += np.array([1.0, -1.0]) * sway[:, 1:] * 0.5
    points[:, [body.LEFT_SHOULDER, body.RIGHT_SHOULDER]] = shoulders

    palm = PALM_LENGTH * signer.hand_size
    dominant = _hand_geometry(states[:, 0], palm, signer.finger_length)
    other = _hand_geometry(states[:, 1], palm, signer.finger_length) * np.array([-1.0, 1.0, 1.0])
    points[:, body.RIGHT_HAND], points[:, body.LEFT_HAND] = dominant, other
    points[:, body.RIGHT_WRIST], points[:, body.LEFT_WRIST] = dominant[:, 0], other[:, 0]
    upper, fore = 0.72 * signer.arm_length, 0.66 * signer.arm_length
    points[:, body.RIGHT_ELBOW] = _elbows(shoulders[:, 1], dominant[:, 0], upper, fore, _ELBOW_POLE)
    points[:, body.LEFT_ELBOW] = _elbows(shoulders[:, 0], other[:, 0], upper, fore, _ELBOW_POLE * [-1, 1, 1])
    hips = 1.45 * signer.torso_length
    points[:, [body.LEFT_HIP, body.RIGHT_HIP]] = [[0.34, hips, 0.0], [-0.34, hips, 0.0]]
    points[:, [body.LEFT_KNEE, body.RIGHT_KNEE]] = [[0.36, hips + 1.2, 0.0], [-0.36, hips + 1.2, 0.0]]
    points[:, [body.LEFT_ANKLE, body.RIGHT_ANKLE]] = [[0.36, hips + 2.3, 0.0], [-0.36, hips + 2.3, 0.0]]
    points[:, body.FEET] = [
        [0.4, hips + 2.45, -0.2],
        [0.3, hips + 2.45, -0.15],
        [0.36, hips + 2.35, 0.05],
        [-0.4, hips + 2.45, -0.2],
        [-0.3, hips + 2.45, -0.15],
        [-0.36, hips + 2.35, 0.05],
    ]
    points[:, :, :2] += sway[:, None, :] * 0.3

    angles, envelope = _head_angles(num_frames, marker, marker_span, signer, fps, face_rng)
    face_unit = FACE_WIDTH * signer.head_size
    head_center = np.array([0.0, -0.7 * signer.neck_length, -0.05])
    head = head_center + face_unit * _face_points(angles, envelope, marker, face_rng)
    if marker == "question":  # the head leans forward with the raised brows
        head[..., 1] += 0.03 * envelope[:, None]
    head[..., :2] += sway[:, None, :]
    points[:, body.FACE] = head[:, :68]
    points[:, body.NOSE] = head[:, 30]
    points[:, [body.LEFT_EYE, body.RIGHT_EYE, body.LEFT_EAR, body.RIGHT_EAR]] = head[:, 68:]

    xy, scores = _detect(points, manual_rng, face_rng, signer, jitter, motion_blur, occlusion, drop_rate)
    if signer.left_handed:
        xy, scores = body.mirror_points(xy), scores[:, body.COCO_WHOLEBODY_MIRROR]
    width, height = frame_size
    scale = signer.shoulder_width * height
    keypoints = (np.array(signer.center) * [width, height] + xy * scale) / [width, height]
    # A pose estimator gives points outside the picture low scores.
    scores *= np.where(((keypoints < 0) | (keypoints > 1)).any(-1), 0.1, 1.0)
    missing = manual_rng.random(num_frames) < missing_frame_rate
    scores[missing] = 0.0
    keypoints[scores == 0] = 0.0
    return RenderedClip(keypoints.astype(np.float32), scores.astype(np.float32), spans, marker_span)


def _detect(
    points: np.ndarray,
    manual_rng: np.random.Generator,
    face_rng: np.random.Generator,
    signer: Signer,
    jitter: float,
    motion_blur: float,
    occlusion: bool,
    drop_rate: float,
) -> tuple[np.ndarray, np.ndarray]:
    """What a 2-D pose estimator makes of the true 3-D points: jittered x, y and scores (body units)."""
    num_frames = len(points)
    xy = points[..., :2].copy()
    # One draw per stream and clip. Manual: scores, drop decisions, drop scores; jitter, blur noise, drop shifts.
    uniform = manual_rng.random((num_frames, 133 + 84), dtype=np.float32)
    normal = manual_rng.standard_normal((num_frames, 133 + 84, 2), dtype=np.float32)
    face_uniform = face_rng.random((num_frames, 133), dtype=np.float32)
    face_normal = face_rng.standard_normal((num_frames, 133, 2), dtype=np.float32)
    scores = 0.82 + 0.15 * uniform[:, :133]
    head_scores = 0.8 + 0.15 * face_uniform
    scores[:, 11:13] *= 0.7
    scores[:, 13:23] = 0.01 + 0.07 * uniform[:, 13:23]  # legs and feet: below the frame

    hands = slice(body.LEFT_HAND.start, body.RIGHT_HAND.stop)
    wrists = xy[:, [body.LEFT_HAND.start, body.RIGHT_HAND.start]]
    speed = np.sqrt((np.diff(wrists, axis=0, prepend=wrists[:1]) ** 2).sum(-1))  # (T, 2)
    blur = motion_blur * np.repeat(speed, 21, axis=1) * _FINGER_WEIGHT  # (T, 42)
    scores[:, hands] -= 1.5 * blur
    noise_sd = jitter * signer.noise * (1.0 + 3.0 * (1.0 - np.clip(scores[:, :133], 0, 1)))
    manual_xy = xy + normal[:, :133] * noise_sd[..., None]
    manual_xy[:, hands] += normal[:, 133:175] * (0.25 * blur)[..., None]
    dropped = uniform[:, 133:175] < np.clip(drop_rate + blur, 0.0, 0.5)
    scores[:, hands] = np.where(dropped, 0.02 + 0.23 * uniform[:, 175:217], scores[:, hands])
    manual_xy[:, hands] += dropped[..., None] * normal[:, 175:217] * 0.06
    head_xy = xy + face_normal * (jitter * signer.noise * 0.7)
    for part in _HEAD_SLICES:
        manual_xy[:, part], scores[:, part] = head_xy[:, part], head_scores[:, part]

    if occlusion:
        # Face points close to a fingertip or the wrist of a hand in front of the face are hidden by it.
        covering = manual_xy[:, _OCCLUDERS]
        near = ((covering - xy[:, None, body.NOSE]) ** 2).sum(-1).min(-1) < 0.5**2
        if near.any():
            face = manual_xy[near, body.FACE]
            distance = ((face[:, :, None, :] - covering[near][:, None, :, :]) ** 2).sum(-1).min(-1)
            scores[near, body.FACE] *= np.where(distance < 0.07**2, 0.3, 1.0)
    return manual_xy, np.clip(scores, 0.0, 1.0)


_HEAD_SLICES = (slice(0, 5), body.FACE)
_FINGER_WEIGHT = np.tile(np.r_[0.5, np.ones(20)], 2)
# Wrist and fingertips of both hands: the points that hide the face.
_OCCLUDERS = np.r_[91, 95, 99, 103, 107, 111, 112, 116, 120, 124, 128, 132]
