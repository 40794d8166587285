"""Build a memory-mapped `datasets.DatasetDict` of canonical pose clips from a manifest.

A manifest lists one clip per row: where its pose file is and what it says. Each clip is read, mapped to the
canonical 69-point skeleton and written to Arrow cache files by `datasets` as it is read, so a corpus of the size of
OpenASL (about 98k clips) never has to sit in RAM: the resulting datasets are memory-mapped.

Every row is checked as it is read (missing or unreadable file, no frames, non-finite keypoints, wrong joint count,
empty text). Bad rows are never dropped silently: either the build fails with one error that names them, or they are
skipped and listed in a `BuildReport`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from datasets import Array2D, Array3D, Dataset, DatasetDict, Features, NamedSplit, Value

from signdpo_trl.data.canonical import NUM_CANONICAL_JOINTS
from signdpo_trl.data.pose import PoseSequence
from signdpo_trl.data.readers import PoseFileError, load_pose
from signdpo_trl.version import __version__


logger = logging.getLogger(__name__)

# Columns of a manifest that the builder reads itself; every other column is carried through to the dataset.
ID_COLUMN = "id"
PATH_COLUMN = "path"
TEXT_COLUMN = "text"
SPLIT_COLUMN = "split"
START_COLUMN = "start"
END_COLUMN = "end"
MANIFEST_COLUMNS = (ID_COLUMN, PATH_COLUMN, TEXT_COLUMN, SPLIT_COLUMN, START_COLUMN, END_COLUMN)
DEFAULT_SPLIT = "train"
# Splits come out in this order, then any others in manifest order.
SPLIT_ORDER = {"train": 0, "validation": 1, "test": 2}
MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl")
KEYPOINT_DTYPES = ("float16", "float32")
# Internal column holding why a row is unusable ("" when it is fine); never part of a returned dataset.
_ERROR_COLUMN = "_error"
# Bumped whenever what a row of the cache holds changes, so that old caches are not reused.
_CACHE_FORMAT = 1


@dataclass(frozen=True)
class RowProblem:
    """One manifest row that could not become a sample.

    Args:
        split (`str`): Split the row belongs to.
        location (`str`): Where the row is: `"<manifest file> line <n>"`, or `"row <i>"` for an in-memory manifest.
        id (`str`): The row's `id`.
        path (`str`): The resolved pose path.
        reason (`str`): Why the row is unusable.
    """

    split: str
    location: str
    id: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location} (split {self.split!r}, id {self.id!r}, path {self.path!r}): {self.reason}"


@dataclass
class BuildReport:
    """What `build_pose_dataset` built and what it left out.

    Args:
        num_rows (`dict[str, int]`): Number of samples in each split of the built dataset.
        skipped (`list[RowProblem]`): Rows left out with `on_error="skip"`, in manifest order.
    """

    num_rows: dict[str, int] = field(default_factory=dict)
    skipped: list[RowProblem] = field(default_factory=list)

    @property
    def num_skipped(self) -> int:
        return len(self.skipped)

    @property
    def skipped_ids(self) -> list[str]:
        return [problem.id for problem in self.skipped]


class PoseDatasetError(ValueError):
    """Raised with `on_error="raise"` when some manifest rows cannot become samples.

    Args:
        problems (`list[RowProblem]`): Every unusable row, in manifest order.
        num_rows (`int`): Number of rows in the manifest.
        max_listed (`int`): How many problems the message lists.
    """

    def __init__(self, problems: list[RowProblem], num_rows: int, max_listed: int = 10):
        self.problems = problems
        super().__init__(
            f"{len(problems)} of {num_rows} manifest rows cannot be used:\n{_listing(problems, max_listed)}\n"
            'Fix or remove these rows, or pass on_error="skip" to build without them (they are then listed in the '
            "BuildReport returned with return_report=True)."
        )


def _listing(problems: list[RowProblem], max_listed: int) -> str:
    listed = "\n".join(f"  {problem}" for problem in problems[:max_listed])
    return listed + (f"\n  ... and {len(problems) - max_listed} more" if len(problems) > max_listed else "")


def dataset_features(coords: int = 2, keypoint_dtype: str = "float16", carried: Features | None = None) -> Features:
    """The features of a dataset built by `build_pose_dataset`.

    Args:
        coords (`int`, defaults to `2`): Coordinates per point (2 for x, y; 3 for x, y, z).
        keypoint_dtype (`str`, defaults to `"float16"`): Storage type of `keypoints` and `confidence`.
        carried (`Features`, *optional*): Features of the manifest columns carried through (`start`, `end`,
            extras).
    """
    features = Features(
        {
            ID_COLUMN: Value("string"),
            "keypoints": Array3D(shape=(None, NUM_CANONICAL_JOINTS, coords), dtype=keypoint_dtype),
            "confidence": Array2D(shape=(None, NUM_CANONICAL_JOINTS), dtype=keypoint_dtype),
            "fps": Value("float32"),
            TEXT_COLUMN: Value("string"),
        }
    )
    features.update(carried or {})
    return features


def read_manifest(
    manifest: str | os.PathLike | Sequence[Mapping[str, Any]], encoding: str = "utf-8"
) -> tuple[list[dict[str, Any]], list[str]]:
    """Read a manifest into rows, with where each row stands in the manifest.

    A manifest is a `.csv` file (comma-separated, with a header and the usual CSV quoting), a `.tsv` file
    (tab-separated with a header, one row per line, no quoting), a `.jsonl` file (one JSON object per line), or a
    sequence of mappings.

    Args:
        manifest (`str`, `os.PathLike` or sequence of mappings): The manifest file, or the rows themselves.
        encoding (`str`, defaults to `"utf-8"`): Text encoding of the file; a UTF-8 byte-order mark is skipped.

    Returns:
        `tuple[list[dict], list[str]]`: The rows, and for each row its location (`"<file> line <n>"` or
        `"row <i>"`) for error messages.

    Raises:
        `ValueError`: the suffix is unknown, or a line is not in `encoding`, not valid JSON or CSV, or has more
            fields than the header; the message names the file and the line.
    """
    if not isinstance(manifest, (str, os.PathLike)):
        rows = [dict(row) for row in manifest]
        return rows, [f"row {i}" for i in range(len(rows))]
    path = Path(manifest)
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise ValueError(f"Cannot read manifest {str(path)!r}: its suffix must be one of {MANIFEST_SUFFIXES}.")
    text = read_text(path, encoding, hint=" or pass `encoding=` (e.g. encoding='latin-1') to read it as it is")
    stream = io.StringIO(text, newline="")
    rows, locations = [], []
    if suffix == ".jsonl":
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path.name} line {number} is not valid JSON: {error}") from error
            if not isinstance(row, dict):
                raise ValueError(f"{path.name} line {number} is not a JSON object.")
            rows.append(row)
            locations.append(f"{path.name} line {number}")
        return rows, locations
    if suffix == ".csv":
        reader = csv.DictReader(stream)
    else:
        reader = csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
    try:
        for row in reader:
            if None in row:
                raise ValueError(f"{path.name} line {reader.line_num} has more fields than the header.")
            rows.append(row)
            locations.append(f"{path.name} line {reader.line_num}")
    except csv.Error as error:
        raise ValueError(f"{path.name} line {reader.line_num} is not valid {suffix[1:].upper()}: {error}") from error
    return rows, locations


def read_text(path: str | os.PathLike, encoding: str = "utf-8", *, hint: str = "") -> str:
    """The text of a manifest or label file, refusing bytes that are not in `encoding` with the line they are on.

    Args:
        path (`str` or `os.PathLike`): The file.
        encoding (`str`, defaults to `"utf-8"`): Its encoding; for UTF-8 a leading byte-order mark (as spreadsheet
            programs write) is skipped.
        hint (`str`, *optional*): Appended to the suggestion of the error message (another way to read the file).

    Raises:
        `ValueError`: a byte sequence is not valid in `encoding`; the message names the file, the line and the column,
            shows the bytes, and suggests re-encoding the file.
    """
    path = Path(path)
    data = path.read_bytes()
    if codecs.lookup(encoding).name == "utf-8":
        data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line = data.count(b"\n", 0, error.start) + 1
        # Everything before the first bad byte decodes: the column counts characters, as an editor shows them.
        column = len(data[line_start : error.start].decode(encoding)) + 1
        raise ValueError(
            f"{path} line {line}, column {column}: the bytes {data[error.start : error.end]!r} are not valid "
            f"{encoding} ({error.reason}). Re-encode the file to UTF-8, e.g. `iconv -f latin1 -t utf-8 {path.name} > "
            f"{path.stem}.utf8{path.suffix}` if it is Latin-1 (use the file's real encoding){hint}."
        ) from error


def build_pose_dataset(
    manifest: str | os.PathLike | Sequence[Mapping[str, Any]],
    *,
    pose_root: str | os.PathLike | None = None,
    num_proc: int | None = None,
    keypoint_dtype: Literal["float16", "float32"] = "float16",
    coords: int = 2,
    on_error: Literal["raise", "skip"] = "raise",
    cache_dir: str | os.PathLike | None = None,
    layout: str | None = None,
    person: int | Literal["most_confident"] = 0,
    fps: float | None = None,
    return_report: bool = False,
    max_listed_errors: int = 10,
    encoding: str = "utf-8",
) -> DatasetDict | tuple[DatasetDict, BuildReport]:
    """Build a memory-mapped `DatasetDict` of canonical pose clips from a manifest.

    Manifest columns:

    - `id` (required): unique name of the clip.
    - `path` (required): pose file (`.pose`, Uni-Sign `.pkl`, `.npy`/`.npz`) or OpenPose JSON folder; a relative
      path is resolved against `pose_root`, else the manifest file's folder, else (in-memory manifest) the
      current directory.
    - `text` (required): the translation; empty or whitespace-only text is an error.
    - `split` (optional): split name; missing or empty means `"train"`. The splits come out as `train`,
      `validation`, `test`, then others in manifest order.
    - `start`, `end` (optional): the clip's span inside the file, in seconds (in frames for Uni-Sign pickles, as
      `load_pose` counts them); empty means the whole file. Kept as columns of the dataset.
    - any other column is carried through unchanged (e.g. `signer`).

    Each sample holds `id`, `keypoints` (frames x 69 x `coords`, canonical joint order, stored as `keypoint_dtype`),
    `confidence` (frames x 69; 0 marks a missing point, whose coordinates are stored as 0), `fps` (`None` when the
    file has none and `fps` is not given), `text`, `start`/`end` when the manifest has them, and the extra columns.
    Coordinates are the source's (not normalised). The arrays are written to Arrow cache files under `cache_dir`
    while the files are read, never gathered in memory; the cache is keyed by the manifest, the files' sizes and
    modification times, and these arguments, so an unchanged build is reused.

    Args:
        manifest (`str`, `os.PathLike` or sequence of mappings): A `.csv`, `.tsv` or `.jsonl` file, or the rows
            themselves.
        pose_root (`str` or `os.PathLike`, *optional*): Folder that relative pose paths are resolved against.
        num_proc (`int`, *optional*): Processes reading pose files; `None` reads in this process.
        keypoint_dtype (`str`, defaults to `"float16"`): Storage type of `keypoints` and `confidence`
            (`"float16"` or `"float32"`).
        coords (`int`, defaults to `2`): Coordinates kept per point: 2 (x, y) or 3 (x, y, z; the file must have z).
        on_error (`str`, defaults to `"raise"`): What to do with unusable rows: `"raise"` a `PoseDatasetError`
            naming them (after one pass over the whole manifest, so that it lists all of them), or `"skip"` them,
            log a warning and list them in the `BuildReport`.
        cache_dir (`str` or `os.PathLike`, *optional*): Folder for the Arrow cache files; defaults to the `datasets`
            cache.
        layout (`str`, *optional*): Skeleton layout of the files, for formats that do not carry it; passed to
            `load_pose`.
        person (`int` or `"most_confident"`, defaults to `0`): Which person to keep in multi-person files.
        fps (`float`, *optional*): Frame rate to assume for files that carry none (OpenPose JSON, pickles, `.npy`).
        return_report (`bool`, defaults to `False`): Also return a `BuildReport`.
        max_listed_errors (`int`, defaults to `10`): How many bad rows the error message and warning list.
        encoding (`str`, defaults to `"utf-8"`): Text encoding of a manifest file (a UTF-8 byte-order mark is skipped).

    Returns:
        `DatasetDict`, or `(DatasetDict, BuildReport)` with `return_report=True`.

    Raises:
        `PoseDatasetError`: With `on_error="raise"`, when any row is unusable.
        `ValueError`: When the manifest itself is malformed (unknown suffix, bytes not in `encoding`, a line that is
            not valid CSV or JSON, missing required column, duplicate ids, a column mixing types), naming the
            manifest line, or an argument is invalid.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f'on_error must be "raise" or "skip", got {on_error!r}.')
    if keypoint_dtype not in KEYPOINT_DTYPES:
        raise ValueError(f"keypoint_dtype must be one of {KEYPOINT_DTYPES}, got {keypoint_dtype!r}.")
    if coords not in (2, 3):
        raise ValueError(f"coords must be 2 or 3, got {coords!r}.")

    raw_rows, locations = read_manifest(manifest, encoding=encoding)
    if not raw_rows:
        raise ValueError("The manifest has no rows.")
    if pose_root is not None:
        base = Path(pose_root)
    elif isinstance(manifest, (str, os.PathLike)):
        base = Path(manifest).parent
    else:
        base = Path.cwd()
    rows = [_prepare_row(index, raw, location, base) for index, (raw, location) in enumerate(zip(raw_rows, locations))]
    _check_unique_ids(rows)
    carried = _carried_features(raw_rows, locations)

    features = dataset_features(coords, keypoint_dtype, carried)
    generation_features = Features({**features, _ERROR_COLUMN: Value("string")})
    settings = {"keypoint_dtype": keypoint_dtype, "coords": coords, "layout": layout, "person": person, "fps": fps}

    splits: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda row: SPLIT_ORDER.get(row["split"], len(SPLIT_ORDER))):
        splits.setdefault(row["split"], []).append(row)

    built, problems = {}, []
    for split, split_rows in splits.items():
        dataset = Dataset.from_generator(
            _generate_samples,
            features=generation_features,
            cache_dir=str(cache_dir) if cache_dir is not None else None,
            gen_kwargs={"rows": split_rows, "columns": tuple(carried), **settings},
            num_proc=num_proc if num_proc and num_proc > 1 else None,
            split=NamedSplit(split),
            fingerprint=_fingerprint(split_rows, settings, carried),
        )
        errors = dataset.data.column(_ERROR_COLUMN).to_pylist()
        bad = [i for i, error in enumerate(errors) if error]
        problems.extend(
            (
                split_rows[i]["index"],
                RowProblem(split, split_rows[i]["location"], split_rows[i]["id"], split_rows[i]["path"], errors[i]),
            )
            for i in bad
        )
        if bad:
            bad_set = set(bad)
            dataset = dataset.select([i for i in range(len(dataset)) if i not in bad_set])
        built[split] = dataset.remove_columns(_ERROR_COLUMN)

    problems = [problem for _, problem in sorted(problems, key=lambda item: item[0])]
    if problems and on_error == "raise":
        raise PoseDatasetError(problems, len(rows), max_listed=max_listed_errors)
    if problems:
        listing = _listing(problems, max_listed_errors)
        logger.warning(f"Skipped {len(problems)} of {len(rows)} manifest rows:\n{listing}")

    dataset_dict = DatasetDict(built)
    if not return_report:
        return dataset_dict
    return dataset_dict, BuildReport({split: len(ds) for split, ds in built.items()}, problems)


def _prepare_row(index: int, raw: Mapping[str, Any], location: str, base: Path) -> dict[str, Any]:
    """Normalise one manifest row and record what can be told without reading the pose file."""
    for column in (ID_COLUMN, PATH_COLUMN, TEXT_COLUMN):
        if column not in raw:
            raise ValueError(
                f"{location} has no {column!r} column; a manifest needs {ID_COLUMN!r}, "
                f"{PATH_COLUMN!r} and {TEXT_COLUMN!r}."
            )
    sample_id = "" if raw[ID_COLUMN] is None else str(raw[ID_COLUMN]).strip()
    raw_path = "" if raw[PATH_COLUMN] is None else str(raw[PATH_COLUMN]).strip()
    path = Path(os.path.expanduser(raw_path))
    if not path.is_absolute():
        path = base / path
    text = raw[TEXT_COLUMN]
    text = text if isinstance(text, str) else ("" if text is None else str(text))
    reasons = []
    if not sample_id:
        reasons.append("empty id")
    if not text.strip():
        reasons.append("empty or whitespace-only text")
    try:
        start, end = _number(raw.get(START_COLUMN)), _number(raw.get(END_COLUMN))
    except (TypeError, ValueError):
        start = end = None
        reasons.append(f"start/end must be finite numbers, got {raw.get(START_COLUMN)!r}/{raw.get(END_COLUMN)!r}")
    size = mtime = None
    if not raw_path:
        reasons.append("empty path")
    else:
        try:
            stat = path.stat()
        except FileNotFoundError:
            reasons.append("missing file")
        except (OSError, ValueError) as error:  # a path with a NUL byte, too long, not a directory, no permission
            reasons.append(f"unusable path: {type(error).__name__}: {error}")
        else:
            # Part of the cache key: a pose file rewritten in place must not be served from an old cache.
            size, mtime = stat.st_size, stat.st_mtime_ns
    return {
        "index": index,
        "location": location,
        "id": sample_id,
        "path": str(path),
        "text": text,
        "split": str(raw.get(SPLIT_COLUMN) or "").strip() or DEFAULT_SPLIT,
        "start": start,
        "end": end,
        "size": size,
        "mtime": mtime,
        "error": "; ".join(reasons),
        "columns": {
            **{key: value for key, value in raw.items() if key not in MANIFEST_COLUMNS},
            START_COLUMN: start,
            END_COLUMN: end,
        },
    }


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise TypeError("a boolean is not a time")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not finite")
    return number


def _check_unique_ids(rows: list[dict[str, Any]]) -> None:
    first_seen: dict[str, str] = {}
    for row in rows:
        if not row["id"]:
            continue
        if row["id"] in first_seen:
            raise ValueError(
                f"Duplicate id {row['id']!r}: {first_seen[row['id']]} and {row['location']}. Ids must be unique."
            )
        first_seen[row["id"]] = row["location"]


def _carried_features(raw_rows: list[Mapping[str, Any]], locations: list[str]) -> Features:
    """Features of the columns carried into the dataset: `start`/`end` when the manifest has them, and the extra
    columns, whose types are inferred from their values (all strings for CSV and TSV)."""
    names = list(dict.fromkeys(key for row in raw_rows for key in row if key not in MANIFEST_COLUMNS))
    features = {
        column: Value("float64") for column in (START_COLUMN, END_COLUMN) if any(column in row for row in raw_rows)
    }
    for name in names:
        values = [row.get(name) for row in raw_rows]
        try:
            arrow_type = pa.array(values).type
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            where = _first_odd_type(values, locations)
            raise ValueError(
                f"Manifest column {name!r} mixes types that cannot share a column: {where} ({error})."
            ) from error
        feature = Features.from_arrow_schema(pa.schema([(name, arrow_type)]))[name]
        features[name] = Value("string") if arrow_type == pa.null() else feature
    return Features(features)


def _first_odd_type(values: list[Any], locations: list[str]) -> str:
    """Where a column first holds a value of another type than its first value, for the mixed-types error."""
    present = [(value, location) for value, location in zip(values, locations) if value is not None]
    first_value, first_location = present[0]
    for value, location in present[1:]:
        if type(value) is not type(first_value):
            return (
                f"{first_location} holds {type(first_value).__name__} {first_value!r}, {location} holds "
                f"{type(value).__name__} {value!r}"
            )
    return f"{first_location} holds {type(first_value).__name__} {first_value!r}"


def _fingerprint(rows: list[dict[str, Any]], settings: dict[str, Any], carried: Features) -> str:
    payload = json.dumps(
        {
            "format": _CACHE_FORMAT,
            "version": __version__,
            "settings": settings,
            "carried": carried.to_dict(),
            "rows": rows,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _generate_samples(
    rows: list[dict[str, Any]],
    columns: tuple[str, ...],
    keypoint_dtype: str,
    coords: int,
    layout: str | None,
    person: int | str,
    fps: float | None,
) -> Iterator[dict[str, Any]]:
    """Yield one sample per row, in order; an unusable row yields an empty sample with its reason."""
    empty_keypoints = np.zeros((0, NUM_CANONICAL_JOINTS, coords), dtype=keypoint_dtype)
    empty_confidence = np.zeros((0, NUM_CANONICAL_JOINTS), dtype=keypoint_dtype)
    for row in rows:
        sample = {
            ID_COLUMN: row["id"],
            "keypoints": empty_keypoints,
            "confidence": empty_confidence,
            "fps": None,
            TEXT_COLUMN: row["text"],
            **{name: row["columns"].get(name) for name in columns},
            _ERROR_COLUMN: row["error"],
        }
        if not row["error"]:
            try:
                pose = load_pose(
                    row["path"], layout=layout, person=person, start=row["start"], end=row["end"], fps=fps
                )
                sample.update(canonical_arrays(pose, coords, keypoint_dtype))
            except PoseFileError as error:
                sample[_ERROR_COLUMN] = f"corrupt or unreadable file: {error}"
            except Exception as error:  # any failure to make a sample is a row problem, reported with its cause
                sample[_ERROR_COLUMN] = f"{type(error).__name__}: {error}"
        yield sample


def canonical_arrays(pose: PoseSequence, coords: int = 2, keypoint_dtype: str = "float16") -> dict[str, Any]:
    """What a dataset row holds of a pose: its canonical keypoints (first `coords` coordinates), confidence and fps,
    cast to the storage type. Translation feeds a model the same (`signdpo_trl.inference`).

    Args:
        pose (`PoseSequence`): A pose in any layout, as `load_pose` reads it.
        coords (`int`, defaults to `2`): Coordinates kept per point (2 for x, y; 3 for x, y, z).
        keypoint_dtype (`str`, defaults to `"float16"`): Storage type of `keypoints` and `confidence`.

    Returns:
        `dict` with `keypoints` (frames x 69 x `coords`), `confidence` (frames x 69) and `fps`.

    Raises:
        `ValueError`: no canonical point is present in any frame, the pose has fewer than `coords` coordinates, or
            a coordinate overflows `keypoint_dtype`.
    """
    canonical = pose.to_canonical()
    if not (canonical.confidence > 0).any():
        raise ValueError(
            f"none of the {NUM_CANONICAL_JOINTS} canonical points is present in any frame (the points the file has "
            "are outside the canonical set): an all-absent clip cannot be a sample"
        )
    if canonical.num_dims < coords:
        raise ValueError(f"the file has {canonical.num_dims} coordinates per point, coords={coords} was asked")
    keypoints = canonical.keypoints[..., :coords].astype(keypoint_dtype)
    if not np.isfinite(keypoints).all():
        raise ValueError(f"keypoint coordinates exceed the range of {keypoint_dtype}; build with float32")
    return {"keypoints": keypoints, "confidence": canonical.confidence.astype(keypoint_dtype), "fps": canonical.fps}
