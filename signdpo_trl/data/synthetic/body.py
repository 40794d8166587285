"""The SynthSign body: a 3-D face template, the COCO-WholeBody-133 index tables, and mirroring.

Body units: shoulder width 1, origin between the shoulders, x towards the signer's left (image right), y down,
z away from the camera. The face template is in face units (jaw width 1) around the head's centre.
"""

from __future__ import annotations

import numpy as np


NUM_COCO_WHOLEBODY = 133
# COCO-WholeBody-133: body 0..16, feet 17..22, face (iBUG-68) 23..90, left hand 91..111, right hand 112..132.
NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR = 0, 1, 2, 3, 4
LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW, LEFT_WRIST, RIGHT_WRIST = 5, 6, 7, 8, 9, 10
LEFT_HIP, RIGHT_HIP, LEFT_KNEE, RIGHT_KNEE, LEFT_ANKLE, RIGHT_ANKLE = 11, 12, 13, 14, 15, 16
FEET = slice(17, 23)
FACE = slice(23, 91)
LEFT_HAND = slice(91, 112)
RIGHT_HAND = slice(112, 133)
HEAD_POINTS = np.r_[0:5, 23:91]


def _ibug68_mirror() -> np.ndarray:
    """iBUG-68 index of the point each point becomes in a mirror image."""
    pairs = [(k, 16 - k) for k in range(17)]
    pairs += [(17 + k, 26 - k) for k in range(5)]
    pairs += [(31, 35), (32, 34), (33, 33)] + [(k, k) for k in range(27, 31)]
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (51, 51), (55, 59), (56, 58), (57, 57)]
    pairs += [(60, 64), (61, 63), (62, 62), (65, 67), (66, 66)]
    mirror = np.arange(68)
    for a, b in pairs:
        mirror[a], mirror[b] = b, a
    return mirror


def _coco_wholebody_mirror() -> np.ndarray:
    mirror = np.arange(NUM_COCO_WHOLEBODY)
    for left in range(1, 17, 2):
        mirror[left], mirror[left + 1] = left + 1, left
    mirror[17:20], mirror[20:23] = np.arange(20, 23), np.arange(17, 20)
    mirror[FACE] = 23 + _ibug68_mirror()
    mirror[LEFT_HAND], mirror[RIGHT_HAND] = np.arange(112, 133), np.arange(91, 112)
    return mirror


# Index of each point's mirror image: left and right swap, the centre line stays.
COCO_WHOLEBODY_MIRROR = _coco_wholebody_mirror()


def mirror_points(points: np.ndarray, center_x: float | np.ndarray = 0.0) -> np.ndarray:
    """Mirror COCO-WholeBody-133 points about the vertical line `x = center_x`, swapping left and right labels.

    Args:
        points (`np.ndarray` of shape `(..., 133, C)`): Points, x first.
        center_x (`float`): The mirror line.
    """
    mirrored = points[..., COCO_WHOLEBODY_MIRROR, :].copy()
    mirrored[..., 0] = 2 * center_x - mirrored[..., 0]
    return mirrored


def _face_template() -> np.ndarray:
    """The 68 iBUG points of a neutral frontal face, 3-D, in face units around the head centre."""
    points = np.zeros((68, 3))
    t = np.pi * np.arange(17) / 16
    points[0:17] = np.stack(
        [-0.5 * np.cos(t) * (1 - 0.12 * np.sin(t) ** 4), -0.05 + 0.82 * np.sin(t), 0.35 - 0.85 * np.sin(t)], -1
    )
    brow = np.linspace(0, 1, 5)
    points[17:22] = np.stack([-0.42 + 0.33 * brow, -0.38 - 0.07 * np.sin(np.pi * brow), -0.42 + 0.08 * brow], -1)
    points[27:31] = np.stack([np.zeros(4), np.linspace(-0.2, 0.17, 4), np.linspace(-0.5, -0.68, 4)], -1)
    points[31:36] = np.stack(
        [np.linspace(-0.1, 0.1, 5), 0.22 + 0.02 * np.cos(np.linspace(-1.5, 1.5, 5)), np.full(5, -0.55)], -1
    )
    angle = np.array([np.pi, 0.65 * np.pi, 0.35 * np.pi, 0.0, -0.35 * np.pi, -0.65 * np.pi])
    points[36:42] = np.stack([-0.21 + 0.1 * np.cos(angle), -0.2 - 0.04 * np.sin(angle), np.full(6, -0.42)], -1)
    angle = np.pi - np.arange(12) * np.pi / 6
    points[48:60] = np.stack([0.19 * np.cos(angle), 0.42 - 0.07 * np.sin(angle), np.full(12, -0.5)], -1)
    angle = np.array([np.pi, 0.75 * np.pi, 0.5 * np.pi, 0.25 * np.pi, 0.0, -0.25 * np.pi, -0.5 * np.pi, -0.75 * np.pi])
    points[60:68] = np.stack([0.13 * np.cos(angle), 0.42 - 0.015 * np.sin(angle), np.full(8, -0.5)], -1)
    # The left half mirrors the right half.
    mirror = _ibug68_mirror()
    for part in (slice(17, 22), slice(36, 42)):
        points[mirror[part]] = points[part] * np.array([-1.0, 1.0, 1.0])
    return points


FACE_TEMPLATE = _face_template()
BROWS = slice(17, 27)
EYELIDS_UPPER = np.array([37, 38, 43, 44])
INNER_LIP_LOWER = np.array([65, 66, 67])
INNER_LIP_CORNERS = np.array([60, 64])
# Eyes and ears (body points) in face units, as (left eye, right eye, left ear, right ear).
HEAD_LANDMARKS = np.array([[0.21, -0.2, -0.42], [-0.21, -0.2, -0.42], [0.55, -0.05, 0.3], [-0.55, -0.05, 0.3]])
# The head turns and nods about the top of the neck.
HEAD_PIVOT = np.array([0.0, 0.55, 0.15])
