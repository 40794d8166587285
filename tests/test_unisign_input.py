"""The model's input is Uni-Sign's: `PoseCollator(normalization="unisign")` checked against Uni-Sign's own code.

The oracle is Uni-Sign's `load_part_kp` and `crop_scale` (github.com/ZechengLi19/Uni-Sign, `datasets.py`), rewritten
line by line in numpy and fed what Uni-Sign's pickles hold: a list over frames of `(1, 133, 2)` COCO-WholeBody
keypoints and `(1, 133)` scores. It keeps the original's statements and their order (python `min`/`max`, the list
offsets, `np.clip` over the whole `(x, y, score)` array) so that it can be read against the original; the body's
`force_ok` branches, which run the same code, are folded into one.
"""

import copy
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tiny import pose_dataset, pose_rows, tiny_model, tiny_tokenizer

from signdpo_trl.data import load_pose
from signdpo_trl.data.canonical import CANONICAL_FROM_COCO_WHOLEBODY, CANONICAL_PARTS, NUM_CANONICAL_JOINTS
from signdpo_trl.data.collation import POSE_NORMALIZATIONS, pose_normalization_of
from signdpo_trl.data.normalize import normalize_parts, sample_frames
from signdpo_trl.data.pose import PoseSequence
from signdpo_trl.models import SignTranslationConfig, SignTranslationModel, configuration_sign_translation
from signdpo_trl.trainer import (
    PoseBatch,
    PoseCollator,
    SignDPOConfig,
    SignDPOTrainer,
    SignPreferenceCollator,
    SignSFTConfig,
    SignSFTTrainer,
    SignTranslationCollator,
    build_preference_hooks,
)


FIXTURES = ("openpose", "mediapipe", "mediapipe_hand_normalized", "holistic_v02_short", "sgg_kinder", "sgg_kleine")
ANCHORED_PARTS = ("left_hand", "right_hand", "face")
LEFT_HAND, FACE = CANONICAL_PARTS["left_hand"], CANONICAL_PARTS["face"]


# The oracle: Uni-Sign's datasets.py.


def crop_scale(motion, thr):
    result = copy.deepcopy(motion)
    valid_coords = motion[motion[..., 2] > thr][:, :2]
    if len(valid_coords) < 4:
        return np.zeros(motion.shape), 0, None
    xmin = min(valid_coords[:, 0])
    xmax = max(valid_coords[:, 0])
    ymin = min(valid_coords[:, 1])
    ymax = max(valid_coords[:, 1])
    ratio = 1
    scale = max(xmax - xmin, ymax - ymin) * ratio
    if scale == 0:
        return np.zeros(motion.shape), 0, None
    xs = (xmin + xmax - scale) / 2
    ys = (ymin + ymax - scale) / 2
    result[..., :2] = (motion[..., :2] - [xs, ys]) / scale
    result[..., :2] = (result[..., :2] - 0.5) * 2
    result = np.clip(result, -1, 1)
    # mask useless kp
    result[result[..., 2] <= thr] = 0
    return result, scale, [xs, ys]


def load_part_kp(skeletons, confs):
    thr = 0.3
    kps_with_scores = {}
    scale = None

    for part in ["body", "left", "right", "face_all"]:
        kps = []
        confidences = []

        for skeleton, conf in zip(skeletons, confs):
            skeleton = skeleton[0]
            conf = conf[0]

            if part == "body":
                hand_kp2d = skeleton[[0] + [i for i in range(3, 11)], :]
                confidence = conf[[0] + [i for i in range(3, 11)]]
            elif part == "left":
                hand_kp2d = skeleton[91:112, :]
                hand_kp2d = hand_kp2d - hand_kp2d[0, :]
                confidence = conf[91:112]
            elif part == "right":
                hand_kp2d = skeleton[112:133, :]
                hand_kp2d = hand_kp2d - hand_kp2d[0, :]
                confidence = conf[112:133]
            elif part == "face_all":
                face = [i for i in list(range(23, 23 + 17))[::2]] + [i for i in range(83, 83 + 8)] + [53]
                hand_kp2d = skeleton[face, :]
                hand_kp2d = hand_kp2d - hand_kp2d[-1, :]
                confidence = conf[face]
            else:
                raise NotImplementedError

            kps.append(hand_kp2d)
            confidences.append(confidence)

        kps = np.stack(kps, axis=0)
        confidences = np.stack(confidences, axis=0)

        if part == "body":
            result, scale, _ = crop_scale(np.concatenate([kps, confidences[..., None]], axis=-1), thr)
        else:
            assert scale is not None
            result = np.concatenate([kps, confidences[..., None]], axis=-1)
            if scale == 0:
                result = np.zeros(result.shape)
            else:
                result[..., :2] = (result[..., :2]) / scale
                result = np.clip(result, -1, 1)
                # mask useless kp
                result[result[..., 2] <= thr] = 0

        kps_with_scores[part] = torch.tensor(result)

    return kps_with_scores


def uni_sign_input(skeletons, confs) -> torch.Tensor:
    """What Uni-Sign's pose encoder reads, its four parts in the canonical joint order: T x 69 x (x, y, score)."""
    parts = load_part_kp(skeletons, confs)
    return torch.cat([parts[name] for name in ("body", "left", "right", "face_all")], dim=1).float()


# Clips.


def coco_wholebody_clip(name: str, fixtures_dir) -> tuple[np.ndarray, np.ndarray]:
    """A real fixture as the COCO-WholeBody-133 clip a Uni-Sign pickle would hold (x, y; points the source has no
    counterpart for get score 0)."""
    canonical = load_pose(fixtures_dir / f"{name}.pose").to_canonical()
    skeletons = np.zeros((canonical.num_frames, 133, 2), dtype=np.float32)
    scores = np.zeros((canonical.num_frames, 133), dtype=np.float32)
    skeletons[:, list(CANONICAL_FROM_COCO_WHOLEBODY)] = canonical.keypoints[..., :2]
    scores[:, list(CANONICAL_FROM_COCO_WHOLEBODY)] = canonical.confidence
    return skeletons, scores


def as_row(skeletons: np.ndarray, scores: np.ndarray) -> dict:
    """The dataset row of a COCO-WholeBody clip, through the library's own layout mapping."""
    sequence = PoseSequence(skeletons, scores, layout="coco_wholebody133").to_canonical()
    return {"id": "clip", "keypoints": sequence.keypoints, "confidence": sequence.confidence, "text": "a"}


def absent_anchor(scores: np.ndarray) -> torch.Tensor:
    """T x 69: True on the points of a part whose anchor the detector did not report on that frame (score 0)."""
    absent = torch.zeros(len(scores), NUM_CANONICAL_JOINTS, dtype=torch.bool)
    for name in ANCHORED_PARTS:
        part = CANONICAL_PARTS[name]
        anchor = CANONICAL_FROM_COCO_WHOLEBODY[part.offset + part.anchor]
        absent[:, part.offset : part.offset + part.size] = torch.from_numpy(scores[:, anchor] == 0)[:, None]
    return absent


def low_confidence_anchor_frames(scores: np.ndarray) -> int:
    """Part-frames whose anchor has a low but non-zero score while the part has confident points: where the two
    conventions disagree."""
    count = 0
    for name in ANCHORED_PARTS:
        part = CANONICAL_PARTS[name]
        coco = list(CANONICAL_FROM_COCO_WHOLEBODY[part.offset : part.offset + part.size])
        anchor = scores[:, coco[part.anchor]]
        count += int((((anchor > 0) & (anchor <= 0.3)) & (scores[:, coco] > 0.3).any(1)).sum())
    return count


def assert_matches_uni_sign(pose: torch.Tensor, skeletons: np.ndarray, scores: np.ndarray) -> None:
    """`pose` (T x 69 x 3) is Uni-Sign's input for this clip, except on parts whose anchor is absent."""
    expected = uni_sign_input(list(skeletons[:, None]), list(scores[:, None]))
    compared = ~absent_anchor(scores)
    torch.testing.assert_close(pose[compared], expected[compared], rtol=0, atol=0)


# "unisign" is Uni-Sign's load_part_kp.


@pytest.mark.parametrize("name", FIXTURES)
def test_unisign_input_is_uni_signs_load_part_kp_on_a_real_clip(name, fixtures_dir):
    skeletons, scores = coco_wholebody_clip(name, fixtures_dir)
    pose = PoseCollator(normalization="unisign", max_frames=len(scores))([as_row(skeletons, scores)])["pose"][0]
    assert_matches_uni_sign(pose, skeletons, scores)


def test_the_openpose_clip_has_low_confidence_wrists_that_the_masked_input_reads_otherwise(fixtures_dir):
    skeletons, scores = coco_wholebody_clip("openpose", fixtures_dir)
    assert low_confidence_anchor_frames(scores) == 40
    row = as_row(skeletons, scores)
    masked = PoseCollator(normalization="masked", max_frames=len(scores))([row])["pose"][0]
    expected = uni_sign_input(list(skeletons[:, None]), list(scores[:, None]))
    compared = ~absent_anchor(scores)
    assert not torch.allclose(masked[..., :2][compared], expected[..., :2][compared], atol=1e-3)


@pytest.mark.parametrize(
    ("change", "low_confidence_anchors"),
    [("nose_tip_low_every_third_frame", 71), ("left_wrist_low_every_fourth_frame", 48), ("scores_above_one", 27)],
)
def test_unisign_input_is_uni_signs_with_low_confidence_anchors_and_large_scores(
    change, low_confidence_anchors, fixtures_dir
):
    skeletons, scores = coco_wholebody_clip("openpose", fixtures_dir)
    if change == "nose_tip_low_every_third_frame":
        scores[::3, 53] = 0.2
    elif change == "left_wrist_low_every_fourth_frame":
        scores[::4, 91] = np.where(scores[::4, 91] > 0, 0.1, 0)
    else:
        # Uni-Sign clips the score channel with the coordinates, so these enter as 1.
        scores = scores * 1.6
        assert (scores > 1).sum() > 3000
    assert low_confidence_anchor_frames(scores) == low_confidence_anchors
    pose = PoseCollator(normalization="unisign", max_frames=len(scores))([as_row(skeletons, scores)])["pose"][0]
    assert_matches_uni_sign(pose, skeletons, scores)
    assert pose[..., -1].max() <= 1


def test_unisign_input_of_a_padded_batch_of_sampled_clips_is_uni_signs_on_the_sampled_frames(fixtures_dir):
    clips = [coco_wholebody_clip(name, fixtures_dir) for name in ("openpose", "sgg_kleine", "holistic_v02_short")]
    collator = PoseCollator(normalization="unisign", max_frames=32)
    inputs = collator([as_row(skeletons, scores) for skeletons, scores in clips])
    for index, (skeletons, scores) in enumerate(clips):
        # Uni-Sign samples the frames first (`load_pose`), then normalises the sampled clip.
        frames = sample_frames(len(scores), 32)
        length = len(frames)
        assert inputs["pose_mask"][index].sum() == length
        assert_matches_uni_sign(inputs["pose"][index, :length], skeletons[frames], scores[frames])
        assert not inputs["pose"][index, length:].any()


def test_depth_changes_neither_the_coordinates_nor_the_confidence_uni_sign_reads(fixtures_dir):
    canonical = load_pose(fixtures_dir / "mediapipe.pose").to_canonical()
    assert canonical.num_dims == 3
    row = {"keypoints": canonical.keypoints, "confidence": canonical.confidence}
    flat = {"keypoints": canonical.keypoints[..., :2], "confidence": canonical.confidence}
    collator = PoseCollator(normalization="unisign", max_frames=canonical.num_frames)
    with_depth, without = collator([row])["pose"], collator([flat])["pose"]
    assert torch.equal(with_depth[..., :2], without[..., :2])
    assert torch.equal(with_depth[..., -1], without[..., -1])


def body_scale(keypoints: np.ndarray, confidence: np.ndarray) -> np.float32:
    """The larger side of the box around the clip's confident body points: Uni-Sign's `scale`."""
    body = slice(CANONICAL_PARTS["body"].offset, CANONICAL_PARTS["body"].offset + CANONICAL_PARTS["body"].size)
    points = keypoints[:, body][confidence[:, body] > 0.3]
    return max(points.max(0) - points.min(0))


def test_an_absent_anchor_centres_its_part_on_its_confident_points(fixtures_dir):
    # Reduced MediaPipe Holistic has no nose tip (score 0 on every frame): Uni-Sign never meets this, since RTMPose
    # returns every point, and subtracting a point that is not there would place the face at its image position.
    canonical = load_pose(fixtures_dir / "mediapipe.pose").to_canonical()
    keypoints, confidence = canonical.keypoints[..., :2], canonical.confidence
    assert (confidence[:, FACE.offset + FACE.anchor] == 0).all()
    pose = PoseCollator(normalization="unisign", max_frames=len(confidence))(
        [{"keypoints": keypoints, "confidence": confidence}]
    )["pose"][0]
    face = slice(FACE.offset, FACE.offset + FACE.size)
    confident = torch.from_numpy(confidence[:, face] > 0.3)
    assert confident.any(1).all()
    points = torch.from_numpy(keypoints[:, face])
    centroid = (points * confident[..., None]).sum(1, keepdim=True) / confident.sum(1)[:, None, None]
    expected = (points - centroid) / body_scale(keypoints, confidence)
    expected = torch.where(confident[..., None], expected.clamp(-1, 1), 0)
    torch.testing.assert_close(pose[:, face, :2], expected, rtol=0, atol=1e-6)


def test_a_low_confidence_wrist_is_subtracted_as_stored_by_unisign_and_replaced_by_a_centroid_when_masked():
    """Hand-computed. Every hand point sits on the wrist (150, 150) but the index base, 20 px right and 10 px up; the
    body box is 200 px, so that point is (0.1, -0.05) from the wrist. With the wrist at confidence 0.2, "masked" drops
    it and centres the hand on its 20 confident points, at (151, 149.5): (0.095, -0.0475)."""
    body = [[200, 200], [190, 100], [210, 100], [100, 250], [300, 250], [120, 300], [280, 300], [150, 150], [250, 150]]
    frame = np.zeros((NUM_CANONICAL_JOINTS, 2), dtype=np.float32)
    frame[: len(body)] = body
    frame[LEFT_HAND.offset : LEFT_HAND.offset + LEFT_HAND.size] = [150, 150]
    frame[LEFT_HAND.offset + 1] = [170, 140]
    frame[30:51] = [250, 150]
    frame[FACE.offset : FACE.offset + FACE.size] = [200, 200]
    confidence = np.full((1, NUM_CANONICAL_JOINTS), 0.9, dtype=np.float32)
    confidence[0, LEFT_HAND.offset] = 0.2
    row = {"keypoints": frame[None], "confidence": confidence}
    unisign = PoseCollator(normalization="unisign")([row])["pose"][0, 0]
    masked = PoseCollator(normalization="masked")([row])["pose"][0, 0]
    torch.testing.assert_close(unisign[LEFT_HAND.offset + 1], torch.tensor([0.1, -0.05, 0.9]))
    torch.testing.assert_close(masked[LEFT_HAND.offset + 1], torch.tensor([0.095, -0.0475, 1.0]))
    assert unisign[LEFT_HAND.offset].tolist() == [0.0, 0.0, 0.0] == masked[LEFT_HAND.offset].tolist()


# "masked" is the input of the checkpoints trained before the option existed, unchanged.


def previous_input(rows, max_frames: int = 256, confidence_threshold: float = 0.3) -> torch.Tensor:
    """`PoseCollator.pad` then `.encode` as they read before `normalization` existed (uniform frame sampling)."""
    clips = []
    for example in rows:
        keypoints = np.asarray(example["keypoints"], dtype=np.float32)
        confidence = np.asarray(example["confidence"], dtype=np.float32)
        frames = sample_frames(keypoints.shape[0], max_frames)
        clips.append((keypoints[frames], confidence[frames]))
    lengths = torch.tensor([len(k) for k, _ in clips], dtype=torch.long)
    keypoints = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(k) for k, _ in clips], batch_first=True)
    confidence = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(c) for _, c in clips], batch_first=True)
    mask = confidence > confidence_threshold
    keypoints = keypoints * mask[..., None]
    frame_mask = torch.arange(keypoints.shape[1])[None, :] < lengths[:, None]
    visibility = (mask & frame_mask[..., None]).to(keypoints.dtype)
    coordinates, visibility = normalize_parts(keypoints, visibility, frame_mask, threshold=0.5)
    return torch.cat([coordinates, visibility[..., None]], dim=-1)


def test_masked_input_is_the_previous_input_bit_for_bit(fixtures_dir):
    rows = []
    for name in FIXTURES:
        canonical = load_pose(fixtures_dir / f"{name}.pose").to_canonical()
        rows.append({"keypoints": canonical.keypoints[..., :2], "confidence": canonical.confidence})
    rows += pose_rows(3)
    for batch in ([row] for row in rows), [rows]:
        for group in batch:
            pose = PoseCollator(normalization="masked", max_frames=40)(group)["pose"]
            assert torch.equal(pose, previous_input(group, max_frames=40))


def test_masked_batches_carry_no_confidences_so_operators_run_as_before():
    args = SignDPOConfig(output_dir="unused")
    collator = SignPreferenceCollator(
        tokenizer=tiny_tokenizer(), hooks=build_preference_hooks(args), normalization="masked"
    )
    inputs = collator(pose_rows(3))
    assert "source_confidence" not in inputs
    assert set(inputs["pose"][..., -1].unique().tolist()) == {0.0, 1.0}
    for level in ("spatial_global", "spatial_local", "temporal_global", "temporal_local"):
        assert set(inputs[f"rejected_pose_{level}"][..., -1].unique().tolist()) <= {0.0, 1.0}


# Rejected poses are built in the same convention.


def test_unisign_rejected_pose_carries_the_confidences_with_the_points_it_moves():
    args = SignDPOConfig(
        output_dir="unused", levels=["temporal_global"], temporal_global_operators=["sequence_reversal"]
    )
    collator = SignPreferenceCollator(tokenizer=tiny_tokenizer(), hooks=build_preference_hooks(args))
    rows = pose_rows(3)
    inputs = collator(rows)
    chosen, rejected = inputs["pose"], inputs["rejected_pose_temporal_global"]
    for index, row in enumerate(rows):
        length = len(row["keypoints"])
        # Reversing a clip reverses its Uni-Sign input: the body box is the clip's and everything else is per frame.
        assert torch.equal(rejected[index, :length], chosen[index, :length].flip(0))
    assert not set(chosen[..., -1].unique().tolist()) <= {0.0, 1.0}


def test_unisign_preference_batch_gives_the_in_step_hooks_the_source_confidences():
    args = SignDPOConfig(output_dir="unused")
    collator = SignPreferenceCollator(tokenizer=tiny_tokenizer(), hooks=build_preference_hooks(args))
    rows = pose_rows(3)
    inputs = collator(rows)
    assert torch.equal(inputs["source_confidence"], collator.pad(rows).confidence)


def test_unisign_encode_refuses_a_batch_without_confidences():
    collator = PoseCollator(normalization="unisign")
    batch = collator.pad(pose_rows(2))
    with pytest.raises(ValueError, match="pass on `confidence`"):
        collator.encode(PoseBatch(batch.keypoints, batch.mask, batch.lengths))


# The convention lives in the model's configuration.


def test_a_new_configuration_is_unisign_and_saving_keeps_either_convention(tmp_path):
    assert SignTranslationConfig().pose_normalization == "unisign"
    for convention in POSE_NORMALIZATIONS:
        directory = tmp_path / convention
        SignTranslationConfig(pose_normalization=convention).save_pretrained(directory)
        assert json.loads((directory / "config.json").read_text())["pose_normalization"] == convention
        assert SignTranslationConfig.from_pretrained(directory).pose_normalization == convention


def test_a_config_json_written_before_the_field_existed_loads_as_masked(tmp_path):
    SignTranslationConfig().save_pretrained(tmp_path)
    path = tmp_path / "config.json"
    saved = json.loads(path.read_text())
    del saved["pose_normalization"]
    path.write_text(json.dumps(saved))
    assert SignTranslationConfig.from_pretrained(tmp_path).pose_normalization == "masked"
    assert SignTranslationConfig.from_json_file(path).pose_normalization == "masked"


def test_an_unknown_convention_is_refused_naming_the_allowed_ones():
    with pytest.raises(ValueError, match="'unisign', 'masked'.*'visibility'"):
        SignTranslationConfig(pose_normalization="visibility")


def test_the_configuration_lists_the_conventions_the_collator_builds():
    assert configuration_sign_translation.POSE_NORMALIZATIONS == POSE_NORMALIZATIONS
    assert configuration_sign_translation.LEGACY_POSE_NORMALIZATION == "masked"


def test_collator_for_a_model_reads_its_convention(tmp_path):
    model = tiny_model(pose_normalization="masked")
    model.save_pretrained(tmp_path)
    reloaded = SignTranslationModel.from_pretrained(tmp_path)
    assert PoseCollator.for_model(reloaded, max_frames=8).normalization == "masked"
    assert SignTranslationCollator.for_model(tiny_model(), tokenizer=tiny_tokenizer()).normalization == "unisign"
    # A configuration class from before the field (an old checkpoint's own file, loaded with trust_remote_code).
    assert pose_normalization_of(SimpleNamespace(config=SimpleNamespace())) == "masked"
    with pytest.raises(TypeError, match="no `config`"):
        PoseCollator.for_model(torch.nn.Linear(1, 1))


def sft_args(tmp_path) -> SignSFTConfig:
    return SignSFTConfig(output_dir=str(tmp_path), report_to=[], use_cpu=True, save_strategy="no")


def dpo_args(tmp_path) -> SignDPOConfig:
    return SignDPOConfig(output_dir=str(tmp_path), report_to=[], use_cpu=True, save_strategy="no")


@pytest.mark.parametrize("convention", POSE_NORMALIZATIONS)
def test_the_trainers_collators_follow_the_models_convention(convention, tmp_path):
    model = tiny_model(pose_normalization=convention)
    sft = SignSFTTrainer(model, args=sft_args(tmp_path), processing_class=tiny_tokenizer())
    assert sft.data_collator.normalization == sft.eval_data_collator.normalization == convention
    dpo = SignDPOTrainer(
        model, args=dpo_args(tmp_path), train_dataset=pose_dataset(2), processing_class=tiny_tokenizer()
    )
    assert dpo.data_collator.normalization == convention


def test_the_trainers_refuse_a_collator_or_reference_of_another_convention(tmp_path):
    model = tiny_model(pose_normalization="masked")
    with pytest.raises(ValueError, match="trained on 'masked'"):
        SignSFTTrainer(
            model,
            args=sft_args(tmp_path),
            data_collator=SignTranslationCollator(tokenizer=tiny_tokenizer()),
            processing_class=tiny_tokenizer(),
        )
    with pytest.raises(ValueError, match="same input convention"):
        SignDPOTrainer(
            model,
            ref_model=tiny_model(),
            args=dpo_args(tmp_path),
            train_dataset=pose_dataset(2),
            processing_class=tiny_tokenizer(),
        )


# The pose encoder reads a graded confidence as a feature.


def test_the_pose_encoder_does_not_scale_coordinates_by_their_confidence():
    encoder = tiny_model().pose_encoder
    joints = torch.randn(1, 2, 21, 3)
    joints[..., -1] = 0.4
    graded = encoder._normalized_input("left_hand", joints)
    joints[..., -1] = 1.0
    visible = encoder._normalized_input("left_hand", joints)
    assert torch.equal(graded[..., :-1], visible[..., :-1])
    assert (graded[..., -1] == 0.4).all()
    joints[0, 0, :5, -1] = 0.0
    hidden = encoder._normalized_input("left_hand", joints)
    assert not hidden[0, 0, :5].any()
