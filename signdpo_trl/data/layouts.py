"""Skeleton layouts of the pose estimators we read, and how each maps into the canonical 69-point skeleton.

A layout is the ordered list of named components (the blocks of points a file stores, as in a pose-format header)
plus, for every canonical joint, a *correspondence*: the component and point that carry the same landmark, or
nothing when the layout lacks it. Joints a layout lacks are masked (confidence 0) by `to_canonical`, never invented.

Correspondences used here:

- Body: by landmark name. COCO-WholeBody and MediaPipe Pose name nose, ears, shoulders, elbows and wrists the same
  way (MediaPipe: nose 0, left ear 7, right ear 8, shoulders 11/12, elbows 13/14, wrists 15/16); OpenPose BODY_25
  calls them Nose 0, LEar 18, REar 17, LShoulder 5, RShoulder 2, LElbow 6, RElbow 3, LWrist 7, RWrist 4.
- Face: the canonical face points are iBUG-68 points (see `canonical.FACE_IBUG68`). COCO-WholeBody stores iBUG point
  k at index 23 + k and OpenPose face-70 is iBUG-68 followed by the two pupils, so k maps to k. MediaPipe's face mesh
  has no iBUG points; `IBUG68_TO_FACE_MESH` is the commonly used nearest-mesh-vertex table. Faces are looked up by
  mesh index *name* (pose-format names face-mesh points "0" .. "477"), so a reduced face keeps whichever points it
  has and masks the rest (pose-format's reduced holistic has no nose tip: mesh vertex 4 is not among its 128).
- Hands: the 21-point hand (wrist, then thumb, index, middle, ring, little finger, four points each from the base
  outwards) is the same in COCO-WholeBody, MediaPipe and OpenPose, so hand point i maps to i.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .canonical import (
    BODY_POINT_NAMES,
    CANONICAL_LAYOUT,
    CANONICAL_PARTS,
    FACE_EDGES,
    FACE_IBUG68,
    HAND_EDGES,
    HAND_POINT_NAMES,
    NUM_CANONICAL_JOINTS,
)


# A point inside a layout: (component name, point name) or (component name, index within the component).
PointRef = tuple[str, "str | int"]


@dataclass(frozen=True)
class LayoutComponent:
    """A named block of points, as a pose-format header component.

    Args:
        name (`str`): Component name (`"POSE_LANDMARKS"`, `"hand_left_keypoints_2d"`, ...).
        points (`tuple[str, ...]`): Point names, in storage order.
        limbs (`tuple[tuple[int, int], ...]`, *optional*): Edges between points of this component, for drawing and
            for the header written by `save_pose`.
    """

    name: str
    points: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...] = ()

    @property
    def size(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class SkeletonLayout:
    """A skeleton layout and its mapping into the canonical skeleton.

    Args:
        name (`str`): Registry name, e.g. `"holistic543"`.
        components (`tuple[LayoutComponent, ...]`): The components, in storage order.
        correspondence (`tuple[PointRef | None, ...]`): For each of the 69 canonical joints, the layout point that
            carries the same landmark, or `None` when the layout lacks it.
        description (`str`): One line saying which estimator produces it.
        ignored_components (`tuple[str, ...]`): Components read but never mapped (e.g. MediaPipe's metric
            `POSE_WORLD_LANDMARKS`, which are not image coordinates).

    Attributes:
        canonical_index (`np.ndarray`): int64 array of 69 source indices, `-1` where the layout lacks the joint.
    """

    name: str
    components: tuple[LayoutComponent, ...]
    correspondence: tuple[PointRef | None, ...] = field(repr=False)
    description: str = ""
    ignored_components: tuple[str, ...] = ()
    canonical_index: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if len(self.correspondence) != NUM_CANONICAL_JOINTS:
            raise ValueError(
                f"Layout {self.name!r} gives {len(self.correspondence)} correspondences; the canonical skeleton has "
                f"{NUM_CANONICAL_JOINTS} joints."
            )
        index = np.array([self._resolve(ref) for ref in self.correspondence], dtype=np.int64)
        index.setflags(write=False)
        object.__setattr__(self, "canonical_index", index)

    @property
    def num_points(self) -> int:
        return sum(component.size for component in self.components)

    @property
    def component_signature(self) -> tuple[tuple[str, int], ...]:
        """`(name, size)` of every component: what `detect_layout` matches on."""
        return tuple((component.name, component.size) for component in self.components)

    @property
    def point_names(self) -> tuple[str, ...]:
        """`"<component>/<point>"` for every point, in storage order."""
        return tuple(f"{component.name}/{point}" for component in self.components for point in component.points)

    def component_offset(self, name: str) -> int:
        """Index of the first point of component `name` in the layout's point axis."""
        offset = 0
        for component in self.components:
            if component.name == name:
                return offset
            offset += component.size
        raise KeyError(f"Layout {self.name!r} has no component {name!r}; it has {[c.name for c in self.components]}.")

    def missing_canonical_joints(self) -> tuple[str, ...]:
        """`"<part>/<point>"` names of the canonical joints this layout lacks (always masked)."""
        names = [f"{part.name}/{point}" for part in CANONICAL_PARTS.values() for point in part.point_names]
        return tuple(name for name, source in zip(names, self.canonical_index) if source < 0)

    def with_components(self, components: Iterable[LayoutComponent]) -> SkeletonLayout:
        """The same layout with its components replaced (e.g. from a file header whose reduced face keeps other
        mesh points); correspondences are resolved again by point name, and what is no longer there is masked."""
        return replace(self, components=tuple(components))

    def _resolve(self, ref: PointRef | None) -> int:
        if ref is None:
            return -1
        component_name, point = ref
        offset = 0
        for component in self.components:
            if component.name == component_name:
                if isinstance(point, int):
                    if not 0 <= point < component.size:
                        raise ValueError(f"Layout {self.name!r}: {component_name} has no point index {point}.")
                    return offset + point
                return offset + component.points.index(point) if point in component.points else -1
            offset += component.size
        return -1


# --- Correspondence tables ---

# iBUG-68 point k -> MediaPipe face-mesh vertex: the commonly used nearest-vertex table (jaw 0..16, brows 17..26,
# nose bridge 27..30, nose base 31..35, eyes 36..47, outer lips 48..59, inner lips 60..67).
IBUG68_TO_FACE_MESH = (
    (127, 234, 132, 58, 172, 150, 149, 148, 152, 377, 378, 379, 397, 288, 361, 454, 356)
    + (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)
    + (168, 197, 5, 4, 98, 97, 2, 326, 327)
    + (33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380)
    + (61, 39, 37, 0, 267, 269, 291, 321, 314, 17, 84, 91)
    + (78, 82, 13, 312, 308, 317, 14, 87)
)

# Canonical body point -> name in each family.
_COCO_BODY_NAMES = BODY_POINT_NAMES
_MEDIAPIPE_BODY_NAMES = tuple(name.upper() for name in BODY_POINT_NAMES)
_OPENPOSE_BODY_NAMES = ("Nose", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist", "RWrist")


def _correspondence(
    body: tuple[str, Sequence[str]] | None,
    left_hand: str | None,
    right_hand: str | None,
    face: tuple[str, Sequence[str | int]] | None,
) -> tuple[PointRef | None, ...]:
    """Canonical-order correspondences from per-part specifications (None: the layout lacks the part)."""
    refs: list[PointRef | None] = []
    refs += [(body[0], name) for name in body[1]] if body else [None] * len(BODY_POINT_NAMES)
    for hand in (left_hand, right_hand):
        refs += [(hand, i) for i in range(len(HAND_POINT_NAMES))] if hand else [None] * len(HAND_POINT_NAMES)
    refs += [(face[0], point) for point in face[1]] if face else [None] * len(FACE_IBUG68)
    return tuple(refs)


# --- Component tables ---

# MediaPipe draws the finger chains, the wrist to the thumb, index and little-finger bases, and the knuckle line.
_KNUCKLE_LINE = ((5, 9), (9, 13), (13, 17))
MEDIAPIPE_HAND_LIMBS = tuple(edge for edge in HAND_EDGES if edge not in ((0, 9), (0, 13))) + _KNUCKLE_LINE

COCO_BODY17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)  # fmt: skip
COCO_BODY17_LIMBS = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9), (8, 10),
    (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip
COCO_FOOT_NAMES = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")

MEDIAPIPE_POSE33_NAMES = (
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE", "RIGHT_EYE_OUTER",
    "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW",
    "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY", "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX",
    "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP", "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE",
    "LEFT_HEEL", "RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
)  # fmt: skip
MEDIAPIPE_POSE33_LIMBS = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (13, 15),
    (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20), (11, 23),
    (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31), (30, 32), (27, 31),
    (28, 32),
)  # fmt: skip
MEDIAPIPE_HAND_NAMES = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP", "INDEX_FINGER_MCP", "INDEX_FINGER_PIP",
    "INDEX_FINGER_DIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_MCP", "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP",
    "MIDDLE_FINGER_TIP", "RING_FINGER_MCP", "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP", "PINKY_MCP",
    "PINKY_PIP", "PINKY_DIP", "PINKY_TIP",
)  # fmt: skip
# pose-format's `reduce_holistic`: eight upper-body pose landmarks and 128 face-mesh vertices.
REDUCED_POSE_NAMES = (
    "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_HIP",
    "RIGHT_HIP",
)  # fmt: skip
REDUCED_FACE_MESH = (
    0, 7, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78, 80, 81, 82, 84, 87,
    88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157,
    158, 159, 160, 161, 162, 163, 172, 173, 176, 178, 181, 185, 191, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282,
    283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336,
    338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398,
    400, 402, 405, 409, 415, 454, 466,
)  # fmt: skip

OPENPOSE_BODY25_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip", "RKnee",
    "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe",
    "RSmallToe", "RHeel",
)  # fmt: skip
OPENPOSE_BODY25_LIMBS = (
    (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 8), (0, 16), (0, 15), (0, 18), (0, 17), (1, 0), (8, 9),
    (9, 10), (10, 11), (8, 12), (12, 13), (13, 14), (11, 24), (11, 22), (22, 23), (14, 21), (14, 19), (19, 20),
)  # fmt: skip
# OpenPose face-70 point names as pose-format writes them: iBUG-68 by region, then the two pupils.
OPENPOSE_FACE70_NAMES = tuple(
    f"{prefix}_{k}"
    for prefix, points in (
        ("FB", range(0, 17)), ("FEB", range(17, 27)), ("FN", range(27, 36)), ("FE", range(36, 48)),
        ("FLO", range(48, 60)), ("FLI", range(60, 68)), ("FP", range(68, 70)),
    )
    for k in points
)  # fmt: skip
OPENPOSE_HAND_NAMES = (
    "BASE", "T_STT", "T_BCMC", "T_MCP", "T_IP", "I_CMC", "I_MCP", "I_PIP", "I_DIP", "M_CMC", "M_MCP", "M_PIP",
    "M_DIP", "R_CMC", "R_MCP", "R_PIP", "R_DIP", "P_CMC", "P_MCP", "P_PIP", "P_DIP",
)  # fmt: skip


def _face_mesh_component(num_points: int) -> LayoutComponent:
    return LayoutComponent("FACE_LANDMARKS", tuple(str(i) for i in range(num_points)))


_MEDIAPIPE_POSE = LayoutComponent("POSE_LANDMARKS", MEDIAPIPE_POSE33_NAMES, MEDIAPIPE_POSE33_LIMBS)
_MEDIAPIPE_HANDS = tuple(
    LayoutComponent(f"{side}_HAND_LANDMARKS", MEDIAPIPE_HAND_NAMES, MEDIAPIPE_HAND_LIMBS) for side in ("LEFT", "RIGHT")
)
_MEDIAPIPE_FACE_REFS = ("FACE_LANDMARKS", tuple(str(IBUG68_TO_FACE_MESH[k]) for k in FACE_IBUG68))
_HOLISTIC_CORRESPONDENCE = _correspondence(
    ("POSE_LANDMARKS", _MEDIAPIPE_BODY_NAMES), "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS", _MEDIAPIPE_FACE_REFS
)


def _canonical_layout() -> SkeletonLayout:
    parts = CANONICAL_PARTS
    components = (
        LayoutComponent("body", parts["body"].point_names, parts["body"].edges),
        LayoutComponent("left_hand", HAND_POINT_NAMES, HAND_EDGES),
        LayoutComponent("right_hand", HAND_POINT_NAMES, HAND_EDGES),
        LayoutComponent("face", parts["face"].point_names, FACE_EDGES),
    )
    refs = tuple((part.name, i) for part in parts.values() for i in range(part.size))
    return SkeletonLayout(CANONICAL_LAYOUT, components, refs, "the canonical four-part skeleton (identity mapping)")


UNISIGN69 = _canonical_layout()

COCO_WHOLEBODY133 = SkeletonLayout(
    "coco_wholebody133",
    (
        LayoutComponent("BODY", COCO_BODY17_NAMES, COCO_BODY17_LIMBS),
        LayoutComponent("FOOT", COCO_FOOT_NAMES),
        LayoutComponent("FACE", tuple(f"face_{k}" for k in range(68))),
        LayoutComponent("LEFT_HAND", HAND_POINT_NAMES, HAND_EDGES),
        LayoutComponent("RIGHT_HAND", HAND_POINT_NAMES, HAND_EDGES),
    ),
    _correspondence(("BODY", _COCO_BODY_NAMES), "LEFT_HAND", "RIGHT_HAND", ("FACE", FACE_IBUG68)),
    "COCO-WholeBody 133 (RTMPose / DWPose, Uni-Sign's pickles): body 17, feet 6, face 68, hands 21 + 21",
)

HOLISTIC543 = SkeletonLayout(
    "holistic543",
    (_MEDIAPIPE_POSE, _face_mesh_component(468)) + _MEDIAPIPE_HANDS,
    _HOLISTIC_CORRESPONDENCE,
    "MediaPipe Holistic: pose 33, face mesh 468, hands 21 + 21",
)

HOLISTIC553 = SkeletonLayout(
    "holistic553",
    (_MEDIAPIPE_POSE, _face_mesh_component(478)) + _MEDIAPIPE_HANDS,
    _HOLISTIC_CORRESPONDENCE,
    "MediaPipe Holistic with refined face (iris): pose 33, face mesh 478, hands 21 + 21",
)

HOLISTIC586 = SkeletonLayout(
    "holistic586",
    (_MEDIAPIPE_POSE, _face_mesh_component(478))
    + _MEDIAPIPE_HANDS
    + (LayoutComponent("POSE_WORLD_LANDMARKS", MEDIAPIPE_POSE33_NAMES, MEDIAPIPE_POSE33_LIMBS),),
    _HOLISTIC_CORRESPONDENCE,
    "MediaPipe Holistic with refined face and metric world pose: pose 33, face 478, hands 21 + 21, world pose 33",
    ignored_components=("POSE_WORLD_LANDMARKS",),
)

HOLISTIC_REDUCED178 = SkeletonLayout(
    "holistic_reduced178",
    (
        LayoutComponent(
            "POSE_LANDMARKS",
            REDUCED_POSE_NAMES,
            ((0, 1), (0, 2), (2, 4), (1, 3), (3, 5), (0, 6), (1, 7), (6, 7)),
        ),
        LayoutComponent("FACE_LANDMARKS", tuple(str(i) for i in REDUCED_FACE_MESH)),
    )
    + _MEDIAPIPE_HANDS,
    _HOLISTIC_CORRESPONDENCE,
    "pose-format's reduced MediaPipe Holistic: pose 8 (no nose, no ears), face 128 mesh vertices, hands 21 + 21",
)

OPENPOSE137 = SkeletonLayout(
    "openpose137",
    (
        LayoutComponent("pose_keypoints_2d", OPENPOSE_BODY25_NAMES, OPENPOSE_BODY25_LIMBS),
        LayoutComponent("face_keypoints_2d", OPENPOSE_FACE70_NAMES),
        LayoutComponent("hand_left_keypoints_2d", OPENPOSE_HAND_NAMES, HAND_EDGES),
        LayoutComponent("hand_right_keypoints_2d", OPENPOSE_HAND_NAMES, HAND_EDGES),
    ),
    _correspondence(
        ("pose_keypoints_2d", _OPENPOSE_BODY_NAMES),
        "hand_left_keypoints_2d",
        "hand_right_keypoints_2d",
        ("face_keypoints_2d", FACE_IBUG68),
    ),
    "OpenPose BODY_25 + face 70 + hands 21 + 21 (How2Sign's release)",
)

HAND21 = SkeletonLayout(
    "hand21",
    (_MEDIAPIPE_HANDS[1],),
    _correspondence(None, None, "RIGHT_HAND_LANDMARKS", None),
    "a single right hand (e.g. pose-format's hand-normalised files)",
)

LAYOUTS: dict[str, SkeletonLayout] = {
    layout.name: layout
    for layout in (
        UNISIGN69,
        COCO_WHOLEBODY133,
        HOLISTIC543,
        HOLISTIC553,
        HOLISTIC586,
        HOLISTIC_REDUCED178,
        OPENPOSE137,
        HAND21,
    )
}


def get_layout(layout: str | SkeletonLayout) -> SkeletonLayout:
    """The layout called `layout` (a `SkeletonLayout` is returned as is)."""
    if isinstance(layout, SkeletonLayout):
        return layout
    try:
        return LAYOUTS[layout]
    except KeyError:
        raise KeyError(f"Unknown skeleton layout {layout!r}; known layouts: {sorted(LAYOUTS)}.") from None


def detect_layout(components: Iterable[Any]) -> SkeletonLayout:
    """The layout whose components match `components`.

    Args:
        components: The file's components, in order: `(name, size)` pairs, `(name, point_names)` pairs, or objects
            with `name` and `points` attributes (pose-format's `PoseHeaderComponent`).

    Returns:
        `SkeletonLayout`: the matching registered layout. When point names are given and differ from the registered
        ones (a reduced face that keeps other mesh vertices), the layout is rebuilt on the given points, so that
        canonical joints are looked up by name and masked where absent.

    Raises:
        `ValueError`: no registered layout has these components.
    """
    given: list[tuple[str, int, tuple[str, ...] | None]] = []
    for component in components:
        if hasattr(component, "name") and hasattr(component, "points"):
            name, points = component.name, tuple(component.points)
        else:
            name, size_or_points = component
            points = None if isinstance(size_or_points, (int, np.integer)) else tuple(size_or_points)
        size = len(points) if points is not None else int(size_or_points)
        given.append((name, size, points))

    signature = tuple((name, size) for name, size, _ in given)
    for layout in LAYOUTS.values():
        if layout.component_signature != signature:
            continue
        if all(points is None or points == c.points for (_, _, points), c in zip(given, layout.components)):
            return layout
        rebuilt = tuple(
            LayoutComponent(name, points if points is not None else c.points, c.limbs if points is None else ())
            for (name, _, points), c in zip(given, layout.components)
        )
        return layout.with_components(rebuilt)
    known = "\n".join(f"  {layout.name}: {list(layout.component_signature)}" for layout in LAYOUTS.values())
    raise ValueError(f"No known skeleton layout has the components {list(signature)}. Known layouts:\n{known}")


def to_canonical(keypoints: Any, confidence: Any, layout: str | SkeletonLayout) -> tuple[Any, Any]:
    """Gather the canonical 69 joints out of a layout's points.

    Args:
        keypoints (`np.ndarray` or `torch.Tensor` of shape `(..., N, C)`): Points in `layout` order.
        confidence (`np.ndarray` or `torch.Tensor` of shape `(..., N)`): Their confidences.
        layout (`str` or `SkeletonLayout`): The layout of the `N` points.

    Returns:
        `(keypoints69, confidence69)` of shapes `(..., 69, C)` and `(..., 69)`, same array type as the inputs.
        Joints the layout lacks have coordinates 0 and confidence 0.
    """
    layout = get_layout(layout)
    if keypoints.shape[-2] != layout.num_points or confidence.shape[-1] != layout.num_points:
        raise ValueError(
            f"Layout {layout.name!r} has {layout.num_points} points; got keypoints {tuple(keypoints.shape)} and "
            f"confidence {tuple(confidence.shape)}."
        )
    present = layout.canonical_index >= 0
    source = np.where(present, layout.canonical_index, 0)
    if isinstance(keypoints, np.ndarray):
        gathered = np.where(present[:, None], np.take(keypoints, source, axis=-2), 0).astype(keypoints.dtype)
        gathered_confidence = np.where(present, np.take(confidence, source, axis=-1), 0).astype(confidence.dtype)
        return gathered, gathered_confidence
    import torch

    source_t = torch.as_tensor(source, device=keypoints.device)
    present_t = torch.as_tensor(present, device=keypoints.device)
    gathered = torch.where(present_t[:, None], keypoints.index_select(-2, source_t), 0)
    gathered_confidence = torch.where(present_t, confidence.index_select(-1, source_t), 0)
    return gathered, gathered_confidence
