import datetime
import gzip
import json
import pickle

import numpy as np
import pytest

from signdpo_trl.data.benchmarks import (
    csl_daily_manifest,
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
