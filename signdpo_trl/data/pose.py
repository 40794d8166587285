"""`PoseSequence`: one signer's keypoints over a clip, in a named skeleton layout."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .canonical import CANONICAL_LAYOUT
from .layouts import SkeletonLayout, get_layout, to_canonical


@dataclass
class PoseSequence:
    """Keypoints of one person over `T` frames.

    Args:
        keypoints (`np.ndarray` of shape `(T, J, D)`): Coordinates (float32); `D` is 2 (x, y) or 3 (x, y, z), in the
            units of the source (pixels for OpenPose and MediaPipe `.pose` files, [0, 1] for Uni-Sign pickles).
            A point with confidence 0 is absent; its coordinates are stored as 0 and mean nothing.
        confidence (`np.ndarray` of shape `(T, J)`): Per-point confidence (float32, >= 0; 0 means absent).
        layout (`str` or `SkeletonLayout`, *optional*, defaults to `"unisign69"`): Layout of the `J` points, stored
            as its registry name; the resolved table is `skeleton`.
        fps (`float`, *optional*): Frame rate of the source; `None` when the file has none and none was given.
        source (`str`, *optional*): Where the sequence came from (a path), used in error messages.
        skeleton (`SkeletonLayout`, *optional*): The layout table, when it is not the registered one of that name
            (a file whose reduced face keeps other mesh points); resolved from `layout` otherwise.

    Raises:
        `ValueError`: shapes disagree with each other or with the layout, there are no frames, or a keypoint or
            confidence is NaN or infinite (the message names `source` and the first bad frame and joint).
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    layout: str = CANONICAL_LAYOUT
    fps: float | None = None
    source: str | None = None
    skeleton: SkeletonLayout | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if isinstance(self.layout, SkeletonLayout):
            self.skeleton, self.layout = self.layout, self.layout.name
        if self.skeleton is None:
            self.skeleton = get_layout(self.layout)
        elif self.skeleton.name != self.layout:
            raise ValueError(f"layout {self.layout!r} and skeleton {self.skeleton.name!r} disagree.")
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32)
        self.confidence = np.asarray(self.confidence, dtype=np.float32)
        where = self.source or "<PoseSequence>"
        if self.keypoints.ndim != 3 or self.keypoints.shape[-1] < 2:
            raise ValueError(
                f"{where}: keypoints must have shape (frames, joints, 2 or 3); got {self.keypoints.shape}."
            )
        if self.confidence.shape != self.keypoints.shape[:2]:
            raise ValueError(
                f"{where}: confidence has shape {self.confidence.shape}, keypoints {self.keypoints.shape}; confidence "
                f"must be (frames, joints) = {self.keypoints.shape[:2]}."
            )
        if self.keypoints.shape[0] == 0:
            raise ValueError(f"{where}: the pose sequence has zero frames.")
        if self.keypoints.shape[1] != self.skeleton.num_points:
            raise ValueError(
                f"{where}: layout {self.skeleton.name!r} has {self.skeleton.num_points} points but the keypoints have "
                f"{self.keypoints.shape[1]}."
            )
        for name, values in (("keypoints", self.keypoints), ("confidence", self.confidence)):
            bad = ~np.isfinite(values)
            if bad.any():
                frame, joint = np.argwhere(bad)[0][:2]
                raise ValueError(
                    f"{where}: {name} contain NaN or inf, first at frame {frame}, joint {joint} "
                    f"({self.skeleton.point_names[joint]}); {int(bad.reshape(len(values), -1).any(-1).sum())} "
                    "frame(s) affected."
                )
        if (self.confidence < 0).any():
            raise ValueError(f"{where}: confidence must be >= 0.")

    @property
    def num_frames(self) -> int:
        return self.keypoints.shape[0]

    @property
    def num_joints(self) -> int:
        return self.keypoints.shape[1]

    @property
    def num_dims(self) -> int:
        return self.keypoints.shape[2]

    def to_canonical(self) -> PoseSequence:
        """This sequence in the canonical 69-joint layout; joints the layout lacks get confidence 0."""
        if self.layout == CANONICAL_LAYOUT:
            return self
        keypoints, confidence = to_canonical(self.keypoints, self.confidence, self.skeleton)
        return replace(self, keypoints=keypoints, confidence=confidence, layout=CANONICAL_LAYOUT, skeleton=None)

    def select_frames(self, indices) -> PoseSequence:
        """The frames at `indices` (any integer index array or slice), in that order. `fps` is kept as the source's
        rate: after sub-sampling, frames are no longer evenly spaced at that rate."""
        indices = np.arange(self.num_frames)[indices] if isinstance(indices, slice) else np.asarray(indices)
        if indices.ndim != 1:
            raise ValueError(f"select_frames expects a 1-D index array; got shape {indices.shape}.")
        return replace(self, keypoints=self.keypoints[indices], confidence=self.confidence[indices])

    def normalized(self, threshold: float = 0.3) -> PoseSequence:
        """The canonical sequence normalised per part as Uni-Sign does it (see `normalize.normalize_parts`)."""
        import torch

        from .normalize import normalize_parts

        canonical = self.to_canonical()
        keypoints, confidence = normalize_parts(
            torch.from_numpy(canonical.keypoints)[None],
            torch.from_numpy(canonical.confidence)[None],
            torch.ones(1, canonical.num_frames, dtype=torch.bool),
            threshold=threshold,
        )
        return replace(canonical, keypoints=keypoints[0].numpy(), confidence=confidence[0].numpy())
