import gzip
import json
import os
import pickle

import numpy as np
import pytest
from pose_format import Pose

from signdpo_trl.data.layouts import COCO_WHOLEBODY133
from signdpo_trl.data.pose import PoseSequence
from signdpo_trl.data.readers import PoseFileError, load_pose, save_pose, save_unisign_pickle
from signdpo_trl.data.safe_pickle import UnsafePickleError, safe_load_pickle


FIXTURES = {
    "mediapipe.pose": ("holistic_reduced178", 170, 3, 24.0),
    "mediapipe_hand_normalized.pose": ("hand21", 170, 3, 24.0),
    "openpose.pose": ("openpose137", 93, 2, 24.0),
    "holistic_v02_short.pose": ("holistic586", 5, 3, 25.0),
    "sgg_kleine.pose": ("holistic_reduced178", 68, 3, 25.0),
    "sgg_kinder.pose": ("holistic_reduced178", 45, 3, 24.0),
}


def coco_sequence(num_frames=6, num_people=None, seed=0) -> PoseSequence:
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform(0, 1, size=(num_frames, 133, 2)).astype(np.float32)
    confidence = rng.uniform(0.1, 1, size=(num_frames, 133)).astype(np.float32)
    return PoseSequence(keypoints, confidence, layout="coco_wholebody133", fps=25.0)


# --- .pose files agree with pose-format --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_pose_fixture_agrees_with_pose_format(fixtures_dir, name):
    layout, frames, dims, fps = FIXTURES[name]
    path = fixtures_dir / name
    reference = Pose.read(path.read_bytes())
    data = reference.body.data[:, 0]
    mask = np.ma.getmaskarray(data).any(-1)

    sequence = load_pose(path)

    assert sequence.layout == layout
    assert sequence.keypoints.shape == (frames, sequence.skeleton.num_points, dims)
    assert sequence.num_frames == reference.body.data.shape[0]
    assert sequence.fps == fps
    assert sequence.source == str(path)
    np.testing.assert_array_equal(sequence.keypoints[~mask], np.ma.getdata(data)[~mask])
    np.testing.assert_array_equal(sequence.confidence[~mask], reference.body.confidence[:, 0][~mask])
    np.testing.assert_array_equal(sequence.confidence == 0, mask)
    np.testing.assert_array_equal(sequence.keypoints[mask], 0)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_pose_fixture_canonical_keeps_hands_point_for_point(fixtures_dir, name):
    sequence = load_pose(fixtures_dir / name)
    canonical = sequence.to_canonical()
    assert canonical.layout == "unisign69" and canonical.keypoints.shape[1:] == (69, sequence.num_dims)
    right_hand = sequence.skeleton.canonical_index[30:51]
    np.testing.assert_array_equal(canonical.keypoints[:, 30:51], sequence.keypoints[:, right_hand])
    np.testing.assert_array_equal(canonical.confidence[:, 30:51], sequence.confidence[:, right_hand])


def test_reduced_holistic_canonical_masks_nose_and_ears(fixtures_dir):
    canonical = load_pose(fixtures_dir / "mediapipe.pose").to_canonical()
    np.testing.assert_array_equal(canonical.confidence[:, [0, 1, 2, 68]], 0)
    np.testing.assert_array_equal(canonical.keypoints[:, [0, 1, 2, 68]], 0)
    assert (canonical.confidence[:, 3:9] > 0).any()


def test_pose_crop_in_seconds(fixtures_dir):
    full = load_pose(fixtures_dir / "openpose.pose")  # 24 fps
    cropped = load_pose(fixtures_dir / "openpose.pose", start=1.0, end=2.0)
    assert cropped.num_frames == 24
    np.testing.assert_array_equal(cropped.keypoints, full.keypoints[24:48])


@pytest.mark.parametrize("cut", [0.5, -7, -1])
def test_truncated_pose_raises_pose_file_error(fixtures_dir, tmp_path, cut):
    for name in ("mediapipe.pose", "openpose.pose", "holistic_v02_short.pose"):
        data = (fixtures_dir / name).read_bytes()
        path = tmp_path / name
        path.write_bytes(data[: int(len(data) * cut)] if cut == 0.5 else data[:cut])
        with pytest.raises(PoseFileError, match=str(path)):
            load_pose(path)


def test_garbage_pose_raises_pose_file_error(tmp_path):
    path = tmp_path / "noise.pose"
    path.write_bytes(b"\x00\x01")
    with pytest.raises(PoseFileError, match="noise.pose"):
        load_pose(path)


def test_declared_layout_with_wrong_point_count(fixtures_dir):
    with pytest.raises(PoseFileError, match="openpose.pose.*133 points.*137"):
        load_pose(fixtures_dir / "openpose.pose", layout="coco_wholebody133")


def test_missing_path():
    with pytest.raises(FileNotFoundError, match="no_such.pose"):
        load_pose("/nonexistent/no_such.pose")


# --- writers ---------------------------------------------------------------------------------------------------


def test_save_pose_round_trip_through_pose_format(tmp_path):
    sequence = coco_sequence()
    sequence.confidence[2, 5] = 0
    sequence.keypoints[2, 5] = 0
    path = tmp_path / "clip.pose"
    save_pose(path, sequence)

    reference = Pose.read(path.read_bytes())
    assert [(c.name, len(c.points)) for c in reference.header.components] == list(
        COCO_WHOLEBODY133.component_signature
    )
    assert reference.body.data.shape == (6, 1, 133, 2)
    assert bool(np.ma.getmaskarray(reference.body.data)[2, 0, 5].all())

    loaded = load_pose(path)
    assert loaded.skeleton is COCO_WHOLEBODY133 and loaded.fps == 25.0
    np.testing.assert_array_equal(loaded.keypoints, sequence.keypoints)
    np.testing.assert_array_equal(loaded.confidence, sequence.confidence)


def test_save_pose_round_trip_3d_fixture(fixtures_dir, tmp_path):
    original = load_pose(fixtures_dir / "sgg_kinder.pose")
    save_pose(tmp_path / "copy.pose", original)
    copy = load_pose(tmp_path / "copy.pose")
    assert copy.layout == "holistic_reduced178"
    np.testing.assert_array_equal(copy.keypoints, original.keypoints)
    np.testing.assert_array_equal(copy.confidence, original.confidence)


# --- Uni-Sign pickles ------------------------------------------------------------------------------------------


def test_unisign_pickle_round_trip(tmp_path):
    sequence = coco_sequence()
    path = tmp_path / "clip.pkl"
    save_unisign_pickle(path, sequence)

    with open(path, "rb") as handle:
        raw = pickle.load(handle)
    assert len(raw["keypoints"]) == 6 and raw["keypoints"][0].shape == (1, 133, 2)
    assert raw["scores"][0].shape == (1, 133)

    loaded = load_pose(path)
    assert loaded.skeleton is COCO_WHOLEBODY133
    np.testing.assert_array_equal(loaded.keypoints, sequence.keypoints)
    np.testing.assert_array_equal(loaded.confidence, sequence.confidence)


def test_unisign_pickle_start_end_are_frames(tmp_path):
    sequence = coco_sequence(num_frames=10)
    content = {
        "keypoints": [frame[None] for frame in sequence.keypoints],
        "scores": [frame[None] for frame in sequence.confidence],
        "start": 2,
        "end": 7,
    }
    path = tmp_path / "clip.pkl"
    path.write_bytes(pickle.dumps(content, protocol=5))
    np.testing.assert_array_equal(load_pose(path).keypoints, sequence.keypoints[2:7])
    np.testing.assert_array_equal(load_pose(path, start=0, end=3).keypoints, sequence.keypoints[0:3])


def test_unisign_pickle_protocol_2_loads(tmp_path):
    sequence = coco_sequence()
    content = {"keypoints": list(sequence.keypoints[:, None]), "scores": list(sequence.confidence[:, None])}
    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps(content, protocol=2))
    np.testing.assert_array_equal(load_pose(path).keypoints, sequence.keypoints)


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    exploit = _Exploit()
    exploit.marker = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"keypoints": [exploit], "scores": []}))

    with pytest.raises(UnsafePickleError, match=r"evil\.pkl.*(posix|os|nt)\.system"):
        load_pose(path)
    with pytest.raises(UnsafePickleError):
        safe_load_pickle(path)
    assert not exploit.marker.exists()


def test_gzip_pickle_is_detected(tmp_path):
    labels = {"S000001_P0000_T00": {"name": "S000001_P0000_T00", "text": "你好", "length": np.int64(120)}}
    path = tmp_path / "labels.train"
    path.write_bytes(gzip.compress(pickle.dumps(labels)))
    assert safe_load_pickle(path) == labels
    with open(path, "rb") as handle:
        assert safe_load_pickle(handle) == labels


def test_corrupt_pickle_raises_pose_file_error(tmp_path):
    path = tmp_path / "broken.pkl"
    path.write_bytes(pickle.dumps({"keypoints": [], "scores": []})[:-3])
    with pytest.raises(PoseFileError, match="broken.pkl"):
        load_pose(path)


# --- OpenPose JSON folders -------------------------------------------------------------------------------------


def openpose_person(rng, confidence=0.9):
    def part(size):
        values = np.concatenate([rng.uniform(0, 500, size=(size, 2)), np.full((size, 1), confidence)], axis=1)
        return values.round(3).ravel().tolist()

    return {
        "person_id": [-1],
        "pose_keypoints_2d": part(25),
        "face_keypoints_2d": part(70),
        "hand_left_keypoints_2d": part(21),
        "hand_right_keypoints_2d": part(21),
    }


def write_openpose_folder(folder, frames):
    folder.mkdir()
    for number, people in frames:
        name = f"clip_{number:012d}_keypoints.json"
        (folder / name).write_text(json.dumps({"version": 1.3, "people": people}))


def test_openpose_json_folder(tmp_path):
    rng = np.random.default_rng(0)
    people = [[openpose_person(rng)] for _ in range(3)]
    # Written out of order and numbered past 9 so that a lexicographic sort would be wrong.
    write_openpose_folder(tmp_path / "clip", [(10, people[2]), (2, people[0]), (9, people[1]), (11, [])])
    sequence = load_pose(tmp_path / "clip", fps=24)

    assert sequence.layout == "openpose137" and sequence.keypoints.shape == (4, 137, 2)
    for t in range(3):
        body = np.asarray(people[t][0]["pose_keypoints_2d"], dtype=np.float32).reshape(25, 3)
        np.testing.assert_array_equal(sequence.keypoints[t, :25], body[:, :2])
        right = np.asarray(people[t][0]["hand_right_keypoints_2d"], dtype=np.float32).reshape(21, 3)
        np.testing.assert_array_equal(sequence.keypoints[t, 116:], right[:, :2])
    np.testing.assert_array_equal(sequence.confidence[3], 0)  # the frame with nobody
    assert sequence.fps == 24


def test_openpose_most_confident_person(tmp_path):
    rng = np.random.default_rng(1)
    frames = [(t, [openpose_person(rng, 0.2), openpose_person(rng, 0.8)]) for t in range(3)]
    write_openpose_folder(tmp_path / "two", frames)
    first = load_pose(tmp_path / "two")
    best = load_pose(tmp_path / "two", person="most_confident")
    second = load_pose(tmp_path / "two", person=1)
    np.testing.assert_allclose(first.confidence, 0.2)
    np.testing.assert_array_equal(best.keypoints, second.keypoints)
    with pytest.raises(ValueError, match="person 2"):
        load_pose(tmp_path / "two", person=2)


def test_openpose_empty_folder_has_zero_frames(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="zero frames"):
        load_pose(tmp_path / "empty")


# --- numpy ---------------------------------------------------------------------------------------------------


def test_npy_with_confidence_as_last_channel(tmp_path):
    sequence = coco_sequence()
    path = tmp_path / "clip.npy"
    np.save(path, np.concatenate([sequence.keypoints, sequence.confidence[..., None]], axis=-1))
    loaded = load_pose(path, layout="coco_wholebody133")
    np.testing.assert_array_equal(loaded.keypoints, sequence.keypoints)
    np.testing.assert_array_equal(loaded.confidence, sequence.confidence)
    assert loaded.fps is None


def test_npy_requires_layout(tmp_path):
    path = tmp_path / "clip.npy"
    np.save(path, np.zeros((3, 133, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="layout="):
        load_pose(path)


def test_npy_wrong_joint_count(tmp_path):
    path = tmp_path / "clip.npy"
    np.save(path, np.ones((3, 130, 3), dtype=np.float32))
    with pytest.raises(PoseFileError, match="clip.npy.*133 points.*130"):
        load_pose(path, layout="coco_wholebody133")


def test_npz_with_separate_confidence_fps_and_layout(tmp_path):
    sequence = coco_sequence()
    path = tmp_path / "clip.npz"
    arrays = {"keypoints": sequence.keypoints, "confidence": sequence.confidence, "fps": np.float32(30)}
    np.savez(path, **arrays, layout="coco_wholebody133")
    loaded = load_pose(path)
    assert loaded.skeleton is COCO_WHOLEBODY133 and loaded.fps == 30.0
    np.testing.assert_array_equal(loaded.keypoints, sequence.keypoints)
    assert load_pose(path, start=0.0, end=0.1).num_frames == 3


def test_npz_multi_person_choice(tmp_path):
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(size=(4, 3, 21, 2)).astype(np.float32)
    confidence = np.stack([np.full((4, 21), c) for c in (0.3, 0.9, 0.5)], axis=1).astype(np.float32)
    path = tmp_path / "people.npz"
    np.savez(path, keypoints=keypoints, confidence=confidence, layout="hand21")
    np.testing.assert_array_equal(load_pose(path).keypoints, keypoints[:, 0])
    np.testing.assert_array_equal(load_pose(path, person="most_confident").keypoints, keypoints[:, 1])


def test_nan_keypoints_raise_naming_the_file(tmp_path):
    sequence = coco_sequence()
    keypoints = sequence.keypoints.copy()
    keypoints[3, 17, 0] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, keypoints=keypoints, confidence=sequence.confidence, layout="coco_wholebody133")
    with pytest.raises(ValueError, match=r"nan\.npz.*frame 3, joint 17"):
        load_pose(path)


def test_nan_under_zero_confidence_is_an_absent_point(tmp_path):
    sequence = coco_sequence()
    keypoints, confidence = sequence.keypoints.copy(), sequence.confidence.copy()
    keypoints[3, 17] = np.nan
    confidence[3, 17] = 0
    path = tmp_path / "absent.npz"
    np.savez(path, keypoints=keypoints, confidence=confidence, layout="coco_wholebody133")
    np.testing.assert_array_equal(load_pose(path).keypoints[3, 17], 0)


def test_zero_frames_raise(tmp_path):
    path = tmp_path / "empty.npz"
    np.savez(path, keypoints=np.zeros((0, 21, 2)), confidence=np.zeros((0, 21)), layout="hand21")
    with pytest.raises(ValueError, match="empty.npz.*zero frames"):
        load_pose(path)


def test_crop_past_the_end_is_zero_frames(fixtures_dir):
    with pytest.raises(ValueError, match="zero frames"):
        load_pose(fixtures_dir / "holistic_v02_short.pose", start=10.0)


# --- PoseSequence ----------------------------------------------------------------------------------------------


def test_pose_sequence_validates_shapes():
    with pytest.raises(ValueError, match="confidence has shape"):
        PoseSequence(np.zeros((3, 21, 2)), np.zeros((3, 20)), layout="hand21")
    with pytest.raises(ValueError, match="21 points"):
        PoseSequence(np.zeros((3, 20, 2)), np.zeros((3, 20)), layout="hand21")


def test_pose_sequence_nan_names_source():
    keypoints = np.zeros((3, 21, 2))
    keypoints[1, 4, 1] = np.inf
    with pytest.raises(ValueError, match=r"clip-7: keypoints .* frame 1, joint 4 \(RIGHT_HAND_LANDMARKS/THUMB_TIP\)"):
        PoseSequence(keypoints, np.ones((3, 21)), layout="hand21", source="clip-7")


def test_select_frames():
    sequence = coco_sequence(num_frames=8)
    selected = sequence.select_frames([0, 3, 7])
    assert selected.num_frames == 3 and selected.fps == sequence.fps
    np.testing.assert_array_equal(selected.keypoints, sequence.keypoints[[0, 3, 7]])
    np.testing.assert_array_equal(sequence.select_frames(slice(2, 4)).confidence, sequence.confidence[2:4])


# --- what real detectors write loads; every bad input is named ------------------------------------------------


def write_pose_with_confidence(fixture, path, frame, point, value):
    """A copy of a real recording with one confidence replaced, written by pose-format."""
    pose = Pose.read(fixture.read_bytes())
    pose.body.confidence[frame, 0, point] = value
    with open(path, "wb") as handle:
        pose.write(handle)
    return path


def test_tiny_negative_mediapipe_visibility_is_read_as_absent(fixtures_dir, tmp_path):
    original = load_pose(fixtures_dir / "mediapipe.pose")
    assert original.confidence[10, 3] > 0
    path = write_pose_with_confidence(fixtures_dir / "mediapipe.pose", tmp_path / "visibility.pose", 10, 3, -2.6e-5)

    sequence = load_pose(path)

    assert sequence.confidence[10, 3] == 0 and (sequence.keypoints[10, 3] == 0).all()
    sequence.confidence[10, 3] = original.confidence[10, 3]
    np.testing.assert_array_equal(sequence.confidence, original.confidence)


def test_negative_confidence_below_the_tolerance_names_value_frame_and_point(fixtures_dir, tmp_path):
    path = write_pose_with_confidence(fixtures_dir / "mediapipe.pose", tmp_path / "broken.pose", 10, 3, -0.25)
    with pytest.raises(PoseFileError, match=r"broken\.pose: confidence -0\.25 at frame 10, person 0, point 3 \(POSE"):
        load_pose(path)


def test_openpose_confidences_above_one_are_kept(fixtures_dir):
    reference = Pose.read((fixtures_dir / "openpose.pose").read_bytes()).body.confidence[:, 0]
    sequence = load_pose(fixtures_dir / "openpose.pose")
    # Four face points (frames 3, 36, 64, 65) are stored above 1.
    np.testing.assert_array_equal(np.argwhere(sequence.confidence > 1), [[3, 69], [36, 57], [64, 57], [65, 57]])
    assert sequence.confidence.max() == reference.max() == np.float32(1.00611)


def write_pickle(path, **content):
    path.write_bytes(pickle.dumps(content))
    return path


def coco_content(num_frames=10):
    sequence = coco_sequence(num_frames=num_frames)
    return {"keypoints": list(sequence.keypoints[:, None]), "scores": list(sequence.confidence[:, None])}


def test_pickle_without_scores_names_the_field(tmp_path):
    path = write_pickle(tmp_path / "clip.pkl", keypoints=coco_content()["keypoints"], scores=None)
    with pytest.raises(PoseFileError, match=r"clip\.pkl: field 'scores' must be a sequence .*found NoneType"):
        load_pose(path)


def test_pickle_with_non_numeric_fps_names_the_field(tmp_path):
    path = write_pickle(tmp_path / "clip.pkl", **coco_content(), fps="twenty-five")
    with pytest.raises(PoseFileError, match=r"clip\.pkl: field 'fps': ValueError: .*'twenty-five'") as raised:
        load_pose(path)
    assert isinstance(raised.value.__cause__, ValueError)


def test_pickle_with_points_that_are_not_numbers_names_the_field(tmp_path):
    content = coco_content()
    content["keypoints"][4] = [["x", "y"]] * 133
    path = write_pickle(tmp_path / "clip.pkl", **content)
    with pytest.raises(PoseFileError, match=r"clip\.pkl: field 'keypoints': ValueError"):
        load_pose(path)


def test_npz_naming_an_unknown_layout_names_the_field_and_the_known_layouts(tmp_path):
    path = tmp_path / "clip.npz"
    np.savez(path, keypoints=np.ones((3, 21, 2)), confidence=np.ones((3, 21)), layout="mmpose_hand")
    with pytest.raises(PoseFileError, match=r"clip\.npz: field 'layout' names 'mmpose_hand'.*hand21"):
        load_pose(path)


@pytest.mark.parametrize(
    "crop, message",
    [
        ({"start": -3}, r"start=-3, end=None \(frames\) is negative; the clip has 10 frames"),
        ({"end": -1}, r"start=None, end=-1 \(frames\) is negative; the clip has 10 frames"),
        ({"start": 7, "end": 3}, r"start=7, end=3 \(frames\) ends before it starts .*the clip has 10 frames"),
    ],
    ids=["negative start", "negative end", "reversed"],
)
def test_negative_or_reversed_pickle_crop_is_refused_with_values_and_length(tmp_path, crop, message):
    path = write_pickle(tmp_path / "clip.pkl", **coco_content(num_frames=10))
    with pytest.raises(PoseFileError, match=r"clip\.pkl: crop " + message):
        load_pose(path, **crop)


def test_negative_crop_stored_in_the_pickle_is_refused(tmp_path):
    path = write_pickle(tmp_path / "clip.pkl", **coco_content(num_frames=10), start=-4, end=None)
    with pytest.raises(PoseFileError, match=r"start=-4\.0, end=None \(frames\) is negative"):
        load_pose(path)


def test_negative_crop_in_seconds_is_refused_with_the_clip_length(fixtures_dir):
    with pytest.raises(PoseFileError, match=r"start=-0\.5, end=1\.0 \(seconds\) is negative; the clip has 93 frames "):
        load_pose(fixtures_dir / "openpose.pose", start=-0.5, end=1.0)
    with pytest.raises(PoseFileError, match=r"start=2\.0, end=1\.0 \(seconds\) ends before it starts"):
        load_pose(fixtures_dir / "openpose.pose", start=2.0, end=1.0)


def test_openpose_folder_with_nobody_in_any_frame_is_refused(tmp_path):
    write_openpose_folder(tmp_path / "nobody", [(t, []) for t in range(5)])
    with pytest.raises(PoseFileError, match=r"nobody: nothing was detected: .*confidence 0 in all 5 frames"):
        load_pose(tmp_path / "nobody")


def test_unexpected_reader_exception_becomes_a_pose_file_error_with_its_cause(fixtures_dir, tmp_path, monkeypatch):
    import struct

    import signdpo_trl.data.readers as readers

    def failing_reader(path, declared):
        raise struct.error("unpack requires a buffer of 6 bytes")

    monkeypatch.setattr(readers, "_read_pose_format", failing_reader)
    with pytest.raises(PoseFileError, match=r"mediapipe\.pose: struct\.error: unpack requires") as raised:
        load_pose(fixtures_dir / "mediapipe.pose")
    assert isinstance(raised.value.__cause__, struct.error)
