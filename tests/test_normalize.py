import numpy as np
import pytest
import torch

from signdpo_trl.data.canonical import CANONICAL_FROM_COCO_WHOLEBODY, CANONICAL_PARTS
from signdpo_trl.data.normalize import normalize_parts, sample_frames
from signdpo_trl.data.pose import PoseSequence


BODY = CANONICAL_PARTS["body"]
LEFT = CANONICAL_PARTS["left_hand"]
FACE = CANONICAL_PARTS["face"]


def small_clip():
    """Two frames. Confident body points span x in [0, 4], y in [0, 2]: scale 4, box origin (0, -1)."""
    keypoints = torch.zeros(1, 2, 69, 2)
    confidence = torch.ones(1, 2, 69)
    keypoints[0, :, BODY.offset : BODY.offset + 9] = torch.tensor([2.0, 1.0])
    keypoints[0, 0, 3] = torch.tensor([0.0, 0.0])  # left shoulder
    keypoints[0, 1, 4] = torch.tensor([4.0, 2.0])  # right shoulder
    keypoints[0, 0, 5] = torch.tensor([100.0, 100.0])  # left elbow, below the threshold: outside the box
    confidence[0, 0, 5] = 0.3
    keypoints[0, :, LEFT.offset] = torch.tensor([10.0, 10.0])  # left wrist
    keypoints[0, :, LEFT.offset + 4] = torch.tensor([11.0, 12.0])  # left thumb tip
    keypoints[0, :, LEFT.offset + 8] = torch.tensor([30.0, 10.0])  # far away: clipped
    keypoints[0, :, FACE.offset + FACE.anchor] = torch.tensor([5.0, 5.0])  # nose tip
    keypoints[0, :, FACE.offset] = torch.tensor([3.0, 6.0])  # jaw_0
    return keypoints, confidence


def test_hand_computed_example():
    keypoints, confidence = small_clip()
    out, out_confidence = normalize_parts(keypoints, confidence, torch.ones(1, 2, dtype=torch.bool))
    # Body: ((x - 0) / 4 - 0.5) * 2, ((y + 1) / 4 - 0.5) * 2.
    assert out[0, 0, 3].tolist() == [-1.0, -0.5]
    assert out[0, 1, 4].tolist() == [1.0, 0.5]
    assert out[0, 0, 0].tolist() == [0.0, 0.0]
    # Hands relative to the wrist, divided by the body scale 4, clipped.
    assert out[0, 0, LEFT.offset].tolist() == [0.0, 0.0]
    assert out[0, 0, LEFT.offset + 4].tolist() == [0.25, 0.5]
    assert out[0, 0, LEFT.offset + 8].tolist() == [1.0, 0.0]
    # Face relative to the nose tip.
    assert out[0, 1, FACE.offset].tolist() == [-0.5, 0.25]
    # At the threshold: dropped.
    assert out[0, 0, 5].tolist() == [0.0, 0.0] and out_confidence[0, 0, 5] == 0
    assert out_confidence[0, 1, 5] == 1


def test_padding_stays_zero_and_batch_equals_each_alone():
    rng = np.random.default_rng(0)
    clips = []
    for length in (5, 3):
        keypoints = torch.from_numpy(rng.uniform(0, 100, size=(length, 69, 2)).astype(np.float32))
        confidence = torch.from_numpy(rng.uniform(0, 1, size=(length, 69)).astype(np.float32))
        clips.append((keypoints, confidence))
    batch_keypoints = torch.full((2, 5, 69, 2), 77.0)  # padding holds garbage
    batch_confidence = torch.ones(2, 5, 69)
    frame_mask = torch.zeros(2, 5, dtype=torch.bool)
    for b, (keypoints, confidence) in enumerate(clips):
        batch_keypoints[b, : len(keypoints)] = keypoints
        batch_confidence[b, : len(keypoints)] = confidence
        frame_mask[b, : len(keypoints)] = True

    out, out_confidence = normalize_parts(batch_keypoints, batch_confidence, frame_mask)

    assert (out[1, 3:] == 0).all() and (out_confidence[1, 3:] == 0).all()
    for b, (keypoints, confidence) in enumerate(clips):
        alone, alone_confidence = normalize_parts(
            keypoints[None], confidence[None], torch.ones(1, len(keypoints), dtype=torch.bool)
        )
        torch.testing.assert_close(out[b, : len(keypoints)], alone[0], rtol=0, atol=0)
        torch.testing.assert_close(out_confidence[b, : len(keypoints)], alone_confidence[0], rtol=0, atol=0)


def test_threshold_masks_points():
    keypoints, confidence = small_clip()
    confidence[0, :, LEFT.offset + 4] = 0.5
    mask = torch.ones(1, 2, dtype=torch.bool)
    kept = normalize_parts(keypoints, confidence, mask, threshold=0.3)
    dropped = normalize_parts(keypoints, confidence, mask, threshold=0.6)
    assert kept[1][0, 0, LEFT.offset + 4] == 0.5
    assert dropped[1][0, 0, LEFT.offset + 4] == 0 and dropped[0][0, 0, LEFT.offset + 4].tolist() == [0.0, 0.0]


def test_fewer_than_four_confident_body_points_zeroes_the_clip():
    keypoints, confidence = small_clip()
    keypoints[0, :, 1] = torch.tensor([3.0, 2.0])  # left ear away from the nose
    confidence[0, :, BODY.offset + 2 : BODY.offset + 9] = 0.1  # only nose and left ear left: 4 points over 2 frames
    out, out_confidence = normalize_parts(keypoints, confidence, torch.ones(1, 2, dtype=torch.bool))
    assert (out_confidence > 0).any()
    confidence[0, 1, BODY.offset : BODY.offset + 2] = 0.1  # now 2 points
    out, out_confidence = normalize_parts(keypoints, confidence, torch.ones(1, 2, dtype=torch.bool))
    assert (out == 0).all() and (out_confidence == 0).all()


def test_absent_anchor_makes_its_part_relative_to_the_centroid_of_its_confident_points():
    keypoints, confidence = small_clip()
    confidence[0, 1, LEFT.offset] = 0  # the left wrist is missing on frame 1
    out, out_confidence = normalize_parts(keypoints, confidence, torch.ones(1, 2, dtype=torch.bool))
    hand = slice(LEFT.offset + 1, LEFT.offset + LEFT.size)
    assert (out_confidence[0, 1, hand] > 0).all() and out_confidence[0, 1, LEFT.offset] == 0
    seen = keypoints[0, 1, hand]
    expected = ((seen - seen.mean(dim=0)) / 4).clamp(-1, 1)  # body scale 4
    torch.testing.assert_close(out[0, 1, hand], expected)


def test_part_with_no_confident_point_is_zeroed_on_that_frame():
    keypoints, confidence = small_clip()
    confidence[0, 1, LEFT.indices.start : LEFT.indices.stop] = 0
    out, out_confidence = normalize_parts(keypoints, confidence, torch.ones(1, 2, dtype=torch.bool))
    assert (out_confidence[0, 1, LEFT.indices.start : LEFT.indices.stop] == 0).all()
    assert (out[0, 1, LEFT.indices.start : LEFT.indices.stop] == 0).all()
    assert (out_confidence[0, 0, LEFT.indices.start : LEFT.indices.stop] == 1).all()


def uni_sign_reference(skeletons, scores, threshold=0.3):
    """Uni-Sign's normalisation of (T, 133, 2) points and (T, 133) scores, written out frame by frame."""
    parts = {
        "body": [0, 3, 4, 5, 6, 7, 8, 9, 10],
        "left": list(range(91, 112)),
        "right": list(range(112, 133)),
        "face": list(range(23, 40, 2)) + list(range(83, 91)) + [53],
    }
    body = np.concatenate([skeletons[:, parts["body"]], scores[:, parts["body"], None]], axis=-1)
    valid = body[body[..., 2] > threshold][:, :2]
    if len(valid) < 4:
        return None
    low, high = valid.min(0), valid.max(0)
    scale = max(high - low)
    origin = (low + high - scale) / 2
    out = {}
    result = body.copy()
    result[..., :2] = ((body[..., :2] - origin) / scale - 0.5) * 2
    result = np.clip(result, -1, 1)
    result[result[..., 2] <= threshold] = 0
    out["body"] = result
    for name, anchor in (("left", 0), ("right", 0), ("face", -1)):
        points = skeletons[:, parts[name]]
        points = points - points[:, [anchor]]
        result = np.concatenate([points / scale, scores[:, parts[name], None]], axis=-1)
        result = np.clip(result, -1, 1)
        result[result[..., 2] <= threshold] = 0
        out[name] = result
    return np.concatenate([out["body"], out["left"], out["right"], out["face"]], axis=1)


def test_matches_uni_sign_on_coco_wholebody():
    rng = np.random.default_rng(3)
    skeletons = rng.uniform(0, 1, size=(12, 133, 2)).astype(np.float32)
    scores = rng.uniform(0.01, 1, size=(12, 133)).astype(np.float32)
    expected = uni_sign_reference(skeletons.astype(np.float64), scores.astype(np.float64))
    sequence = PoseSequence(skeletons, scores, layout="coco_wholebody133").normalized()
    np.testing.assert_allclose(sequence.keypoints, expected[..., :2], atol=1e-5)
    np.testing.assert_allclose(sequence.confidence, expected[..., 2], atol=1e-6)
    assert tuple(CANONICAL_FROM_COCO_WHOLEBODY[:9]) == (0, 3, 4, 5, 6, 7, 8, 9, 10)


def test_depth_channel_is_scaled_and_clipped():
    keypoints, confidence = small_clip()
    depth = torch.zeros(1, 2, 69, 1)
    depth[0, :, LEFT.offset + 4] = 2.0  # thumb tip 2 units in front of the wrist (depth 0)
    out, _ = normalize_parts(torch.cat([keypoints, depth], -1), confidence, torch.ones(1, 2, dtype=torch.bool))
    assert out[0, 0, LEFT.offset + 4].tolist() == [0.25, 0.5, 0.5]
    torch.testing.assert_close(out[..., :2], normalize_parts(keypoints, confidence, torch.ones(1, 2).bool())[0])


def test_sample_frames_keeps_short_clips_whole():
    np.testing.assert_array_equal(sample_frames(5, 8), np.arange(5))
    np.testing.assert_array_equal(sample_frames(8, 8), np.arange(8))


def test_sample_frames_evaluation_is_deterministic_and_covering():
    indices = sample_frames(100, 10)
    np.testing.assert_array_equal(indices, sample_frames(100, 10))
    np.testing.assert_array_equal(indices, [0, 11, 22, 33, 44, 55, 66, 77, 88, 99])
    for num_frames in range(11, 60):
        indices = sample_frames(num_frames, 10)
        assert len(np.unique(indices)) == 10 and indices[0] == 0 and indices[-1] == num_frames - 1
        assert (np.diff(indices) > 0).all()


def test_sample_frames_training_is_random_sorted_subset():
    first = sample_frames(100, 10, generator=np.random.default_rng(0))
    again = sample_frames(100, 10, generator=np.random.default_rng(0))
    other = sample_frames(100, 10, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert len(np.unique(first)) == 10 and (np.diff(first) > 0).all() and first.max() < 100


def test_sample_frames_rejects_nonpositive_budget():
    with pytest.raises(ValueError, match="max_frames"):
        sample_frames(10, 0)


def test_normalized_fixture_is_in_range(fixtures_dir):
    from signdpo_trl.data.readers import load_pose

    sequence = load_pose(fixtures_dir / "openpose.pose").normalized()
    assert sequence.layout == "unisign69"
    assert np.abs(sequence.keypoints).max() <= 1
    np.testing.assert_array_equal(sequence.keypoints[sequence.confidence == 0], 0)
