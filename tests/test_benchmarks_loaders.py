import datetime
import gzip
import json
import pickle

import numpy as np
import pytest

from signdpo_trl.data.benchmarks import (
    LabelFileError,
    csl_daily_manifest,
    how2sign_manifest,
    load_csl_daily,
    load_how2sign,
    load_openasl,
    openasl_manifest,
    parse_timestamp,
)
from signdpo_trl.data.canonical import BODY_LEFT_WRIST, CANONICAL_PARTS
from signdpo_trl.data.pose import PoseSequence
from signdpo_trl.data.readers import save_pose, save_unisign_pickle


def canonical_clip(num_frames: int, seed: int) -> PoseSequence:
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform(0, 500, size=(num_frames, 69, 2)).astype(np.float32)
    return PoseSequence(keypoints, np.ones((num_frames, 69), np.float32), layout="unisign69", fps=25.0)


# OpenASL: data/openasl-v1.0.tsv of chevalierNoir/OpenASL (tab-separated; the release also has a gloss column).
OPENASL_HEADER = ["vid", "yid", "start", "end", "raw-text", "tokenized-text", "gloss", "split"]
OPENASL_ROWS = [
    [
        "v1-00:00:01.000-00:00:02.000",
        "yt_A",
        "00:00:01.000",
        "00:00:02.000",
        'He said "hi".',
        'he said " hi " .',
        "",
        "train",
    ],
    [
        "v2-00:00:03.000-00:00:03.600",
        "yt_A",
        "00:00:03.000",
        "00:00:03.600",
        "Where is it?",
        "where is it ?",
        "",
        "valid",
    ],
    ["v3-00:00:00.200-00:00:01.000", "yt_B", "00:00:00.200", "00:00:01.000", "Thank you.", "thank you .", "", "test"],
]


def write_openasl_tsv(path, rows=OPENASL_ROWS):
    path.write_text("\n".join("\t".join(row) for row in [OPENASL_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_parse_timestamp_reads_hours_minutes_and_milliseconds():
    assert parse_timestamp("01:02:03.500") == 3723.5
    assert parse_timestamp("00:00:05.380") == pytest.approx(5.38)


def test_openasl_clip_files_build_train_validation_test_with_raw_text(tmp_path):
    tsv = write_openasl_tsv(tmp_path / "openasl-v1.0.tsv")
    for i, row in enumerate(OPENASL_ROWS):
        save_pose(tmp_path / f"{row[0]}.pose", canonical_clip(5 + i, seed=i))
    dataset_dict = load_openasl(tsv, tmp_path, cache_dir=tmp_path / "cache")
    assert list(dataset_dict) == ["train", "validation", "test"]
    train = dataset_dict["train"][0]
    assert train["id"] == "v1-00:00:01.000-00:00:02.000" and train["text"] == 'He said "hi".'
    assert train["yid"] == "yt_A" and train["tokenized_text"] == 'he said " hi " .'
    assert [len(dataset_dict[split][0]["keypoints"]) for split in dataset_dict] == [5, 6, 7]


def test_openasl_source_video_files_are_cut_at_start_and_end(tmp_path):
    tsv = write_openasl_tsv(tmp_path / "openasl-v1.0.tsv")
    sources = {"yt_A": canonical_clip(100, seed=1), "yt_B": canonical_clip(30, seed=2)}
    for yid, clip in sources.items():
        save_pose(tmp_path / f"{yid}.pose", clip)
    dataset_dict = load_openasl(tsv, tmp_path, pose_pattern="{yid}.pose", cache_dir=tmp_path / "cache")
    validation = dataset_dict["validation"].with_format("numpy")[0]
    # 3.0 s to 3.6 s at 25 fps: frames 75 to 90.
    np.testing.assert_array_equal(validation["keypoints"], sources["yt_A"].keypoints[75:90].astype(np.float16))
    assert (validation["start"], validation["end"]) == (3.0, 3.6)


def test_openasl_pose_pattern_may_be_a_callable(tmp_path):
    tsv = write_openasl_tsv(tmp_path / "openasl-v1.0.tsv")
    rows = openasl_manifest(tsv, lambda row: row["vid"].replace(":", "%") + ".pkl")
    assert rows[0]["path"] == "v1-00%00%01.000-00%00%02.000.pkl" and "start" not in rows[0]


def test_openasl_unknown_split_is_refused(tmp_path):
    tsv = write_openasl_tsv(tmp_path / "openasl-v1.0.tsv", [OPENASL_ROWS[0][:-1] + ["dev"]])
    with pytest.raises(ValueError, match="line 2: unknown split 'dev'"):
        openasl_manifest(tsv)


# How2Sign: how2sign_realigned_{train,val,test}.csv (tab-separated) and the clip-level OpenPose JSON folders.
HOW2SIGN_HEADER = [
    "VIDEO_ID",
    "VIDEO_NAME",
    "SENTENCE_ID",
    "SENTENCE_NAME",
    "START_REALIGNED",
    "END_REALIGNED",
    "SENTENCE",
]


def openpose_part(xy: np.ndarray) -> list[float]:
    """OpenPose's flat [x0, y0, c0, x1, ...] list, every point with confidence 0.9."""
    return np.concatenate([xy, np.full((len(xy), 1), 0.9)], axis=1).ravel().tolist()


def write_openpose_folder(folder, num_frames: int, seed: int) -> np.ndarray:
    """Per-frame OpenPose JSON files, named as How2Sign's release names them; returns the left-hand points."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    points = rng.uniform(0, 1280, size=(num_frames, 137, 2)).astype(np.float32)
    for t in range(num_frames):
        person = {
            "person_id": [-1],
            "pose_keypoints_2d": openpose_part(points[t, :25]),
            "face_keypoints_2d": openpose_part(points[t, 25:95]),
            "hand_left_keypoints_2d": openpose_part(points[t, 95:116]),
            "hand_right_keypoints_2d": openpose_part(points[t, 116:]),
        }
        frame = {"version": 1.3, "people": [person]}
        (folder / f"{folder.name}_{t:012d}_keypoints.json").write_text(json.dumps(frame))
    return points[:, 95:116]


def test_how2sign_reads_clip_folders_without_cropping(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    left_hands = {}
    for split, file_split, sentence in (
        ("train", "train", "Hi, I'm Mike."),
        ("validation", "val", "Next, cut it."),
        ("test", "test", "That's all."),
    ):
        name = f"vid_{file_split}_0-1-rgb_front"
        rows = [
            [
                f"vid_{file_split}",
                f"vid_{file_split}-1-rgb_front",
                f"vid_{file_split}_0",
                name,
                "12.5",
                "15.1",
                sentence,
            ]
        ]
        text = "\n".join("\t".join(row) for row in [HOW2SIGN_HEADER, *rows]) + "\n"
        (labels / f"how2sign_realigned_{file_split}.csv").write_text(text, encoding="utf-8")
        left_hands[split] = write_openpose_folder(tmp_path / "openpose" / name, num_frames=4, seed=len(left_hands))
    dataset_dict = load_how2sign(labels, tmp_path / "openpose", cache_dir=tmp_path / "cache")
    assert list(dataset_dict) == ["train", "validation", "test"]
    validation = dataset_dict["validation"].with_format("numpy")[0]
    assert validation["id"] == "vid_val_0-1-rgb_front" and validation["text"] == "Next, cut it."
    assert validation["video_name"] == "vid_val-1-rgb_front"
    left_hand = CANONICAL_PARTS["left_hand"].indices
    np.testing.assert_array_equal(
        validation["keypoints"][:, left_hand.start : left_hand.stop], left_hands["validation"].astype(np.float16)
    )


# CSL-Daily as Uni-Sign distributes it: gzip-pickled label dicts and one COCO-WholeBody pose pickle per clip.
def write_csl_daily(tmp_path, names_by_split):
    labels = tmp_path / "labels"
    poses = tmp_path / "pose_format"
    labels.mkdir()
    poses.mkdir()
    sources = {}
    for split_file, names in names_by_split.items():
        content = {}
        for i, name in enumerate(names):
            content[name] = {"name": name, "gloss": ["他", "谁"], "text": "他是谁？", "video_path": f"{name}.mp4"}
            rng = np.random.default_rng(len(sources))
            sources[name] = PoseSequence(
                rng.uniform(0, 1, (5 + i, 133, 2)), np.ones((5 + i, 133)), layout="coco_wholebody133"
            )
            save_unisign_pickle(poses / f"{name}.pkl", sources[name])
        with gzip.open(labels / split_file, "wb") as stream:
            pickle.dump(content, stream)
    return labels, poses, sources


def test_csl_daily_builds_chinese_text_and_glosses_from_unisign_pickles(tmp_path):
    labels, poses, sources = write_csl_daily(
        tmp_path,
        {
            "labels.train": ["S000000_P0000_T00", "S000001_P0001_T00"],
            "labels.dev": ["S000002_P0002_T00"],
            "labels.test": ["S000003_P0003_T00"],
        },
    )
    dataset_dict = load_csl_daily(labels, poses, cache_dir=tmp_path / "cache")
    assert {split: dataset_dict[split]["id"] for split in dataset_dict} == {
        "train": ["S000000_P0000_T00", "S000001_P0001_T00"],
        "validation": ["S000002_P0002_T00"],
        "test": ["S000003_P0003_T00"],
    }
    row = dataset_dict["train"].with_format("numpy")[1]
    assert row["text"] == "他是谁？" and row["gloss"] == "他 谁"
    # COCO-WholeBody point 9 is the left wrist.
    np.testing.assert_array_equal(
        row["keypoints"][:, BODY_LEFT_WRIST], sources["S000001_P0001_T00"].keypoints[:, 9].astype(np.float16)
    )


def test_csl_daily_clip_without_pose_pickle_is_skipped_and_reported(tmp_path):
    labels, poses, _ = write_csl_daily(tmp_path, {"labels.train": ["S000000_P0000_T00", "S000001_P0001_T00"]})
    (poses / "S000000_P0000_T00.pkl").unlink()
    dataset_dict, report = load_csl_daily(
        labels, poses, on_error="skip", return_report=True, cache_dir=tmp_path / "cache"
    )
    assert dataset_dict["train"]["id"] == ["S000001_P0001_T00"]
    assert report.skipped_ids == ["S000000_P0000_T00"] and report.skipped[0].reason == "missing file"


def test_csl_daily_label_file_with_foreign_objects_is_refused(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    with gzip.open(labels / "labels.train", "wb") as stream:
        label = {"name": "S1", "text": "x", "video_path": "S1.mp4", "recorded": datetime.date(2020, 1, 1)}
        pickle.dump({"S1": label}, stream)
    with pytest.raises(pickle.UnpicklingError, match="datetime"):
        csl_daily_manifest(labels)


# Malformed label files are named: the file, the line (or sample key), the id and the field.


def test_openasl_without_a_column_names_the_file_and_the_column(tmp_path):
    path = tmp_path / "openasl-v1.0.tsv"
    header = [column for column in OPENASL_HEADER if column != "end"]
    path.write_text("\t".join(header) + "\n", encoding="utf-8")
    with pytest.raises(
        LabelFileError, match=r"(?s)openasl-v1\.0\.tsv: .*line 1 \(header\) lacks the columns \['end'\]"
    ):
        openasl_manifest(path)


@pytest.mark.parametrize("column, value", [("start", "00:00:xx.000"), ("end", ""), ("end", "-1.5")])
def test_openasl_time_that_is_not_a_timestamp_names_line_vid_and_field(tmp_path, column, value):
    rows = [list(row) for row in OPENASL_ROWS]
    rows[1][OPENASL_HEADER.index(column)] = value
    tsv = write_openasl_tsv(tmp_path / "openasl-v1.0.tsv", rows)
    expected = rf"openasl-v1\.0\.tsv: .*\n  line 3: '{column}' is '{value}', not a time .*\(vid 'v2-00:00:03\.000-"
    with pytest.raises(LabelFileError, match=expected):
        openasl_manifest(tsv, "{yid}.pose")


def test_openasl_row_with_a_tab_inside_a_field_names_the_line(tmp_path):
    rows = [list(row) for row in OPENASL_ROWS]
    rows[2][4] = "Thank\tyou."
    tsv = write_openasl_tsv(tmp_path / "openasl-v1.0.tsv", rows)
    with pytest.raises(LabelFileError, match=r"line 4: 9 fields, the header has 8"):
        openasl_manifest(tsv)


def test_openasl_lists_every_malformed_line(tmp_path):
    rows = [list(row) for row in OPENASL_ROWS]
    rows[0][-1], rows[2][2] = "dev", "soon"
    tsv = write_openasl_tsv(tmp_path / "openasl-v1.0.tsv", rows)
    with pytest.raises(LabelFileError) as raised:
        openasl_manifest(tsv)
    assert [problem.split(":")[0] for problem in raised.value.problems] == ["line 2", "line 4"]


def test_openasl_label_file_that_is_not_utf8_names_the_line(tmp_path):
    tsv = write_openasl_tsv(tmp_path / "openasl-v1.0.tsv")
    tsv.write_bytes(tsv.read_bytes().replace(b"Thank you.", "Thank yöu.".encode("latin-1")))
    with pytest.raises(ValueError, match=r"openasl-v1\.0\.tsv line 4, column \d+: .*not valid utf-8.*iconv"):
        openasl_manifest(tsv)


def write_how2sign_labels(labels_dir, rows, header=HOW2SIGN_HEADER):
    labels_dir.mkdir()
    text = "\n".join("\t".join(row) for row in [header, *rows]) + "\n"
    (labels_dir / "how2sign_realigned_train.csv").write_text(text, encoding="utf-8")
    return labels_dir


def test_how2sign_without_a_column_names_the_file_and_the_column(tmp_path):
    labels = write_how2sign_labels(tmp_path / "labels", [], header=HOW2SIGN_HEADER[:-1])
    with pytest.raises(LabelFileError, match=r"(?s)how2sign_realigned_train\.csv: .*lacks the columns \['SENTENCE'\]"):
        how2sign_manifest(labels)


@pytest.mark.parametrize("start, end", [("12.5s", "15.1"), ("12.5", ""), ("-1.0", "15.1")])
def test_how2sign_bad_time_names_line_sentence_and_field(tmp_path, start, end):
    rows = [
        ["vid", "vid-1-rgb_front", "vid_0", "vid_0-1-rgb_front", "1.0", "2.0", "Hi."],
        ["vid", "vid-1-rgb_front", "vid_1", "vid_1-1-rgb_front", start, end, "Bye."],
    ]
    labels = write_how2sign_labels(tmp_path / "labels", rows)
    column = "START_REALIGNED" if start != "12.5" else "END_REALIGNED"
    expected = rf"how2sign_realigned_train\.csv: .*\n  line 3: '{column}' is .* \(SENTENCE_NAME 'vid_1-1-rgb_front'\)"
    with pytest.raises(LabelFileError, match=expected):
        how2sign_manifest(labels)


def write_csl_daily_labels(labels_dir, content, compress=True):
    labels_dir.mkdir()
    data = pickle.dumps(content)
    (labels_dir / "labels.train").write_bytes(gzip.compress(data) if compress else data)
    return labels_dir


@pytest.mark.parametrize(
    "label, message",
    [
        (["S1", "他是谁？"], r"sample 'S1': is a list, expected a dict"),
        (7, r"sample 'S1': is a int, expected a dict"),
        ({"name": "S1", "text": "x"}, r"sample 'S1': lacks \['video_path'\]"),
        ({"name": "S1", "text": [1, 2], "video_path": "S1.mp4"}, r"sample 'S1': field 'text' is \[1, 2\]"),
        ({"name": None, "text": "x", "video_path": "S1.mp4"}, r"sample 'S1': field 'name' is None"),
        ({"name": "S1", "text": "x", "video_path": "S1.mp4", "gloss": 3}, r"sample 'S1': field 'gloss' is 3"),
    ],
    ids=["list", "int", "no video_path", "text of numbers", "no name", "gloss a number"],
)
def test_csl_daily_sample_of_the_wrong_structure_names_file_key_and_field(tmp_path, label, message):
    labels = write_csl_daily_labels(tmp_path / "labels", {"S1": label})
    with pytest.raises(LabelFileError, match=r"labels\.train: malformed label file.*\n  " + message):
        csl_daily_manifest(labels)


def test_csl_daily_labels_that_are_not_a_dict_are_refused(tmp_path):
    labels = write_csl_daily_labels(tmp_path / "labels", [{"name": "S1"}])
    with pytest.raises(LabelFileError, match=r"(?s)labels\.train: .*holds a list, expected a dict of samples"):
        csl_daily_manifest(labels)


def test_csl_daily_uncompressed_label_pickle_loads(tmp_path):
    labels = write_csl_daily_labels(
        tmp_path / "labels", {"S1": {"name": "S1", "text": "你好", "video_path": "S1.mp4"}}, compress=False
    )
    assert csl_daily_manifest(labels) == [
        {"id": "S1", "path": "S1.pkl", "text": "你好", "split": "train", "gloss": ""}
    ]


def test_csl_daily_two_processes_skip_the_same_bad_clips_as_one(tmp_path):
    names = [f"S{i:06d}_P0000_T00" for i in range(4)]
    labels, poses, _ = write_csl_daily(tmp_path, {"labels.train": names})
    (poses / f"{names[1]}.pkl").write_bytes(pickle.dumps({"keypoints": [np.zeros((1, 133, 2))] * 3, "scores": None}))
    reports = {}
    for num_proc in (None, 2):
        dataset_dict, reports[num_proc] = load_csl_daily(
            labels, poses, on_error="skip", return_report=True, num_proc=num_proc, cache_dir=tmp_path / f"c{num_proc}"
        )
        assert dataset_dict["train"]["id"] == [names[0], names[2], names[3]]
    assert reports[2] == reports[None] and reports[2].skipped_ids == [names[1]]
    assert "field 'scores'" in reports[2].skipped[0].reason
