"""Label-file loaders for the SLT benchmarks, in the forms their authors publish them.

Each loader turns a benchmark's own label files into manifest rows (`*_manifest`) and builds the memory-mapped
`DatasetDict` from them with `build_pose_dataset` (`load_*`), with the splits named `train`, `validation` and
`test`. Pose files are not part of any of these releases' label files; where they are expected is documented per
loader.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from datasets import DatasetDict

from signdpo_trl.data.dataset import BuildReport, build_pose_dataset, read_text
from signdpo_trl.data.safe_pickle import safe_load_pickle


logger = logging.getLogger(__name__)

OPENASL_COLUMNS = ("vid", "yid", "start", "end", "raw-text", "tokenized-text", "split")
OPENASL_SPLITS = {"train": "train", "valid": "validation", "test": "test"}

HOW2SIGN_COLUMNS = (
    "VIDEO_ID",
    "VIDEO_NAME",
    "SENTENCE_ID",
    "SENTENCE_NAME",
    "START_REALIGNED",
    "END_REALIGNED",
    "SENTENCE",
)
HOW2SIGN_LABEL_FILES = {
    "train": "how2sign_realigned_train.csv",
    "validation": "how2sign_realigned_val.csv",
    "test": "how2sign_realigned_test.csv",
}

CSL_DAILY_LABEL_FILES = {"train": "labels.train", "validation": "labels.dev", "test": "labels.test"}
# How many malformed label rows an error message lists (it counts them all).
MAX_LISTED_LABEL_PROBLEMS = 10

PosePattern = str | Callable[[Mapping[str, str]], str]

# Where each benchmark's label files and poses come from, for the error a user without the data gets.
BENCHMARK_RELEASES = {
    "openasl": {
        "labels": "the label file openasl-v1.0.tsv",
        "labels_source": "https://github.com/chevalierNoir/OpenASL (data/openasl-v1.0.tsv)",
        "poses": "one pose file per clip (e.g. <vid>.pose, keypoints you extract from the videos)",
    },
    "how2sign": {
        "labels": f"a folder with {', '.join(HOW2SIGN_LABEL_FILES.values())}",
        "labels_source": "https://how2sign.github.io (English translation, realigned)",
        "poses": "the sentence-level OpenPose release: one folder of *_keypoints.json per SENTENCE_NAME",
    },
    "csl_daily": {
        "labels": f"a folder with {', '.join(CSL_DAILY_LABEL_FILES.values())}",
        "labels_source": "Uni-Sign's CSL-Daily release (https://github.com/ZechengLi19/Uni-Sign, data/CSL_Daily)",
        "poses": "Uni-Sign's pose_format folder of per-clip .pkl files",
    },
}


def require_release_files(benchmark: str, labels_path: str | os.PathLike, pose_root: str | os.PathLike) -> None:
    """Raises `FileNotFoundError` naming what is missing, what it should hold and where to get it.

    Args:
        benchmark (`str`): `"openasl"`, `"how2sign"` or `"csl_daily"`.
        labels_path (`str` or `os.PathLike`): The label file (OpenASL) or folder of label files.
        pose_root (`str` or `os.PathLike`): The folder of pose files.
    """
    release = BENCHMARK_RELEASES[benchmark]
    if not Path(labels_path).exists():
        raise FileNotFoundError(
            f"{benchmark}: label path {str(labels_path)!r} does not exist. Put {release['labels']} there (from "
            f"{release['labels_source']}), or point --labels_path at it."
        )
    if not Path(pose_root).is_dir():
        raise FileNotFoundError(
            f"{benchmark}: pose folder {str(pose_root)!r} does not exist. Put {release['poses']} there, or point "
            "--pose_root at it."
        )


def parse_timestamp(value: str) -> float:
    """Seconds from an `HH:MM:SS.mmm` timestamp (as in OpenASL's `start` and `end`); plain seconds also pass."""
    parts = value.strip().split(":")
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"Not a timestamp: {value!r} (expected HH:MM:SS.mmm).")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


class LabelFileError(ValueError):
    """A benchmark's label file is malformed; the message names the file and, for each bad row, its line (or key),
    its id and the field.

    Args:
        path (`str` or `os.PathLike`): The label file.
        problems (`list[str]`): One line per malformed row, e.g. `"line 7 (vid 'abc'): 'end' is 'soon', ..."`.
    """

    def __init__(self, path: str | os.PathLike, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        listed = "\n".join(f"  {problem}" for problem in problems[:MAX_LISTED_LABEL_PROBLEMS])
        if len(problems) > MAX_LISTED_LABEL_PROBLEMS:
            listed += f"\n  ... and {len(problems) - MAX_LISTED_LABEL_PROBLEMS} more"
        super().__init__(f"{path}: malformed label file, {len(problems)} problem(s):\n{listed}")


def _read_tsv(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The rows of a tab-separated label file with the line each starts on; refuses missing columns and rows with
    more fields than the header or without a required field."""
    # Both releases are tab-separated without quoting: their sentences hold quote characters that CSV quoting
    # would swallow.
    stream = io.StringIO(read_text(path), newline="")
    reader = csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
    rows, problems = [], []
    try:
        missing = [column for column in required if column not in (reader.fieldnames or ())]
        if missing:
            raise LabelFileError(
                path, [f"line 1 (header) lacks the columns {missing}; expected tab-separated columns {list(required)}"]
            )
        for row in reader:
            if None in row:
                problems.append(
                    f"line {reader.line_num}: {len(reader.fieldnames) + len(row[None])} fields, the header has "
                    f"{len(reader.fieldnames)} (a tab inside a field?)"
                )
                continue
            absent = [column for column in required if row[column] is None]
            if absent:
                problems.append(f"line {reader.line_num}: no value for {absent} (the row has too few fields)")
                continue
            rows.append((reader.line_num, {key: (value or "").strip() for key, value in row.items()}))
    except csv.Error as error:
        problems.append(f"line {reader.line_num}: not valid tab-separated text ({error})")
    if problems:
        raise LabelFileError(path, problems)
    return rows


def _seconds(label: Mapping[str, str], column: str, parse: Callable[[str], float]) -> float:
    """The time in `column`, refusing a value that is not one, negative or not finite (the error names it)."""
    value = label[column]
    try:
        seconds = parse(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{column!r} is {value!r}, not a time of 0 s or more")
    return seconds


# OpenASL ------------------------------------------------------------------------------------------------------------


def openasl_manifest(tsv_path: str | os.PathLike, pose_pattern: PosePattern = "{vid}.pose") -> list[dict[str, Any]]:
    """Manifest rows from OpenASL's label file (`data/openasl-v1.0.tsv` of chevalierNoir/OpenASL).

    The file is tab-separated with the columns `vid` (clip id), `yid` (YouTube id of the source video), `start`
    and `end` (`HH:MM:SS.mmm` in the source video), `raw-text`, `tokenized-text`, `split` (`train`, `valid`, `test`)
    and possibly more (the release also has `gloss`); the extra columns are ignored. The translation is `raw-text`.

    Pose files are found with `pose_pattern`, relative to the `pose_root` given to `build_pose_dataset`:

    - a format string over the row's columns, e.g. `"{vid}.pose"` (the default: one file per clip, as OpenASL's
      `prep/crop_video.py` cuts clips named after `vid`) or `"{yid}.pose"` (one file per source video);
    - or a callable from the row to the path, e.g. `lambda row: row["vid"].replace(":", "%") + ".pkl"` for clips
      named as `crop_video.py` writes them to disk.

    When the path depends on `vid`, the file is the clip and is read whole; otherwise the clip is cut out of the
    source video's file with `start` and `end`.

    Returns:
        `list[dict]`: Rows with `id` (= `vid`), `path`, `text`, `split` (`train`, `validation`, `test`), `start`/`end`
        (seconds, only for whole-video files) and the extras `yid` and `tokenized_text`.
    """
    labels = _read_tsv(Path(tsv_path), OPENASL_COLUMNS)
    cut_from_source = isinstance(pose_pattern, str) and "{vid}" not in pose_pattern
    rows, problems = [], []
    for number, label in labels:
        vid = f"(vid {label['vid']!r})"
        split = OPENASL_SPLITS.get(label["split"])
        if split is None:
            problems.append(
                f"line {number}: unknown split {label['split']!r}; expected one of {list(OPENASL_SPLITS)} {vid}"
            )
            continue
        try:
            start, end = (_seconds(label, column, parse_timestamp) for column in ("start", "end"))
        except ValueError as error:
            problems.append(f"line {number}: {error}, as HH:MM:SS.mmm {vid}")
            continue
        try:
            path = pose_pattern(label) if callable(pose_pattern) else pose_pattern.format(**label)
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"pose_pattern {pose_pattern!r} cannot be filled from {tsv_path} line {number} {vid} "
                f"({type(error).__name__}: {error}); its fields must be columns of the file: {list(label)}."
            ) from error
        row = {"id": label["vid"], "path": path, "text": label["raw-text"], "split": split}
        if cut_from_source:
            row.update(start=start, end=end)
        row.update(yid=label["yid"], tokenized_text=label["tokenized-text"])
        rows.append(row)
    if problems:
        raise LabelFileError(tsv_path, problems)
    return rows


def load_openasl(
    tsv_path: str | os.PathLike,
    pose_root: str | os.PathLike,
    *,
    pose_pattern: PosePattern = "{vid}.pose",
    num_proc: int | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    **build_kwargs: Any,
) -> DatasetDict | tuple[DatasetDict, BuildReport]:
    """OpenASL as a `DatasetDict` (`train`, `validation`, `test`).

    Args:
        tsv_path (`str` or `os.PathLike`): The release's `openasl-v1.0.tsv`.
        pose_root (`str` or `os.PathLike`): Folder holding the pose files.
        pose_pattern (`str` or callable, defaults to `"{vid}.pose"`): Where a clip's pose file is; see
            `openasl_manifest`.
        num_proc (`int`, *optional*): Processes reading pose files.
        on_error (`str`, defaults to `"raise"`): `"raise"` or `"skip"` unusable clips; see `build_pose_dataset`.
        build_kwargs: Further arguments of `build_pose_dataset` (`keypoint_dtype`, `coords`, `cache_dir`, `layout`,
            `return_report`, ...).
    """
    require_release_files("openasl", tsv_path, pose_root)
    return build_pose_dataset(
        openasl_manifest(tsv_path, pose_pattern),
        pose_root=pose_root,
        num_proc=num_proc,
        on_error=on_error,
        **build_kwargs,
    )


# How2Sign -----------------------------------------------------------------------------------------------------------


def how2sign_manifest(
    labels_dir: str | os.PathLike, label_files: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Manifest rows from How2Sign's realigned English translation files.

    `labels_dir` holds `how2sign_realigned_train.csv`, `how2sign_realigned_val.csv` and
    `how2sign_realigned_test.csv` (tab-separated despite the suffix, with the columns `VIDEO_ID`, `VIDEO_NAME`,
    `SENTENCE_ID`, `SENTENCE_NAME`, `START_REALIGNED`, `END_REALIGNED`, `SENTENCE`); splits whose file is absent are
    left out.

    The supported pose release is the sentence-level (clip) OpenPose one: one folder per sentence, named
    `SENTENCE_NAME`, of per-frame `*_keypoints.json` files (`<pose_root>/<SENTENCE_NAME>/`). Those folders are
    already cut to the sentence, so the realigned times are not applied.

    Args:
        labels_dir (`str` or `os.PathLike`): Folder of the label files.
        label_files (`Mapping[str, str]`, *optional*): Split name to file name, defaults to the release's names.

    Returns:
        `list[dict]`: Rows with `id` (= `SENTENCE_NAME`), `path` (= `SENTENCE_NAME`), `text` (= `SENTENCE`),
        `split` and the extras `video_id`, `video_name`, `sentence_id`.
    """
    labels_dir = Path(labels_dir)
    rows = []
    for split, file_name in (label_files or HOW2SIGN_LABEL_FILES).items():
        path = labels_dir / file_name
        if not path.is_file():
            logger.info(f"How2Sign: no {file_name} in {labels_dir}; the {split!r} split is left out.")
            continue
        labels, problems = _read_tsv(path, HOW2SIGN_COLUMNS), []
        for number, label in labels:
            # The times are not applied (the folders are cut already), but a row whose times do not parse is shifted
            # or broken, and its other fields cannot be trusted either.
            try:
                for column in ("START_REALIGNED", "END_REALIGNED"):
                    _seconds(label, column, float)
            except ValueError as error:
                problems.append(f"line {number}: {error} (SENTENCE_NAME {label['SENTENCE_NAME']!r})")
        if problems:
            raise LabelFileError(path, problems)
        for _, label in labels:
            rows.append(
                {
                    "id": label["SENTENCE_NAME"],
                    "path": label["SENTENCE_NAME"],
                    "text": label["SENTENCE"],
                    "split": split,
                    "video_id": label["VIDEO_ID"],
                    "video_name": label["VIDEO_NAME"],
                    "sentence_id": label["SENTENCE_ID"],
                }
            )
    if not rows:
        expected = list((label_files or HOW2SIGN_LABEL_FILES).values())
        raise FileNotFoundError(f"No How2Sign label file found in {labels_dir}; expected any of {expected}.")
    return rows


def load_how2sign(
    labels_dir: str | os.PathLike,
    pose_root: str | os.PathLike,
    *,
    label_files: Mapping[str, str] | None = None,
    num_proc: int | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    **build_kwargs: Any,
) -> DatasetDict | tuple[DatasetDict, BuildReport]:
    """How2Sign as a `DatasetDict` (`train`, `validation`, `test`) from its OpenPose clip folders.

    Args:
        labels_dir (`str` or `os.PathLike`): Folder of the `how2sign_realigned_*.csv` files.
        pose_root (`str` or `os.PathLike`): Folder of the per-sentence OpenPose JSON folders; see
            `how2sign_manifest`.
        label_files (`Mapping[str, str]`, *optional*): Split name to label file name.
        num_proc (`int`, *optional*): Processes reading pose files.
        on_error (`str`, defaults to `"raise"`): `"raise"` or `"skip"` unusable clips; see `build_pose_dataset`.
        build_kwargs: Further arguments of `build_pose_dataset`.
    """
    require_release_files("how2sign", labels_dir, pose_root)
    return build_pose_dataset(
        how2sign_manifest(labels_dir, label_files),
        pose_root=pose_root,
        num_proc=num_proc,
        on_error=on_error,
        **build_kwargs,
    )


# CSL-Daily (as distributed by Uni-Sign) -----------------------------------------------------------------------------


def csl_daily_manifest(
    labels_dir: str | os.PathLike, label_files: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Manifest rows from CSL-Daily's label files as Uni-Sign distributes them.

    `labels_dir` holds `labels.train`, `labels.dev` and `labels.test`: gzip-compressed pickles of
    `{key: {"name", "gloss", "text", "video_path", ...}}` (plain pickles load too), read with the restricted
    unpickler (only plain containers and numpy arrays). The pose of a clip is Uni-Sign's pickle
    `<pose_root>/<video_path with .mp4 replaced by .pkl>` (its `pose_format` folder). The text is Chinese.

    Returns:
        `list[dict]`: Rows with `id` (= `name`), `path`, `text`, `split` and the extra `gloss` (glosses joined by
        spaces, as Uni-Sign does; empty when absent).
    """
    labels_dir = Path(labels_dir)
    rows = []
    for split, file_name in (label_files or CSL_DAILY_LABEL_FILES).items():
        path = labels_dir / file_name
        if not path.is_file():
            logger.info(f"CSL-Daily: no {file_name} in {labels_dir}; the {split!r} split is left out.")
            continue
        labels = safe_load_pickle(path)
        if not isinstance(labels, Mapping):
            raise LabelFileError(path, [f"holds a {type(labels).__name__}, expected a dict of samples keyed by name"])
        split_rows, problems = [], []
        for key, label in labels.items():
            try:
                split_rows.append(_csl_daily_row(label, split))
            except ValueError as error:
                problems.append(f"sample {key!r}: {error}")
        if problems:
            raise LabelFileError(path, problems)
        rows.extend(split_rows)
    if not rows:
        expected = list((label_files or CSL_DAILY_LABEL_FILES).values())
        raise FileNotFoundError(f"No CSL-Daily label file found in {labels_dir}; expected any of {expected}.")
    return rows


def _csl_daily_row(label: Any, split: str) -> dict[str, str]:
    """One CSL-Daily sample as a manifest row; the `ValueError` names the bad field."""
    if not isinstance(label, Mapping):
        raise ValueError(f"is a {type(label).__name__}, expected a dict with 'name', 'text' and 'video_path'")
    missing = [field for field in ("name", "text", "video_path") if field not in label]
    if missing:
        raise ValueError(f"lacks {missing}")
    for field in ("name", "video_path"):
        if not isinstance(label[field], str) or not label[field].strip():
            raise ValueError(f"field {field!r} is {label[field]!r}, expected a non-empty string")
    return {
        "id": label["name"].strip(),
        "path": _with_suffix(label["video_path"].strip(), ".pkl"),
        "text": _joined(label["text"], "", "text"),
        "split": split,
        "gloss": _joined(label.get("gloss"), " ", "gloss"),
    }


def _joined(value: Any, separator: str, field: str) -> str:
    """A string, or a list or tuple of strings joined by `separator` (as Uni-Sign joins glosses); None is empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return separator.join(value)
    raise ValueError(f"field {field!r} is {value!r}, expected a string or a list of strings")


def _with_suffix(path: str, suffix: str) -> str:
    root, _ = os.path.splitext(path)
    return root + suffix


def load_csl_daily(
    labels_dir: str | os.PathLike,
    pose_root: str | os.PathLike,
    *,
    label_files: Mapping[str, str] | None = None,
    num_proc: int | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    **build_kwargs: Any,
) -> DatasetDict | tuple[DatasetDict, BuildReport]:
    """CSL-Daily as a `DatasetDict` (`train`, `validation`, `test`) from Uni-Sign's labels and pose pickles.

    Args:
        labels_dir (`str` or `os.PathLike`): Folder of `labels.train`, `labels.dev`, `labels.test`.
        pose_root (`str` or `os.PathLike`): Uni-Sign's `pose_format` folder of per-clip pickles.
        label_files (`Mapping[str, str]`, *optional*): Split name to label file name.
        num_proc (`int`, *optional*): Processes reading pose files.
        on_error (`str`, defaults to `"raise"`): `"raise"` or `"skip"` unusable clips; see `build_pose_dataset`.
        build_kwargs: Further arguments of `build_pose_dataset`.
    """
    require_release_files("csl_daily", labels_dir, pose_root)
    return build_pose_dataset(
        csl_daily_manifest(labels_dir, label_files),
        pose_root=pose_root,
        num_proc=num_proc,
        on_error=on_error,
        **build_kwargs,
    )
