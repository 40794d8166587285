import csv
import json
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
from datasets import Array2D, Array3D, Features, Value
from datasets.table import MemoryMappedTable

from signdpo_trl.data.dataset import PoseDatasetError, build_pose_dataset
from signdpo_trl.data.pose import PoseSequence
from signdpo_trl.data.readers import save_pose


def make_clip(num_frames: int, seed: int, num_dims: int = 2) -> PoseSequence:
    """A canonical clip with every point present, in pixel-like coordinates."""
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform(0, 500, size=(num_frames, 69, num_dims)).astype(np.float32)
    confidence = rng.uniform(0.5, 1.0, size=(num_frames, 69)).astype(np.float32)
    return PoseSequence(keypoints, confidence, layout="unisign69", fps=25.0)


def write_manifest(path: Path, rows: list[dict]) -> Path:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
        return path
    with path.open("w", newline="", encoding="utf-8") as stream:
        if path.suffix == ".tsv":
            writer = csv.DictWriter(stream, columns, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        else:
            writer = csv.DictWriter(stream, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def corpus(tmp_path):
    """Four clips under tmp_path/poses and their manifest rows (paths relative to tmp_path)."""
    (tmp_path / "poses").mkdir()
    clips = {}
    rows = []
    for i, (split, text, signer) in enumerate(
        [
            ("train", "the cat sleeps", "s1"),
            ("train", "a dog runs", "s2"),
            ("test", "it rains", "s1"),
            ("validation", "we eat, then we go", "s3"),
        ]
    ):
        clip_id = f"clip{i}"
        clips[clip_id] = make_clip(num_frames=6 + i, seed=i)
        save_pose(tmp_path / "poses" / f"{clip_id}.pose", clips[clip_id])
        rows.append({"id": clip_id, "path": f"poses/{clip_id}.pose", "text": text, "split": split, "signer": signer})
    return tmp_path, rows, clips


def build(manifest, tmp_path, **kwargs):
    return build_pose_dataset(manifest, cache_dir=tmp_path / "cache", **kwargs)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_manifest_formats_build_the_same_dataset_as_a_list_of_rows(corpus, suffix):
    root, rows, _ = corpus
    expected = build(rows, root, pose_root=root)
    built = build(write_manifest(root / f"manifest{suffix}", rows), root)
    assert list(built) == list(expected) == ["train", "validation", "test"]
    for split in expected:
        assert built[split].to_list() == expected[split].to_list()


def test_rows_hold_the_canonical_clip_as_float16(corpus):
    root, rows, clips = corpus
    dataset = build(rows, root, pose_root=root)["train"]
    assert dataset.features == Features(
        {
            "id": Value("string"),
            "keypoints": Array3D(shape=(None, 69, 2), dtype="float16"),
            "confidence": Array2D(shape=(None, 69), dtype="float16"),
            "fps": Value("float32"),
            "text": Value("string"),
            "signer": Value("string"),
        }
    )
    assert dataset.data.column("keypoints").type.storage_type.value_type.value_type.value_type == "halffloat"
    row = dataset.with_format("numpy")[1]
    assert row["id"] == "clip1" and row["text"] == "a dog runs" and row["fps"] == 25.0
    np.testing.assert_array_equal(row["keypoints"], clips["clip1"].keypoints.astype(np.float16))
    np.testing.assert_array_equal(row["confidence"], clips["clip1"].confidence.astype(np.float16))


def test_float32_with_three_coordinates_keeps_z_exactly(tmp_path):
    clip = make_clip(num_frames=5, seed=7, num_dims=3)
    save_pose(tmp_path / "clip.pose", clip)
    rows = [{"id": "a", "path": "clip.pose", "text": "hello"}]
    dataset = build(rows, tmp_path, pose_root=tmp_path, keypoint_dtype="float32", coords=3)["train"]
    assert dataset.features["keypoints"] == Array3D(shape=(None, 69, 3), dtype="float32")
    np.testing.assert_array_equal(dataset.with_format("numpy")[0]["keypoints"], clip.keypoints)


def test_missing_points_have_confidence_and_coordinates_zero(tmp_path):
    clip = make_clip(num_frames=4, seed=3)
    clip.confidence[:, 9:30] = 0  # the left hand is not seen
    save_pose(tmp_path / "clip.pose", clip)
    dataset = build([{"id": "a", "path": "clip.pose", "text": "hi"}], tmp_path, pose_root=tmp_path)["train"]
    row = dataset.with_format("numpy")[0]
    assert (row["confidence"][:, 9:30] == 0).all() and (row["keypoints"][:, 9:30] == 0).all()
    assert (row["confidence"][:, 30:] > 0).all()


def test_extra_columns_are_carried_through(corpus):
    root, rows, _ = corpus
    rows = [{**row, "topic": f"topic {i}", "start": None, "end": ""} for i, row in enumerate(rows)]
    dataset = build(rows, root, pose_root=root)["test"]
    assert dataset[0]["signer"] == "s1" and dataset[0]["topic"] == "topic 2"
    assert dataset[0]["start"] is None and dataset[0]["end"] is None


def test_split_column_names_the_splits_and_empty_means_train(corpus):
    root, rows, _ = corpus
    rows[1]["split"] = ""
    dataset_dict = build(rows, root, pose_root=root)
    assert {split: dataset_dict[split]["id"] for split in dataset_dict} == {
        "train": ["clip0", "clip1"],
        "test": ["clip2"],
        "validation": ["clip3"],
    }


def test_without_split_column_everything_is_train(corpus):
    root, rows, _ = corpus
    rows = [{key: value for key, value in row.items() if key != "split"} for row in rows]
    dataset_dict = build(rows, root, pose_root=root)
    assert list(dataset_dict) == ["train"] and dataset_dict["train"]["id"] == ["clip0", "clip1", "clip2", "clip3"]


def test_relative_paths_resolve_against_pose_root_before_the_manifest_folder(corpus, tmp_path):
    root, rows, _ = corpus
    manifest_dir = tmp_path / "elsewhere"
    manifest_dir.mkdir()
    manifest = write_manifest(manifest_dir / "manifest.csv", rows)
    assert build(manifest, root, pose_root=root)["train"]["id"] == ["clip0", "clip1"]


def test_start_and_end_crop_the_clip_in_seconds(tmp_path):
    clip = make_clip(num_frames=50, seed=5)  # 2 s at 25 fps
    save_pose(tmp_path / "long.pose", clip)
    rows = [{"id": "a", "path": "long.pose", "text": "hi", "start": "0.4", "end": "1.2"}]
    row = build(rows, tmp_path, pose_root=tmp_path)["train"].with_format("numpy")[0]
    np.testing.assert_array_equal(row["keypoints"], clip.keypoints[10:30].astype(np.float16))
    assert (row["start"], row["end"]) == (0.4, 1.2)


def test_fixture_files_of_three_layouts_build_with_their_frame_counts(fixtures_dir, tmp_path):
    rows = [
        {"id": "mediapipe", "path": str(fixtures_dir / "mediapipe.pose"), "text": "a"},
        {"id": "openpose", "path": str(fixtures_dir / "openpose.pose"), "text": "b"},
        {"id": "holistic", "path": str(fixtures_dir / "holistic_v02_short.pose"), "text": "c"},
        {"id": "kleine", "path": str(fixtures_dir / "sgg_kleine.pose"), "text": "kleine"},
    ]
    dataset = build(write_manifest(tmp_path / "fixtures.jsonl", rows), tmp_path)["train"]
    assert [len(keypoints) for keypoints in dataset["keypoints"]] == [170, 93, 5, 68]
    assert dataset["fps"] == [24.0, 24.0, 25.0, 25.0]
    for row in dataset.with_format("numpy"):
        assert row["keypoints"].shape[1:] == (69, 2) and np.isfinite(row["keypoints"]).all()
        assert (row["confidence"] > 0).any()


def write_zero_frames(path: Path) -> Path:
    path = path.with_suffix(".npz")
    np.savez(
        path,
        keypoints=np.zeros((0, 69, 2), np.float32),
        confidence=np.zeros((0, 69), np.float32),
        layout=np.array("unisign69"),
    )
    return path


def write_nan(path: Path) -> Path:
    path = path.with_suffix(".npz")
    keypoints = make_clip(num_frames=4, seed=1).keypoints
    keypoints[2, 40, 0] = np.nan
    np.savez(path, keypoints=keypoints, confidence=np.ones((4, 69), np.float32), layout=np.array("unisign69"))
    return path


def write_wrong_joint_count(path: Path) -> Path:
    """A Uni-Sign-style pickle with 100 points per frame instead of COCO-WholeBody's 133."""
    path = path.with_suffix(".pkl")
    content = {"keypoints": [np.zeros((1, 100, 2), np.float32)] * 3, "scores": [np.ones((1, 100), np.float32)] * 3}
    path.write_bytes(pickle.dumps(content))
    return path


def write_corrupt(path: Path) -> Path:
    path.write_bytes(b"this is not a pose file at all")
    return path


def write_without_scores(path: Path) -> Path:
    """A Uni-Sign-style pickle whose `scores` is None."""
    path = path.with_suffix(".pkl")
    path.write_bytes(pickle.dumps({"keypoints": [np.zeros((1, 133, 2), np.float32)] * 3, "scores": None}))
    return path


def write_nobody(path: Path) -> Path:
    """An OpenPose JSON folder in which nobody was detected in any frame."""
    folder = path.with_suffix("")
    folder.mkdir()
    for t in range(4):
        (folder / f"{folder.name}_{t:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": []}))
    return folder


def write_unknown_layout(path: Path) -> Path:
    path = path.with_suffix(".npz")
    np.savez(path, keypoints=np.ones((3, 21, 2)), confidence=np.ones((3, 21)), layout=np.array("mmpose_hand"))
    return path


def write_only_points_outside_the_canonical_set(path: Path) -> Path:
    """Reduced-holistic points with only the shoulders-down body points the canonical skeleton does not use present
    (holistic_reduced178 points 6 to 8)."""
    path = path.with_suffix(".npz")
    confidence = np.zeros((3, 178), np.float32)
    confidence[:, 6:9] = 0.9
    np.savez(path, keypoints=np.ones((3, 178, 2)), confidence=confidence, layout=np.array("holistic_reduced178"))
    return path


BAD_ROWS = {
    "missing file": (lambda path: path.with_name("absent.pose"), "missing file"),
    "corrupt file": (write_corrupt, "corrupt or unreadable file"),
    "zero frames": (write_zero_frames, "zero frames"),
    "NaN keypoints": (write_nan, "NaN"),
    "wrong joint count": (write_wrong_joint_count, "the file stores 100"),
    "pickle without scores": (write_without_scores, "field 'scores' must be a sequence of per-frame arrays"),
    "nobody detected": (write_nobody, "nothing was detected"),
    "unknown npz layout": (write_unknown_layout, "field 'layout' names 'mmpose_hand'"),
    "no canonical point": (write_only_points_outside_the_canonical_set, "none of the 69 canonical points"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_pose_file_fails_the_build_naming_line_id_path_and_reason(corpus, case):
    root, rows, _ = corpus
    make_bad, reason = BAD_ROWS[case]
    bad_path = make_bad(root / "poses" / "bad.pose")
    rows.insert(
        1, {"id": "bad", "path": str(bad_path.relative_to(root)), "text": "broken", "split": "train", "signer": "s9"}
    )
    manifest = write_manifest(root / "manifest.csv", rows)
    with pytest.raises(PoseDatasetError) as raised:
        build(manifest, root)
    message = str(raised.value)
    assert "1 of 5 manifest rows cannot be used" in message
    assert "manifest.csv line 3" in message and "'bad'" in message and str(bad_path) in message
    assert reason in message
    assert [problem.id for problem in raised.value.problems] == ["bad"]


@pytest.mark.parametrize("text", ["", "   \t "])
def test_empty_text_fails_the_build(corpus, text):
    root, rows, _ = corpus
    rows[2]["text"] = text
    with pytest.raises(PoseDatasetError, match=r"row 2 \(split 'test', id 'clip2'.*empty or whitespace-only text"):
        build(rows, root, pose_root=root)


def test_raise_lists_every_bad_row_in_manifest_order(corpus):
    root, rows, _ = corpus
    rows[3]["path"] = "poses/gone.pose"
    rows[0]["text"] = ""
    with pytest.raises(PoseDatasetError) as raised:
        build(rows, root, pose_root=root)
    assert [(p.location, p.id, p.reason) for p in raised.value.problems] == [
        ("row 0", "clip0", "empty or whitespace-only text"),
        ("row 3", "clip3", "missing file"),
    ]


def test_skip_mode_drops_bad_rows_and_reports_them(corpus, caplog):
    root, rows, _ = corpus
    rows[1]["path"] = "poses/gone.pose"
    write_corrupt(root / "poses" / "clip2.pose")
    with caplog.at_level(logging.WARNING, logger="signdpo_trl.data.dataset"):
        dataset_dict, report = build(rows, root, pose_root=root, on_error="skip", return_report=True)
    assert report.num_skipped == 2 and report.skipped_ids == ["clip1", "clip2"]
    assert report.num_rows == {"train": 1, "validation": 1, "test": 0}
    assert dataset_dict["train"]["id"] == ["clip0"] and len(dataset_dict["test"]) == 0
    assert "Skipped 2 of 4 manifest rows" in caplog.text and "clip1" in caplog.text


def test_two_processes_build_the_same_dataset_as_one(corpus):
    root, rows, _ = corpus
    rows = rows + [{**row, "id": f"{row['id']}-copy"} for row in rows]
    one = build_pose_dataset(rows, pose_root=root, cache_dir=root / "cache1")
    two = build_pose_dataset(rows, pose_root=root, cache_dir=root / "cache2", num_proc=2)
    for split in one:
        assert two[split].to_list() == one[split].to_list()


def test_dataset_is_memory_mapped_from_arrow_cache_files(corpus):
    root, rows, _ = corpus
    dataset = build(rows, root, pose_root=root)["train"]
    assert isinstance(dataset.data, MemoryMappedTable)
    assert dataset.cache_files and all(
        Path(cache["filename"]).is_relative_to(root / "cache") for cache in dataset.cache_files
    )


def test_rebuilding_after_a_pose_file_changes_reads_the_new_file(corpus):
    root, rows, _ = corpus
    assert len(build(rows, root, pose_root=root)["train"][0]["keypoints"]) == 6
    save_pose(root / "poses" / "clip0.pose", make_clip(num_frames=9, seed=11))
    assert len(build(rows, root, pose_root=root)["train"][0]["keypoints"]) == 9


def test_duplicate_ids_are_refused(corpus):
    root, rows, _ = corpus
    rows[2]["id"] = "clip0"
    with pytest.raises(ValueError, match="Duplicate id 'clip0': row 0 and row 2"):
        build(rows, root, pose_root=root)


def test_manifest_without_a_text_column_is_refused(tmp_path):
    with pytest.raises(ValueError, match="row 0 has no 'text' column"):
        build([{"id": "a", "path": "a.pose"}], tmp_path)


# --- manifests that are not as expected are named by line ----------------------------------------------------


@pytest.mark.parametrize("suffix, line", [(".csv", 4), (".tsv", 4), (".jsonl", 3)])
def test_manifest_bytes_that_are_not_utf8_name_the_line_and_suggest_reencoding(corpus, suffix, line):
    root, rows, _ = corpus
    rows[2]["text"] = "café au lait"
    manifest = write_manifest(root / f"manifest{suffix}", rows)
    column = manifest.read_text(encoding="utf-8").splitlines()[line - 1].index("é") + 1
    manifest.write_bytes(manifest.read_text(encoding="utf-8").encode("latin-1"))
    with pytest.raises(ValueError) as raised:
        build(manifest, root)
    message = str(raised.value)
    assert f"manifest{suffix} line {line}, column {column}: the bytes b'\\xe9' are not valid utf-8" in message
    assert f"iconv -f latin1 -t utf-8 manifest{suffix} > manifest.utf8{suffix}" in message
    assert "or pass `encoding=`" in message


def test_encoding_argument_reads_a_latin1_manifest(corpus):
    root, rows, _ = corpus
    rows[2]["text"] = "café au lait"
    manifest = write_manifest(root / "manifest.csv", rows)
    manifest.write_bytes(manifest.read_text(encoding="utf-8").encode("latin-1"))
    assert build(manifest, root, encoding="latin-1")["test"]["text"] == ["café au lait"]


def test_utf8_byte_order_mark_is_skipped(corpus):
    root, rows, _ = corpus
    manifest = write_manifest(root / "manifest.csv", rows)
    manifest.write_bytes(b"\xef\xbb\xbf" + manifest.read_bytes())
    assert build(manifest, root)["train"]["id"] == ["clip0", "clip1"]


@pytest.mark.parametrize("start, end", [([1], None), ("nan", "2"), (True, None)], ids=["list", "NaN", "boolean"])
def test_start_that_is_not_a_finite_number_is_a_bad_row_naming_line_and_id(corpus, start, end):
    root, rows, _ = corpus
    rows[1].update(start=start, end=end)
    manifest = write_manifest(
        root / "manifest.jsonl", [{k: v for k, v in row.items() if k != "signer"} for row in rows]
    )
    with pytest.raises(
        PoseDatasetError, match=r"manifest\.jsonl line 2 \(split 'train', id 'clip1'.*start/end must be"
    ):
        build(manifest, root)


@pytest.mark.parametrize(
    "start, end, message",
    [("-0.4", "1.2", "is negative"), ("1.2", "0.4", "ends before it starts")],
    ids=["negative", "reversed"],
)
def test_negative_or_reversed_start_end_is_a_bad_row_with_the_values_and_the_clip_length(
    tmp_path, start, end, message
):
    save_pose(tmp_path / "long.pose", make_clip(num_frames=50, seed=5))  # 2 s at 25 fps
    rows = [{"id": "a", "path": "long.pose", "text": "hi", "start": start, "end": end}]
    expected = (
        rf"row 0 \(split 'train', id 'a'.*long\.pose: crop start={start}, end={end} \(seconds\) {message}.*"
        r"the clip has 50 frames \(2\.000 s at 25 fps\)"
    )
    with pytest.raises(PoseDatasetError, match=expected):
        build(rows, tmp_path, pose_root=tmp_path)


def test_path_with_a_nul_byte_is_a_bad_row(corpus):
    root, rows, _ = corpus
    rows[3]["path"] = "poses/clip\x003.pose"
    with pytest.raises(PoseDatasetError, match=r"row 3 .*id 'clip3'.*unusable path: ValueError: embedded null byte"):
        build(rows, root, pose_root=root)


def test_column_mixing_types_names_the_lines(corpus):
    root, rows, _ = corpus
    rows[0]["signer"] = ["s1", "s2"]
    manifest = write_manifest(root / "manifest.jsonl", rows)
    expected = (
        r"column 'signer' mixes types .*manifest\.jsonl line 1 holds list \['s1', 's2'\], manifest\.jsonl line 2 holds"
    )
    with pytest.raises(ValueError, match=expected):
        build(manifest, root)


def test_two_processes_report_the_same_bad_rows_as_one(corpus):
    root, rows, _ = corpus
    poses = root / "poses"
    bad_rows = [
        {"id": "no-scores", "path": str(write_without_scores(poses / "a.pose")), "text": "x"},
        {"id": "nobody", "path": str(write_nobody(poses / "b.pose")), "text": "y", "split": "test"},
        {"id": "negative", "path": "poses/clip0.pose", "text": "z", "start": "-1"},
        {"id": "corrupt", "path": str(write_corrupt(poses / "c.pose")), "text": "w", "split": "test"},
    ]
    rows = rows + [{**row, "id": f"{row['id']}-copy"} for row in rows]
    for position, bad in zip((1, 4, 6, 9), bad_rows):
        rows.insert(position, bad)

    problems = {}
    for num_proc in (None, 2):
        with pytest.raises(PoseDatasetError) as raised:
            build_pose_dataset(rows, pose_root=root, cache_dir=root / f"cache{num_proc}", num_proc=num_proc)
        problems[num_proc] = raised.value.problems
    assert problems[2] == problems[None]
    assert [(problem.location, problem.id) for problem in problems[2]] == [
        ("row 1", "no-scores"),
        ("row 4", "nobody"),
        ("row 6", "negative"),
        ("row 9", "corrupt"),
    ]
    reasons = [problem.reason for problem in problems[2]]
    assert "a.pkl: field 'scores'" in reasons[0] and "nothing was detected" in reasons[1]
    assert "crop start=-1.0, end=None (seconds) is negative" in reasons[2]

    one, report_one = build_pose_dataset(
        rows, pose_root=root, cache_dir=root / "skip1", on_error="skip", return_report=True
    )
    two, report_two = build_pose_dataset(
        rows, pose_root=root, cache_dir=root / "skip2", on_error="skip", return_report=True, num_proc=2
    )
    assert report_two == report_one and report_two.skipped == problems[None]
    for split in one:
        assert two[split]["id"] == one[split]["id"]
