"""Handshapes of SynthSign, built from finger joint angles, and the 21-point hand they produce.

A hand is described by 20 angles (degrees): for the four fingers (index, middle, ring, pinky) the flexion of the
knuckle (MCP), middle joint (PIP) and end joint (DIP) plus the spread (abduction) at the knuckle; for the thumb its
abduction away from the index, its opposition towards the palm and the flexion of its two outer joints. Forward
kinematics turns the angles into the 21 points of the hand layout shared by COCO-WholeBody and MediaPipe (wrist,
then four points per finger, thumb to little finger), in a right-hand frame: the fingers point along -y, the palm
faces -z (towards the camera) and the thumb lies on the +x side. Lengths are in units of the palm length (wrist to
middle knuckle).
"""

from __future__ import annotations

import numpy as np


# Angle vector layout: index, middle, ring, pinky as (mcp, pip, dip, spread), then the thumb.
FINGER_ORDER = ("index", "middle", "ring", "pinky")
THUMB_ABDUCTION, THUMB_OPPOSITION, THUMB_MCP, THUMB_IP = 16, 17, 18, 19
NUM_HAND_ANGLES = 20

# Knuckle (MCP) positions of index..pinky, and the thumb's carpometacarpal joint, in the right-hand frame.
_KNUCKLES = np.array([[0.34, -0.95, 0.0], [0.1, -1.0, 0.0], [-0.13, -0.95, 0.0], [-0.33, -0.84, 0.0]])
_THUMB_BASE = np.array([0.2, -0.2, -0.06])
_FINGER_LENGTHS = np.array([[0.45, 0.27, 0.21], [0.5, 0.31, 0.23], [0.47, 0.29, 0.22], [0.37, 0.22, 0.2]])
_THUMB_LENGTHS = np.array([0.42, 0.33, 0.27])
# Direction the thumb bends towards when it flexes: across the palm and towards its front.
_THUMB_BEND = np.array([-0.55, -0.1, -0.83])

_EXTENDED = (0.0, 0.0, 0.0)
_CURLED = (85.0, 100.0, 65.0)
_SPREAD = (10.0, 0.0, -9.0, -20.0)
_CLOSED = (3.0, 0.0, -2.0, -5.0)


def _shape(fingers: tuple, spread: tuple, thumb: tuple) -> np.ndarray:
    angles = np.zeros(NUM_HAND_ANGLES)
    for f, (flexion, abduction) in enumerate(zip(fingers, spread)):
        angles[4 * f : 4 * f + 3] = flexion
        angles[4 * f + 3] = abduction
    angles[16:] = thumb
    return angles


# Thumb presets: (abduction, opposition, mcp flexion, ip flexion).
_THUMB_ALONGSIDE = (12.0, 5.0, 0.0, 5.0)
_THUMB_ACROSS = (35.0, 60.0, 35.0, 30.0)
_THUMB_FOLDED = (20.0, 55.0, 20.0, 10.0)
_THUMB_OUT = (55.0, 10.0, 0.0, 0.0)

# The handshapes, named after the ASL handshapes they imitate.
HANDSHAPES: dict[str, np.ndarray] = {
    "A": _shape([_CURLED] * 4, _CLOSED, _THUMB_ALONGSIDE),
    "S": _shape([_CURLED] * 4, _CLOSED, _THUMB_ACROSS),
    "B": _shape([_EXTENDED] * 4, _CLOSED, _THUMB_FOLDED),
    "5": _shape([_EXTENDED] * 4, _SPREAD, _THUMB_OUT),
    "1": _shape([_EXTENDED, _CURLED, _CURLED, _CURLED], _CLOSED, _THUMB_ACROSS),
    "V": _shape([_EXTENDED, _EXTENDED, _CURLED, _CURLED], (20.0, -15.0, -2.0, -5.0), _THUMB_ACROSS),
    "W": _shape([_EXTENDED, _EXTENDED, _EXTENDED, _CURLED], (14.0, 0.0, -14.0, -5.0), (30.0, 65.0, 40.0, 30.0)),
    "Y": _shape([_CURLED, _CURLED, _CURLED, _EXTENDED], (3.0, 0.0, -2.0, -30.0), (70.0, 5.0, 0.0, 0.0)),
    "I": _shape([_CURLED, _CURLED, _CURLED, _EXTENDED], (3.0, 0.0, -2.0, -8.0), _THUMB_ACROSS),
    "L": _shape([_EXTENDED, _CURLED, _CURLED, _CURLED], _CLOSED, (80.0, 0.0, 0.0, 0.0)),
    "C": _shape([(35.0, 40.0, 25.0)] * 4, _CLOSED, (45.0, 45.0, 10.0, 10.0)),
    "O": _shape([(55.0, 60.0, 40.0)] * 4, _CLOSED, (30.0, 70.0, 20.0, 15.0)),
    "bent-B": _shape([(85.0, 0.0, 0.0)] * 4, _CLOSED, _THUMB_ALONGSIDE),
    "claw": _shape([(15.0, 75.0, 55.0)] * 4, _SPREAD, (55.0, 25.0, 20.0, 30.0)),
    "X": _shape([(0.0, 90.0, 45.0), _CURLED, _CURLED, _CURLED], _CLOSED, _THUMB_ACROSS),
    "3": _shape([_EXTENDED, _EXTENDED, _CURLED, _CURLED], (14.0, -8.0, -2.0, -5.0), _THUMB_OUT),
    "U": _shape([_EXTENDED, _EXTENDED, _CURLED, _CURLED], (2.0, -2.0, -2.0, -5.0), _THUMB_ACROSS),
    "F": _shape([(45.0, 55.0, 35.0), _EXTENDED, _EXTENDED, _EXTENDED], _SPREAD, (30.0, 55.0, 15.0, 15.0)),
    "flat-O": _shape([(55.0, 15.0, 10.0)] * 4, _CLOSED, (25.0, 65.0, 10.0, 5.0)),
    "ILY": _shape([_EXTENDED, _CURLED, _CURLED, _EXTENDED], (8.0, 0.0, -2.0, -25.0), (70.0, 5.0, 0.0, 0.0)),
}
# The relaxed hand of a resting arm.
RELAXED = _shape([(25.0, 30.0, 15.0)] * 4, (6.0, 0.0, -5.0, -10.0), (35.0, 25.0, 10.0, 10.0))


def _direction(abduction: np.ndarray, flexion: np.ndarray) -> np.ndarray:
    """Unit vectors of finger segments: spread rotates in the palm plane, flexion bends towards -z."""
    a, f = np.radians(abduction), np.radians(flexion)
    return np.stack([np.sin(a) * np.cos(f), -np.cos(a) * np.cos(f), -np.sin(f)], axis=-1)


def hand_points(angles: np.ndarray, finger_scale: np.ndarray | float = 1.0) -> np.ndarray:
    """Forward kinematics: the 21 points of right hands from their angles.

    Args:
        angles (`np.ndarray` of shape `(..., 20)`): Joint angles in degrees, laid out as in `HANDSHAPES`.
        finger_scale (`float` or `np.ndarray` broadcastable to `(...)`): Finger length relative to the palm.

    Returns:
        `np.ndarray` of shape `(..., 21, 3)`: Points in the right-hand frame, palm length 1.
    """
    angles = np.asarray(angles, dtype=np.float64)
    lead = angles.shape[:-1]
    points = np.zeros(lead + (21, 3))
    scale = np.asarray(finger_scale, dtype=np.float64)[..., None, None]

    fingers = angles[..., :16].reshape(lead + (4, 4))
    cumulative = np.cumsum(fingers[..., :3], axis=-1)  # (..., 4, 3)
    segments = _direction(fingers[..., 3:4], cumulative) * _FINGER_LENGTHS[..., None] * scale[..., None]
    knuckles = np.broadcast_to(_KNUCKLES[:, None, :], lead + (4, 1, 3))
    joints = np.concatenate([knuckles, knuckles + np.cumsum(segments, axis=-2)], axis=-2)  # (..., 4, 4, 3)
    points[..., 5:, :] = joints.reshape(lead + (16, 3))

    abduction, opposition = np.radians(angles[..., THUMB_ABDUCTION]), np.radians(angles[..., THUMB_OPPOSITION])
    axis = np.stack(
        [np.sin(abduction) * np.cos(opposition), -np.cos(abduction) * np.cos(opposition), -np.sin(opposition)], -1
    )
    bend = _THUMB_BEND - (axis @ _THUMB_BEND)[..., None] * axis
    bend /= np.linalg.norm(bend, axis=-1, keepdims=True)
    mcp, ip = angles[..., THUMB_MCP], angles[..., THUMB_IP]
    flex = np.radians(np.stack([np.zeros(lead), mcp, mcp + ip], axis=-1))
    thumb_segments = np.cos(flex)[..., None] * axis[..., None, :] + np.sin(flex)[..., None] * bend[..., None, :]
    thumb_segments = thumb_segments * _THUMB_LENGTHS[:, None] * scale
    points[..., 1, :] = _THUMB_BASE
    points[..., 2:5, :] = _THUMB_BASE + np.cumsum(thumb_segments, axis=-2)
    return points
