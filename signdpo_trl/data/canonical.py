"""The canonical four-part skeleton every layout maps into.

The default set follows Uni-Sign's pose branch (Li et al., 2025): 69 points taken from COCO-WholeBody-133 and
grouped into four parts in the order ``body``, ``left_hand``, ``right_hand``, ``face``. "Left" and "right" are the
signer's own sides, as in COCO-WholeBody and MediaPipe.
"""

from __future__ import annotations

from dataclasses import dataclass


CANONICAL_LAYOUT = "unisign69"
PART_NAMES = ("body", "left_hand", "right_hand", "face")


@dataclass(frozen=True)
class CanonicalPart:
    """One part of the canonical skeleton.

    Args:
        name (`str`): Part name, one of `PART_NAMES`.
        offset (`int`): Index of the part's first point in the canonical joint axis.
        point_names (`tuple[str, ...]`): Names of the part's points, in order.
        coco_wholebody (`tuple[int, ...]`): The COCO-WholeBody-133 index of each point.
        edges (`tuple[tuple[int, int], ...]`): Skeleton edges as pairs of indices *within the part*.
        anchor (`int`): Index within the part of the point the part is normalised around (the wrist for a hand,
            the nose tip for the face); `-1` for the body, which is normalised to its bounding box.
    """

    name: str
    offset: int
    point_names: tuple[str, ...]
    coco_wholebody: tuple[int, ...]
    edges: tuple[tuple[int, int], ...]
    anchor: int = -1

    @property
    def size(self) -> int:
        return len(self.point_names)

    @property
    def indices(self) -> range:
        """Indices of this part's points in the canonical joint axis."""
        return range(self.offset, self.offset + self.size)


# The 21-point hand shared by COCO-WholeBody, MediaPipe and OpenPose: wrist, then four points per finger from the
# base outwards, thumb to little finger.
HAND_POINT_NAMES = ("wrist",) + tuple(
    f"{finger}_{joint}"
    for finger in ("thumb", "index", "middle", "ring", "pinky")
    for joint in ("1", "2", "3", "4")
)
HAND_EDGES = tuple(
    edge
    for base in (1, 5, 9, 13, 17)
    for edge in ((0, base), (base, base + 1), (base + 1, base + 2), (base + 2, base + 3))
)
# Points of a hand that end a finger, used by operators and drawings.
FINGERTIPS = (4, 8, 12, 16, 20)

BODY_POINT_NAMES = (
    "nose",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
)
BODY_EDGES = ((0, 1), (0, 2), (0, 3), (0, 4), (3, 4), (3, 5), (5, 7), (4, 6), (6, 8))
BODY_NOSE = 0
BODY_LEFT_WRIST = 7
BODY_RIGHT_WRIST = 8

# Face: every other point of the 17-point jaw line (iBUG-68 points 0..16), the eight inner-lip points (60..67)
# and the nose tip (30); COCO-WholeBody stores iBUG-68 point k at index 23 + k.
FACE_IBUG68 = tuple(range(0, 17, 2)) + tuple(range(60, 68)) + (30,)
FACE_POINT_NAMES = tuple(f"jaw_{k}" for k in range(0, 17, 2)) + tuple(f"inner_lip_{k}" for k in range(60, 68)) + (
    "nose_tip",
)
FACE_EDGES = (
    tuple((i, i + 1) for i in range(8))
    + tuple((9 + i, 9 + (i + 1) % 8) for i in range(8))
    + ((17, 4), (17, 9), (17, 13))
)
FACE_NOSE_TIP = 17

BODY = CanonicalPart("body", 0, BODY_POINT_NAMES, (0, 3, 4, 5, 6, 7, 8, 9, 10), BODY_EDGES)
LEFT_HAND = CanonicalPart("left_hand", 9, HAND_POINT_NAMES, tuple(range(91, 112)), HAND_EDGES, anchor=0)
RIGHT_HAND = CanonicalPart("right_hand", 30, HAND_POINT_NAMES, tuple(range(112, 133)), HAND_EDGES, anchor=0)
FACE = CanonicalPart(
    "face", 51, FACE_POINT_NAMES, tuple(23 + k for k in FACE_IBUG68), FACE_EDGES, anchor=FACE_NOSE_TIP
)

CANONICAL_PARTS: dict[str, CanonicalPart] = {part.name: part for part in (BODY, LEFT_HAND, RIGHT_HAND, FACE)}
NUM_CANONICAL_JOINTS = sum(part.size for part in CANONICAL_PARTS.values())
# COCO-WholeBody index of every canonical joint, in canonical order.
CANONICAL_FROM_COCO_WHOLEBODY = tuple(i for part in CANONICAL_PARTS.values() for i in part.coco_wholebody)


def part_of_joint() -> tuple[int, ...]:
    """The index into `PART_NAMES` of every canonical joint."""
    return tuple(p for p, part in enumerate(CANONICAL_PARTS.values()) for _ in range(part.size))


def canonical_edges() -> tuple[tuple[int, int], ...]:
    """Skeleton edges over the whole canonical joint axis (for drawing)."""
    return tuple(
        (part.offset + a, part.offset + b) for part in CANONICAL_PARTS.values() for a, b in part.edges
    )
