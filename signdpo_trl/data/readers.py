"""Reading pose files of every supported format into a `PoseSequence`, and the two writers the tests and the
synthetic corpus need.

Formats, chosen by suffix (or, for an unknown suffix, by the file's first bytes):

- ``.pose``: pose-format files, header versions 0.0 to 0.2, read with `pose_format.Pose.read`; the layout is
  detected from the header's components. Points pose-format masks (confidence 0) get coordinates 0.
- ``.pkl`` / ``.pickle`` (gzip-compressed or not): Uni-Sign-style dicts with ``keypoints`` (T items of
  ``(N, 133, 2)``, x and y in [0, 1]) and ``scores`` (T items of ``(N, 133)``), optional ``start`` / ``end`` frame
  indices. Loaded with `safe_load_pickle`, which refuses anything but arrays and plain containers.
- a directory: OpenPose per-frame JSON files (``*_keypoints.json``, How2Sign's release), sorted by frame number.
- ``.npy``: an array ``(T, J, D + 1)`` or ``(T, P, J, D + 1)`` whose *last channel is the confidence*; the layout
  must be given (``layout=``).
- ``.npz``: ``keypoints`` ``(T, [P,] J, D)`` with ``confidence`` ``(T, [P,] J)``, or ``keypoints`` alone with the
  confidence as last channel as for ``.npy``; optional ``fps`` (scalar) and ``layout`` (string) arrays. Loaded
  without pickle support.

What real detectors write is read as it is: OpenPose confidences a little above 1 (four face points, up to 1.0061, in
the ``openpose.pose`` fixture) and SimCC scores above 1 (RTMPose, behind Uni-Sign's pickles) are kept; NaN or stale
coordinates under a zero confidence (pose-format masks them: 1449 NaN values in ``mediapipe_hand_normalized.pose``)
become 0; negative coordinates (points outside the frame) are kept. MediaPipe visibilities a hair below zero are
read as 0, see `NEGATIVE_CONFIDENCE_TOLERANCE`.

Every failure to read a file is a `PoseFileError` naming the file (and the field, for pickles and ``.npz``), with the
underlying exception chained, except `UnsafePickleError` (a pickle that tries to run code) and `FileNotFoundError`.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .layouts import COCO_WHOLEBODY133, LAYOUTS, OPENPOSE137, SkeletonLayout, detect_layout, get_layout
from .pose import PoseSequence
from .safe_pickle import GZIP_MAGIC, UnsafePickleError, safe_load_pickle


PICKLE_SUFFIXES = (".pkl", ".pickle", ".pkl.gz", ".gz")
_OPENPOSE_FRAME = re.compile(r"(\d+)_keypoints\.json$")
_OPENPOSE_PARTS = (
    ("pose_keypoints_2d", 25),
    ("face_keypoints_2d", 70),
    ("hand_left_keypoints_2d", 21),
    ("hand_right_keypoints_2d", 21),
)
# MediaPipe writes visibilities a hair below zero (e.g. -2.6e-5) into real .pose files: a confidence in
# [-NEGATIVE_CONFIDENCE_TOLERANCE, 0) is read as 0 (absent). Anything lower is not rounding noise but a broken
# file, and is refused with the value and where it is.
NEGATIVE_CONFIDENCE_TOLERANCE = 1e-3


class PoseFileError(ValueError):
    """A pose file could not be read: corrupt, truncated, of an unknown layout, or inconsistent with the declared
    layout. The message names the file and the cause."""


@dataclass
class _RawPose:
    """What a format reader returns: every person, before cropping and person selection."""

    keypoints: np.ndarray  # (T, P, J, D)
    confidence: np.ndarray  # (T, P, J)
    layout: SkeletonLayout
    fps: float | None
    default_frame_range: tuple[int | None, int | None] = (None, None)


def load_pose(
    path: str | os.PathLike,
    *,
    layout: str | SkeletonLayout | None = None,
    person: int | Literal["most_confident"] = 0,
    start: float | None = None,
    end: float | None = None,
    fps: float | None = None,
) -> PoseSequence:
    """Read a pose file into a `PoseSequence` in the file's own layout (call `.to_canonical()` for the 69 joints).

    Args:
        path (`str` or `os.PathLike`): A ``.pose``, ``.pkl``, ``.npy`` or ``.npz`` file, or a folder of OpenPose
            ``*_keypoints.json`` frames.
        layout (`str` or `SkeletonLayout`, *optional*): The layout of the stored points. Required for ``.npy``;
            elsewhere it overrides detection and must have as many points as the file.
        person (`int` or `"most_confident"`, *optional*, defaults to `0`): Which person to keep when several are
            stored; `"most_confident"` keeps the one with the highest mean confidence over the (cropped) clip.
        start (`float`, *optional*): Start of the crop, in seconds; for pickles in frames, as Uni-Sign counts them
            (defaulting to the pickle's own ``start``). Counted from the start of the file: a negative one is refused.
        end (`float`, *optional*): End of the crop (exclusive), in seconds; for pickles in frames (defaulting to the
            pickle's own ``end``). Seconds become frames ``floor(start * fps)`` to ``ceil(end * fps)``, as
            pose-format does. An end past the clip's end is cut there; one at or before `start` is refused.
        fps (`float`, *optional*): Frame rate to assume when the file carries none (OpenPose JSON, pickles, ``.npy``).

    Returns:
        `PoseSequence` with `source` set to `path`.

    Raises:
        `FileNotFoundError`: `path` does not exist.
        `PoseFileError` (a `ValueError`): anything wrong with the file, named with the file and, where known, the
            field or the frame and point: corrupt or truncated, an unknown or mismatched layout, a malformed field,
            NaN or infinite keypoints under a present point, a confidence below `-NEGATIVE_CONFIDENCE_TOLERANCE`,
            zero frames, nothing detected in any frame, a negative or reversed crop, a person that is not there.
            Whatever the underlying reader raised is chained as its cause.
        `UnsafePickleError`: a pickle tries to load something other than arrays and containers.
        `ValueError`: `person` is neither an index nor `"most_confident"`.
        `KeyError`: `layout` is not a registered layout.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No pose file or folder at {path}.")
    declared = get_layout(layout) if layout is not None else None
    if person != "most_confident" and (not isinstance(person, (int, np.integer)) or person < 0):
        raise ValueError(f'person must be an index >= 0 or "most_confident", got {person!r}.')
    try:
        return _load_pose(path, declared, person, start, end, fps)
    except (PoseFileError, UnsafePickleError):
        raise
    except Exception as error:  # third-party readers fail with struct.error, TypeError, KeyError, ... on bad input
        raise PoseFileError(f"{path}: {_describe(error)}") from error


def _load_pose(path: Path, declared: SkeletonLayout | None, person, start, end, fps) -> PoseSequence:
    source = str(path)
    if path.is_dir():
        kind, raw = "openpose", _read_openpose_json_folder(path, declared)
    else:
        kind = _format_of(path)
        reader = {"pose": _read_pose_format, "pickle": _read_unisign_pickle, "npy": _read_npy, "npz": _read_npz}[kind]
        raw = reader(path, declared)
    if raw.fps is None:
        raw.fps = fps
    raw.confidence = _clamp_tiny_negatives(raw.confidence, raw.layout, path)

    frames = _frame_range(raw, start, end, in_frames=kind == "pickle", path=path)
    keypoints, confidence = raw.keypoints[frames], raw.confidence[frames]
    index = _choose_person(confidence, person, source)
    keypoints, confidence = keypoints[:, index], confidence[:, index]
    if len(confidence) and not (confidence > 0).any():
        who = f"person {index}" if raw.confidence.shape[1] > 1 else "the file"
        cropped = " of the crop" if frames != slice(None) else ""
        raise PoseFileError(
            f"{path}: nothing was detected: every point of {who} has confidence 0 in all {len(confidence)} frames"
            f"{cropped}. An all-absent clip cannot be a sample."
        )
    # Absent points carry no coordinates: whatever the file stores there (pose-format files hold NaN or stale
    # values under the mask) is replaced by 0.
    keypoints = np.where(confidence[..., None] > 0, keypoints, 0)
    try:
        return PoseSequence(keypoints, confidence, layout=raw.layout, fps=raw.fps, source=source)
    except ValueError as error:  # zero frames, NaN under a present point, ...: the message names the file
        raise PoseFileError(str(error)) from error


@contextmanager
def _field(path: Path, name: str) -> Iterator[None]:
    """Name the field being read in an unexpected error; `load_pose` would report it with the file alone."""
    try:
        yield
    except PoseFileError:
        raise
    except Exception as error:
        raise PoseFileError(f"{path}: field {name!r}: {_describe(error)}") from error


def _describe(error: Exception) -> str:
    """`"struct.error: unpack requires ..."`: the exception's type, with its module unless it is a builtin."""
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return f"{name}: {error}"


def _clamp_tiny_negatives(confidence: np.ndarray, layout: SkeletonLayout, path: Path) -> np.ndarray:
    """`confidence` with values in [-NEGATIVE_CONFIDENCE_TOLERANCE, 0) set to 0; refuses a file with lower ones."""
    negative = confidence < 0
    if not negative.any():
        return confidence
    broken = confidence < -NEGATIVE_CONFIDENCE_TOLERANCE
    if broken.any():
        frame, person, point = (int(i) for i in np.argwhere(broken)[0])
        raise PoseFileError(
            f"{path}: confidence {float(confidence[frame, person, point]):.6g} at frame {frame}, person {person}, "
            f"point {point} ({layout.point_names[point]}) is below -{NEGATIVE_CONFIDENCE_TOLERANCE:g}; "
            f"{int(broken.sum())} value(s) are. Confidences a hair below 0 are read as 0, lower ones mean a broken "
            "file."
        )
    return np.where(negative, np.float32(0), confidence)


def _format_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".pose"):
        return "pose"
    if name.endswith(PICKLE_SUFFIXES):
        return "pickle"
    if name.endswith(".npy"):
        return "npy"
    if name.endswith(".npz"):
        return "npz"
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK"):
        return "npz"
    if head.startswith(GZIP_MAGIC) or head[:1] == b"\x80":
        return "pickle"
    return "pose"


def _frame_range(raw: _RawPose, start, end, *, in_frames: bool, path: Path) -> slice:
    """The frames to keep: `start`/`end` in frames (pickles, defaulting to the pickle's own) or in seconds. A crop
    past the clip's end is cut at the end; a negative, reversed or non-finite one is refused, never read as Python's
    counting from the end."""
    if in_frames:
        start = start if start is not None else raw.default_frame_range[0]
        end = end if end is not None else raw.default_frame_range[1]
    if start is None and end is None:
        return slice(None)
    num_frames = len(raw.keypoints)
    length = f"the clip has {num_frames} frames"
    if in_frames:
        span = f"start={start}, end={end} (frames)"
        if any(value is not None and not float(value).is_integer() for value in (start, end)):
            raise PoseFileError(f"{path}: crop {span}: a pickle's start and end count frames, whole numbers.")
        first, last = (None if value is None else int(value) for value in (start, end))
    else:
        if not raw.fps:
            raise PoseFileError(f"{path}: cropping by seconds needs a frame rate; the file has none, pass `fps=`.")
        length += f" ({num_frames / raw.fps:.3f} s at {raw.fps:g} fps)"
        span = f"start={start}, end={end} (seconds)"
        for value in (start, end):
            if value is not None and not math.isfinite(value):
                raise PoseFileError(f"{path}: crop {span} is not finite; {length}.")
        first = None if start is None else math.floor(start * raw.fps)
        last = None if end is None else math.ceil(end * raw.fps)
    if (first is not None and first < 0) or (last is not None and last < 0):
        raise PoseFileError(f"{path}: crop {span} is negative; {length}, counted from 0.")
    if first is not None and last is not None and last <= first:
        raise PoseFileError(f"{path}: crop {span} ends before it starts or where it starts; {length}.")
    if first is not None and first >= num_frames:
        raise PoseFileError(f"{path}: crop {span} starts past the clip's end, leaving zero frames; {length}.")
    return slice(first, last)


def _choose_person(confidence: np.ndarray, person, source: str) -> int:
    num_people = confidence.shape[1]
    if num_people == 0:
        raise PoseFileError(f"{source}: the file stores no person.")
    if person == "most_confident":
        return int(np.argmax(confidence.mean(axis=(0, 2)))) if len(confidence) else 0
    if person >= num_people:
        raise PoseFileError(f"{source}: person {person!r} requested, the file stores {num_people} person(s).")
    return int(person)


def _check_layout(layout: SkeletonLayout, num_points: int, path: Path) -> SkeletonLayout:
    if layout.num_points != num_points:
        raise PoseFileError(
            f"{path}: the declared layout {layout.name!r} has {layout.num_points} points but the file stores "
            f"{num_points} per frame."
        )
    return layout


# --- .pose (pose-format) ---


def _read_pose_format(path: Path, declared: SkeletonLayout | None) -> _RawPose:
    from pose_format import Pose

    data = path.read_bytes()
    try:
        pose = Pose.read(data)
    except Exception as error:  # pose-format raises struct.error, TypeError, ValueError, ... on bad bytes
        raise PoseFileError(f"{path}: not a readable .pose file ({type(error).__name__}: {error}).") from error
    header = pose.header
    _check_body_length(pose, data, path)
    num_points = header.total_points()
    if declared is not None:
        layout = _check_layout(declared, num_points, path)
    else:
        try:
            layout = detect_layout(header.components)
        except ValueError as error:
            raise PoseFileError(f"{path}: {error}") from error
    body = pose.body
    keypoints = np.asarray(np.ma.getdata(body.data), dtype=np.float32)
    confidence = np.asarray(body.confidence, dtype=np.float32)
    mask = np.ma.getmaskarray(body.data).any(-1)
    confidence = np.where(mask, 0, confidence)
    fps = float(body.fps) if body.fps and body.fps > 0 else None
    return _RawPose(keypoints, confidence, layout, fps)


def _check_body_length(pose, data: bytes, path: Path) -> None:
    """pose-format infers the frame count of a v0.1 body from the bytes left, so a truncated v0.1 file reads
    without error, with its confidences shifted into its coordinates; refuse one whose body is not whole frames."""
    if round(pose.header.version, 3) != 0.1:
        return
    from pose_format.pose_header import PoseHeader
    from pose_format.utils.reader import BufferReader

    reader = BufferReader(data)
    PoseHeader.read(reader)
    _, declared_frames, people = struct.unpack_from("<HHH", data, reader.read_offset)
    body_bytes = len(data) - reader.read_offset - 6
    per_frame = people * pose.header.total_points() * (pose.header.num_dims() + 1) * 4
    # The frame count is a ushort in v0.1: long files wrap it around, hence the modulo.
    if per_frame == 0 or body_bytes % per_frame or (body_bytes // per_frame) % 65536 != declared_frames:
        raise PoseFileError(
            f"{path}: truncated or corrupt .pose body: {body_bytes} bytes of frame data for {declared_frames} "
            f"declared frames of {per_frame} bytes."
        )


# --- Uni-Sign pickles ---


def _read_unisign_pickle(path: Path, declared: SkeletonLayout | None) -> _RawPose:
    try:
        content = safe_load_pickle(path)
    except UnsafePickleError:
        raise
    except pickle.UnpicklingError as error:
        raise PoseFileError(str(error)) from error
    if not isinstance(content, dict) or "keypoints" not in content or "scores" not in content:
        found = sorted(map(str, content)) if isinstance(content, dict) else type(content).__name__
        raise PoseFileError(f"{path}: a pose pickle must be a dict with 'keypoints' and 'scores'; found {found}.")
    for name in ("keypoints", "scores"):
        if not isinstance(content[name], (list, tuple, np.ndarray)) or getattr(content[name], "ndim", 1) == 0:
            raise PoseFileError(
                f"{path}: field {name!r} must be a sequence of per-frame arrays; found {type(content[name]).__name__}."
            )
    with _field(path, "keypoints"):
        keypoints = _stack_people([np.asarray(frame, dtype=np.float32) for frame in content["keypoints"]], 2)
    with _field(path, "scores"):
        confidence = _stack_people([np.asarray(frame, dtype=np.float32) for frame in content["scores"]], 1)
    if keypoints.shape[:3] != confidence.shape[:3] and len(keypoints):
        raise PoseFileError(
            f"{path}: 'keypoints' {keypoints.shape[:3]} and 'scores' {confidence.shape[:3]} disagree "
            "(frames, people, points)."
        )
    layout = _check_layout(declared or COCO_WHOLEBODY133, keypoints.shape[2] if keypoints.ndim == 4 else 0, path)
    frame_range = tuple(_optional_number(content.get(name), path, name) for name in ("start", "end"))
    return _RawPose(keypoints, confidence, layout, _frame_rate(content.get("fps"), path), frame_range)


def _optional_number(value, path: Path, name: str) -> float | None:
    if value is None:
        return None
    with _field(path, name):
        number = float(value)
    if not math.isfinite(number):
        raise PoseFileError(f"{path}: field {name!r} is {number}, not a finite number.")
    return number


def _frame_rate(value, path: Path) -> float | None:
    """A stored frame rate; 0 (as pose-format writes for none) or absent means unknown."""
    rate = _optional_number(value, path, "fps")
    if rate is not None and rate < 0:
        raise PoseFileError(f"{path}: field 'fps' is {rate:g}; a frame rate is positive (or 0 for unknown).")
    return rate or None


def _stack_people(frames: list[np.ndarray], trailing: int) -> np.ndarray:
    """Stack per-frame arrays of shape (N, J[, 2]) (or (J[, 2]) for one person) into (T, P, J[, 2]), padding frames
    with fewer people with zeros (confidence 0)."""
    frames = [frame if frame.ndim == trailing + 1 else frame[None] for frame in frames]
    if not frames:
        return np.zeros((0, 1, 0) + (2,) * (trailing - 1), dtype=np.float32)
    num_people = max(frame.shape[0] for frame in frames)
    if len({frame.shape[1:] for frame in frames}) != 1:
        raise ValueError(f"frames have different point shapes {sorted({frame.shape[1:] for frame in frames})}")
    stacked = np.zeros((len(frames), num_people) + frames[0].shape[1:], dtype=np.float32)
    for t, frame in enumerate(frames):
        stacked[t, : frame.shape[0]] = frame
    return stacked


# --- OpenPose JSON folders ---


def _read_openpose_json_folder(path: Path, declared: SkeletonLayout | None) -> _RawPose:
    files = [file for file in path.iterdir() if file.name.endswith("_keypoints.json")]
    if not files:
        raise PoseFileError(f"{path}: the pose sequence has zero frames (no *_keypoints.json files in the folder).")

    def frame_number(file: Path):
        match = _OPENPOSE_FRAME.search(file.name)
        return (0, int(match.group(1)), file.name) if match else (1, 0, file.name)

    files.sort(key=frame_number)
    layout = _check_layout(declared or OPENPOSE137, OPENPOSE137.num_points, path)
    frames = []
    for file in files:
        try:
            people = json.loads(file.read_text()).get("people", [])
            frames.append(np.stack([_openpose_person(person) for person in people]) if people else None)
        except (ValueError, AttributeError, TypeError) as error:
            raise PoseFileError(f"{file}: not a readable OpenPose frame ({type(error).__name__}: {error}).") from error
    num_people = max((len(frame) for frame in frames if frame is not None), default=1)
    stacked = np.zeros((len(frames), num_people, layout.num_points, 3), dtype=np.float32)
    for t, frame in enumerate(frames):
        if frame is not None:
            stacked[t, : len(frame)] = frame
    return _RawPose(stacked[..., :2], stacked[..., 2], layout, None)


def _openpose_person(person: dict) -> np.ndarray:
    """(137, 3) x, y, confidence of one OpenPose person; a part it lacks (empty list) has confidence 0."""
    parts = []
    for key, size in _OPENPOSE_PARTS:
        values = np.asarray(person.get(key) or np.zeros(3 * size), dtype=np.float32)
        if values.size != 3 * size:
            raise ValueError(f"{key} has {values.size} values, expected {3 * size} (x, y, c for {size} points)")
        parts.append(values.reshape(size, 3))
    return np.concatenate(parts)


# --- numpy ---


def _read_npy(path: Path, declared: SkeletonLayout | None) -> _RawPose:
    if declared is None:
        raise PoseFileError(f"{path}: a .npy file carries no layout; pass `layout=` (one of the registered layouts).")
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as error:
        raise PoseFileError(f"{path}: not a readable .npy file ({type(error).__name__}: {error}).") from error
    keypoints, confidence = _split_confidence(np.asarray(array, dtype=np.float32), path)
    return _with_people_axis(keypoints, confidence, declared, None, path)


def _read_npz(path: Path, declared: SkeletonLayout | None) -> _RawPose:
    try:
        with np.load(path, allow_pickle=False) as archive:
            content = {key: archive[key] for key in archive.files}
    except Exception as error:
        raise PoseFileError(f"{path}: not a readable .npz file ({type(error).__name__}: {error}).") from error
    if "keypoints" not in content:
        raise PoseFileError(f"{path}: a pose .npz needs a 'keypoints' array; it has {sorted(content)}.")
    with _field(path, "keypoints"):
        keypoints = np.asarray(content["keypoints"], dtype=np.float32)
    if "confidence" in content:
        with _field(path, "confidence"):
            confidence = np.asarray(content["confidence"], dtype=np.float32)
    else:
        keypoints, confidence = _split_confidence(keypoints, path)
    if declared is None and "layout" in content:
        name = str(content["layout"])
        try:
            declared = get_layout(name)
        except KeyError as error:
            raise PoseFileError(
                f"{path}: field 'layout' names {name!r}, which is not a registered layout (known: "
                f"{', '.join(sorted(LAYOUTS))}); pass `layout=` to read the points as one of them."
            ) from error
    if declared is None:
        raise PoseFileError(f"{path}: the .npz has no 'layout' array; pass `layout=`.")
    fps = _frame_rate(content.get("fps"), path)
    return _with_people_axis(keypoints, confidence, declared, fps, path)


def _split_confidence(array: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if array.ndim not in (3, 4) or array.shape[-1] not in (3, 4):
        raise PoseFileError(
            f"{path}: expected (frames, [people,] joints, D + 1) with the confidence as last channel (D = 2 or 3); "
            f"got shape {array.shape}."
        )
    return array[..., :-1], array[..., -1]


def _with_people_axis(keypoints, confidence, layout, fps, path: Path) -> _RawPose:
    if keypoints.ndim == 3:
        keypoints, confidence = keypoints[:, None], confidence[:, None] if confidence.ndim == 2 else confidence
    if keypoints.ndim != 4 or confidence.shape != keypoints.shape[:3]:
        raise PoseFileError(
            f"{path}: keypoints {keypoints.shape} and confidence {confidence.shape} do not agree as "
            "(frames, [people,] joints, D) and (frames, [people,] joints)."
        )
    return _RawPose(keypoints, confidence, _check_layout(layout, keypoints.shape[2], path), fps)


# --- writers ---


def save_pose(path: str | os.PathLike, sequence: PoseSequence) -> None:
    """Write `sequence` as a pose-format ``.pose`` file, one header component per layout component.

    pose-format writes the current format version (0.2: float fps). Points with confidence 0 are written masked.
    A sequence without `fps` is written with fps 0, which `load_pose` reads back as unknown.
    """
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

    point_format = "XYZC" if sequence.num_dims == 3 else "XYC"
    if sequence.num_dims not in (2, 3):
        raise ValueError(f"save_pose writes 2-D or 3-D points; got {sequence.num_dims} dimensions.")
    components = [
        PoseHeaderComponent(
            component.name,
            list(component.points),
            [tuple(limb) for limb in component.limbs],
            [_limb_colour(i) for i in range(len(component.limbs))],
            point_format,
        )
        for component in sequence.skeleton.components
    ]
    present = sequence.confidence > 0
    extent = [
        max(1, math.ceil(float(sequence.keypoints[..., d][present].max(initial=0)))) for d in range(sequence.num_dims)
    ]
    dimensions = PoseHeaderDimensions(extent[0], extent[1], extent[2] if sequence.num_dims == 3 else 0)
    header = PoseHeader(0.2, dimensions, components)
    mask = np.broadcast_to(
        ~present[:, None, :, None], (sequence.num_frames, 1, sequence.num_joints, sequence.num_dims)
    )
    data = np.ma.masked_array(sequence.keypoints[:, None], mask=mask.copy())
    body = NumPyPoseBody(float(sequence.fps or 0.0), data, sequence.confidence[:, None])
    with open(path, "wb") as handle:
        Pose(header, body).write(handle)


def _limb_colour(i: int) -> tuple[int, int, int]:
    return ((37 * i) % 256, (91 * i + 64) % 256, (151 * i + 128) % 256)


def save_unisign_pickle(path: str | os.PathLike, sequence: PoseSequence) -> None:
    """Write a COCO-WholeBody-133 `sequence` as a Uni-Sign pose pickle: ``keypoints`` a list of ``(1, 133, 2)``
    arrays, ``scores`` a list of ``(1, 133)`` arrays (coordinates as stored; Uni-Sign's are in [0, 1])."""
    if sequence.layout != COCO_WHOLEBODY133.name or sequence.num_dims != 2:
        raise ValueError(
            f"Uni-Sign pickles hold 2-D COCO-WholeBody-133 points; got layout {sequence.layout!r} with "
            f"{sequence.num_dims} dimensions."
        )
    content = {
        "keypoints": [frame[None].astype(np.float32) for frame in sequence.keypoints],
        "scores": [frame[None].astype(np.float32) for frame in sequence.confidence],
    }
    with open(path, "wb") as handle:
        pickle.dump(content, handle, protocol=4)
