import numpy as np
import pytest
import torch
from tiny import pose_dataset, pose_rows, tiny_tokenizer
from torch.utils.data import DataLoader

from signdpo_trl.data.canonical import CANONICAL_PARTS, NUM_CANONICAL_JOINTS
from signdpo_trl.data.normalize import sample_frames
from signdpo_trl.perturbations import PerturbedBatch, register_operator, registry
from signdpo_trl.trainer import (
    SIGNDPO_LEVELS,
    LanguageHook,
    PoseBatch,
    PoseCollator,
    PreferenceHook,
    SignDPOConfig,
    SignPreferenceCollator,
    SignTranslationCollator,
    build_preference_hooks,
)
from signdpo_trl.trainer.collators import count_passes, pose_array_format
from signdpo_trl.trainer.hooks import PoseHook


LEFT_HAND = CANONICAL_PARTS["left_hand"]
RIGHT_HAND = CANONICAL_PARTS["right_hand"]
FACE = CANONICAL_PARTS["face"]
# Body joints (nose, ears, shoulders, elbows, wrists) whose bounding box is the square [100, 300] x [100, 300]:
# per-part normalisation maps it to [-1, 1], with scale 200 for hands and face.
BODY = [[200, 200], [190, 100], [210, 100], [100, 250], [300, 250], [120, 300], [280, 300], [150, 150], [250, 150]]
MASKED_JOINT = RIGHT_HAND.offset + 5


def hand_made_row(num_frames: int, shift: float, row_id: str) -> dict:
    """Every frame the same skeleton: hands and face collapsed on their anchors except one point each."""
    frame = np.zeros((NUM_CANONICAL_JOINTS, 2), dtype=np.float32)
    frame[: len(BODY)] = BODY
    frame[LEFT_HAND.offset : LEFT_HAND.offset + LEFT_HAND.size] = [150, 150]
    frame[LEFT_HAND.offset + 1] = [170, 140]
    frame[RIGHT_HAND.offset : RIGHT_HAND.offset + RIGHT_HAND.size] = [250, 150]
    frame[FACE.offset : FACE.offset + FACE.size] = [200, 200]
    frame[FACE.offset] = [180, 220]
    keypoints = np.repeat(frame[None] + shift, num_frames, axis=0)
    confidence = np.full((num_frames, NUM_CANONICAL_JOINTS), 0.9, dtype=np.float32)
    confidence[:, MASKED_JOINT] = 0.3  # at the threshold: masked
    return {"id": row_id, "keypoints": keypoints, "confidence": confidence, "text": ""}


def hand_made_rows() -> list[dict]:
    first = {**hand_made_row(3, 0.0, "a"), "text": "the dog sees the cat"}
    # Shifted by (10, 10) px: normalisation is translation invariant, so it encodes to the same coordinates.
    second = {**hand_made_row(2, 10.0, "b"), "text": "i do not like the rain"}
    return [first, second]


def frame_tracer_row(num_frames: int) -> dict:
    """A clip whose every point holds its frame index plus one, so that sampled frames can be read back."""
    keypoints = np.broadcast_to(
        np.arange(1, num_frames + 1, dtype=np.float32)[:, None, None], (num_frames, NUM_CANONICAL_JOINTS, 2)
    )
    return {"id": "tracer", "keypoints": keypoints.copy(), "confidence": np.ones((num_frames, NUM_CANONICAL_JOINTS))}


def sampled_frames(collator: PoseCollator, row: dict) -> list[int]:
    return (collator.pad([row]).keypoints[0, :, 0, 0] - 1).long().tolist()


# PoseCollator


def test_pad_zero_pads_the_shorter_clip_and_records_lengths():
    batch = PoseCollator().pad(hand_made_rows())
    assert batch.keypoints.shape == (2, 3, NUM_CANONICAL_JOINTS, 2)
    assert batch.lengths.tolist() == [3, 2]
    assert batch.frame_mask.tolist() == [[True, True, True], [True, True, False]]
    assert torch.equal(batch.keypoints[1, 2], torch.zeros(NUM_CANONICAL_JOINTS, 2))
    assert not batch.mask[1, 2].any()


def test_masked_pad_masks_points_at_or_below_the_confidence_threshold_and_zeroes_them():
    batch = PoseCollator(normalization="masked").pad(hand_made_rows())
    expected_mask = torch.ones(NUM_CANONICAL_JOINTS, dtype=torch.bool)
    expected_mask[MASKED_JOINT] = False
    assert torch.equal(batch.mask[0, 0], expected_mask)
    assert torch.equal(batch.keypoints[:, :, MASKED_JOINT], torch.zeros(2, 3, 2))
    assert batch.keypoints[0, 0, 0].tolist() == [200.0, 200.0]
    assert batch.confidence is None


def test_unisign_pad_keeps_every_reported_point_with_its_confidence():
    rows = hand_made_rows()
    batch = PoseCollator(normalization="unisign").pad(rows)
    assert batch.mask[:, :2].all() and not batch.mask[1, 2].any()
    assert torch.equal(batch.keypoints[0, :, MASKED_JOINT], torch.from_numpy(rows[0]["keypoints"][:, MASKED_JOINT]))
    assert torch.equal(batch.confidence[0], torch.from_numpy(rows[0]["confidence"]))
    assert torch.equal(batch.confidence[1, 2], torch.zeros(NUM_CANONICAL_JOINTS))


def test_masked_encode_normalises_each_part_and_appends_the_visibility_channel():
    inputs = PoseCollator(normalization="masked")(hand_made_rows())
    pose = inputs["pose"]
    assert pose.shape == (2, 3, NUM_CANONICAL_JOINTS, 3)
    valid = inputs["pose_mask"]
    expected = {
        0: [0.0, 0.0, 1.0],  # nose, the centre of the body box
        3: [-1.0, 0.5, 1.0],  # left shoulder (100, 250)
        LEFT_HAND.offset: [0.0, 0.0, 1.0],  # the hand's own wrist is its origin
        LEFT_HAND.offset + 1: [0.1, -0.05, 1.0],  # (20, -10) px from the wrist, body scale 200
        FACE.offset: [-0.1, 0.1, 1.0],  # (-20, 20) px from the nose tip
        MASKED_JOINT: [0.0, 0.0, 0.0],  # masked: coordinates and visibility zero
    }
    for joint, values in expected.items():
        torch.testing.assert_close(pose[valid][:, joint], torch.tensor([values] * 5))


def test_unisign_encode_normalises_each_part_and_appends_the_detector_confidence():
    inputs = PoseCollator(normalization="unisign")(hand_made_rows())
    pose, valid = inputs["pose"], inputs["pose_mask"]
    expected = {
        0: [0.0, 0.0, 0.9],
        3: [-1.0, 0.5, 0.9],
        LEFT_HAND.offset: [0.0, 0.0, 0.9],
        LEFT_HAND.offset + 1: [0.1, -0.05, 0.9],
        FACE.offset: [-0.1, 0.1, 0.9],
        MASKED_JOINT: [0.0, 0.0, 0.0],  # at the threshold: dropped, as Uni-Sign drops it
    }
    for joint, values in expected.items():
        torch.testing.assert_close(pose[valid][:, joint], torch.tensor([values] * 5))


def test_encode_leaves_padding_frames_all_zero_and_masks_them():
    inputs = PoseCollator()(hand_made_rows())
    assert inputs["pose_mask"].tolist() == [[True, True, True], [True, True, False]]
    assert inputs["pose_mask"].dtype == torch.bool
    assert torch.equal(inputs["pose"][1, 2], torch.zeros(NUM_CANONICAL_JOINTS, 3))


def test_masked_visibility_channel_is_exactly_the_observed_points_on_real_frames():
    collator = PoseCollator(normalization="masked")
    rows = hand_made_rows()
    batch = collator.pad(rows)
    pose = collator.encode(batch)["pose"]
    expected = (batch.mask & batch.frame_mask[..., None]).float()
    assert torch.equal(pose[..., -1], expected)


def test_uniform_sampling_keeps_evenly_spaced_frames_from_first_to_last():
    collator = PoseCollator(max_frames=4, frame_sampling="uniform")
    assert sampled_frames(collator, frame_tracer_row(10)) == [0, 3, 6, 9]
    assert sampled_frames(collator, frame_tracer_row(10)) == [0, 3, 6, 9]


def test_short_clips_keep_every_frame_under_random_sampling():
    assert sampled_frames(PoseCollator(max_frames=8, frame_sampling="random"), frame_tracer_row(5)) == [0, 1, 2, 3, 4]


def test_random_sampling_draws_sorted_distinct_frames_from_torch_global_generator():
    collator = PoseCollator(max_frames=6, frame_sampling="random")
    row = frame_tracer_row(40)
    torch.manual_seed(11)
    first = sampled_frames(collator, row)
    torch.manual_seed(11)
    again = sampled_frames(collator, row)
    torch.manual_seed(12)
    other = sampled_frames(collator, row)
    assert first == again
    assert first != other
    assert first == sorted(set(first)) and len(first) == 6 and 0 <= first[0] and first[-1] < 40


def test_pose_collator_rejects_unknown_sampling_normalization_and_empty_clips():
    with pytest.raises(ValueError, match="frame_sampling"):
        PoseCollator(frame_sampling="every_other")
    with pytest.raises(ValueError, match="'unisign', 'masked'"):
        PoseCollator(normalization="visibility")
    row = {"id": "empty", "keypoints": np.zeros((0, NUM_CANONICAL_JOINTS, 2)), "confidence": np.zeros((0, 69))}
    with pytest.raises(ValueError, match="'empty'"):
        PoseCollator().pad([row])


def test_a_batch_samples_each_clip_as_sampling_it_alone_would():
    collator = PoseCollator(max_frames=6)
    rows = [frame_tracer_row(num_frames) for num_frames in (40, 3, 6, 7, 13)]
    batch = collator.pad(rows)
    assert batch.lengths.tolist() == [6, 3, 6, 6, 6]
    for row, clip, length in zip(rows, batch.keypoints, batch.lengths):
        expected = sample_frames(len(row["keypoints"]), 6)
        assert (clip[:length, 0, 0] - 1).long().tolist() == expected.tolist()


def test_random_sampling_of_a_batch_draws_sorted_distinct_frames_inside_each_clip():
    collator = PoseCollator(max_frames=6, frame_sampling="random", seed=0)
    batch = collator.pad([frame_tracer_row(num_frames) for num_frames in (40, 3, 9)])
    assert batch.lengths.tolist() == [6, 3, 6]
    assert torch.equal(batch.keypoints[1, :3, 0, 0], torch.tensor([1.0, 2.0, 3.0]))
    for clip, num_frames in ((batch.keypoints[0], 40), (batch.keypoints[2], 9)):
        frames = (clip[:, 0, 0] - 1).long().tolist()
        assert frames == sorted(set(frames)) and frames[-1] < num_frames


def test_rows_as_arrays_and_as_nested_lists_pad_alike():
    rows = pose_rows(3)
    as_lists = [
        {**row, "keypoints": row["keypoints"].tolist(), "confidence": row["confidence"].tolist()} for row in rows
    ]
    from_arrays, from_lists = PoseCollator().pad(rows), PoseCollator().pad(as_lists)
    assert all(torch.equal(a, b) for a, b in zip(vars(from_arrays).values(), vars(from_lists).values()))


def test_pad_names_the_row_whose_joints_differ_from_the_batch():
    rows = pose_rows(2)
    rows[1] = {**rows[1], "keypoints": rows[1]["keypoints"][:, :60]}
    with pytest.raises(ValueError, match="'clip01'.*J x C"):
        PoseCollator().pad(rows)


def test_the_dataloader_format_hands_the_collator_one_array_per_pose_column_and_python_text():
    dataset = pose_dataset(3).add_column("rejected_texts", [["a wrong sentence", "another"]] * 3)
    rows = pose_array_format(dataset).__getitems__([0, 1, 2])
    for row, source in zip(rows, pose_rows(3)):
        assert isinstance(row["keypoints"], np.ndarray) and row["keypoints"].shape == source["keypoints"].shape
        assert isinstance(row["confidence"], np.ndarray) and row["confidence"].shape == source["confidence"].shape
        assert type(row["text"]) is str and type(row["id"]) is str
        assert row["rejected_texts"] == ["a wrong sentence", "another"]
    rows = pose_rows(2)
    assert pose_array_format(rows) is rows  # not a datasets.Dataset: left as it is


# SignTranslationCollator


def test_translation_collator_pads_labels_with_minus_100_and_shifts_decoder_inputs_right():
    tokenizer = tiny_tokenizer()
    rows = hand_made_rows()
    inputs = SignTranslationCollator(tokenizer=tokenizer, decoder_start_token_id=0)(rows)
    ids = [tokenizer(row["text"]).input_ids for row in rows]
    length = max(map(len, ids))
    expected_labels = torch.tensor([row_ids + [-100] * (length - len(row_ids)) for row_ids in ids])
    expected_decoder = torch.tensor([([0] + row_ids + [0] * length)[:length] for row_ids in ids])
    assert len(ids[0]) != len(ids[1])
    assert torch.equal(inputs["labels"], expected_labels)
    assert torch.equal(inputs["decoder_input_ids"], expected_decoder)


def test_translation_collator_truncates_targets_before_padding_keeping_the_eos():
    tokenizer = tiny_tokenizer()
    rows = hand_made_rows()
    inputs = SignTranslationCollator(tokenizer=tokenizer, max_target_length=4)(rows)
    expected = [tokenizer(row["text"]).input_ids[:3] + [tokenizer.eos_token_id] for row in rows]
    assert inputs["labels"].tolist() == expected
    assert "decoder_input_ids" not in inputs


def test_translation_collator_needs_a_tokenizer():
    with pytest.raises(ValueError, match="tokenizer"):
        SignTranslationCollator()


# SignPreferenceCollator


def preference_collator(levels=SIGNDPO_LEVELS, **config) -> SignPreferenceCollator:
    args = SignDPOConfig(output_dir="unused", levels=list(levels), **config)
    return SignPreferenceCollator(tokenizer=tiny_tokenizer(), hooks=build_preference_hooks(args))


def test_preference_batch_holds_one_rejected_sample_per_level_and_the_source_for_the_attention_level():
    inputs = preference_collator()(pose_rows(3))
    assert list(inputs) == [
        "pose",
        "pose_mask",
        "labels",
        "rejected_pose_spatial_global",
        "rejected_pose_spatial_local",
        "rejected_pose_temporal_global",
        "rejected_pose_temporal_local",
        "rejected_labels_language",
        "source_keypoints",
        "source_mask",
        "source_lengths",
        "source_confidence",
        "step_seed",
    ]
    assert inputs["source_lengths"].tolist() == [len(row["keypoints"]) for row in pose_rows(3)]


def test_preference_batch_has_no_source_tensors_without_the_attention_level():
    inputs = preference_collator(["temporal_global", "language"])(pose_rows(3))
    assert list(inputs) == ["pose", "pose_mask", "labels", "rejected_pose_temporal_global", "rejected_labels_language"]


@pytest.mark.parametrize("level", ["spatial_global", "spatial_local", "temporal_global", "temporal_local"])
def test_rejected_pose_differs_from_the_chosen_pose_on_valid_frames_and_keeps_padding_zero(level):
    torch.manual_seed(0)
    inputs = preference_collator([level])(pose_rows(4))
    chosen, rejected, valid = inputs["pose"], inputs[f"rejected_pose_{level}"], inputs["pose_mask"]
    assert rejected.shape == chosen.shape
    differs_per_clip = (rejected != chosen).flatten(1).any(dim=1)
    assert differs_per_clip.all()
    assert torch.equal(rejected[~valid], torch.zeros_like(rejected[~valid]))
    assert (~valid).any()


def test_rejected_text_differs_from_the_reference_for_every_row():
    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    inputs = preference_collator(["language"])(pose_rows(4))
    references = tokenizer.batch_decode(inputs["labels"].clamp(min=0), skip_special_tokens=True)
    rejected = tokenizer.batch_decode(inputs["rejected_labels_language"].clamp(min=0), skip_special_tokens=True)
    assert all(r != c for r, c in zip(rejected, references))


def test_preference_collator_names_the_row_with_an_empty_reference_text():
    rows = pose_rows(2)
    rows[1]["text"] = "  "
    with pytest.raises(ValueError, match="'clip01'.*reference text"):
        preference_collator(["language"])(rows)


def test_preference_batch_is_reproducible_under_torch_manual_seed():
    collator = preference_collator()
    rows = pose_rows(3)
    torch.manual_seed(5)
    first = collator(rows)
    torch.manual_seed(5)
    again = collator(rows)
    torch.manual_seed(6)
    other = collator(rows)
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert not all(torch.equal(first[key], other[key]) for key in first)


def test_two_hooks_with_the_same_level_are_refused():
    hooks = [LanguageHook(), LanguageHook()]
    with pytest.raises(ValueError, match="share a level"):
        SignPreferenceCollator(tokenizer=tiny_tokenizer(), hooks=hooks)


class MirrorHook(PreferenceHook):
    """A user level: the rejected clip is the chosen one with every coordinate negated."""

    level = "mirror"

    def __call__(self, batch: PoseBatch, examples, generator: torch.Generator) -> PoseBatch:
        return PoseBatch(-batch.keypoints, batch.mask, batch.lengths, batch.confidence)


class GibberishHook(PreferenceHook):
    """A user text level: the rejected translation is a fixed wrong sentence."""

    level = "gibberish"

    def __call__(self, batch, examples, generator):
        return ["the cat sees the dog"] * len(examples)


def test_user_defined_hooks_add_their_levels_to_the_batch():
    tokenizer = tiny_tokenizer()
    collator = SignPreferenceCollator(tokenizer=tokenizer, hooks=[MirrorHook(), GibberishHook()])
    rows = pose_rows(2)
    inputs = collator(rows)
    batch = collator.pad(rows)
    expected_pose = collator.encode(PoseBatch(-batch.keypoints, batch.mask, batch.lengths, batch.confidence))["pose"]
    assert torch.equal(inputs["rejected_pose_mirror"], expected_pose)
    assert inputs["rejected_labels_gibberish"].tolist() == [tokenizer("the cat sees the dog").input_ids] * 2


def test_a_registered_operator_named_in_the_config_builds_the_rejected_pose(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_operator("left_hand_drop", level="spatial_local")
    def left_hand_drop(keypoints, mask, lengths, generator=None, strength=1.0):
        hand = torch.zeros(NUM_CANONICAL_JOINTS, dtype=torch.bool)
        hand[LEFT_HAND.offset : LEFT_HAND.offset + LEFT_HAND.size] = True
        return PerturbedBatch(torch.where(hand[:, None], 0.0, keypoints), mask & ~hand)

    collator = preference_collator(["spatial_local"], spatial_local_operators=["left_hand_drop"])
    rows = pose_rows(2)
    inputs = collator(rows)
    left_hand = inputs["rejected_pose_spatial_local"][:, :, LEFT_HAND.offset : LEFT_HAND.offset + LEFT_HAND.size]
    assert not left_hand.any()
    batch = collator.pad(rows)
    dropped = left_hand_drop(batch.keypoints, batch.mask, batch.lengths)
    # The operator takes no `confidence`: every point keeps the confidence of its place, 0 where it is hidden.
    confidence = torch.where(dropped.mask, batch.confidence, 0)
    expected = collator.encode(PoseBatch(dropped.keypoints, dropped.mask, batch.lengths, confidence))
    assert torch.equal(inputs["rejected_pose_spatial_local"], expected["pose"])


# Seeded collators (what the trainers use, so that a resumed run draws what an uninterrupted one does)


def test_seeded_collator_draws_from_its_batch_index_not_from_torch_global_generator():
    collator = preference_collator()
    collator.seed = (7, 0)
    rows = pose_rows(3)
    torch.manual_seed(0)
    first = collator(rows)
    state_after = torch.get_rng_state()
    torch.manual_seed(1)
    second = collator(rows)
    collator.batch_index = 0
    replay = collator(rows)
    assert collator.batch_index == 1
    assert torch.equal(torch.get_rng_state(), torch.manual_seed(1).get_state())
    assert torch.equal(state_after, torch.manual_seed(0).get_state())
    assert all(torch.equal(first[key], replay[key]) for key in first)
    assert not torch.equal(first["rejected_pose_spatial_global"], second["rejected_pose_spatial_global"])


def test_seeded_random_frame_sampling_depends_on_the_seed_and_batch_index():
    row = frame_tracer_row(40)
    frames = {}
    for seed in (3, 4):
        collator = PoseCollator(max_frames=6, frame_sampling="random", seed=seed)
        frames[seed] = [sampled_frames(collator, row) for _ in range(2)]
    assert frames[3][0] != frames[3][1]
    assert frames[3] != frames[4]
    assert sampled_frames(PoseCollator(max_frames=6, frame_sampling="random", seed=3), row) == frames[3][0]


@pytest.mark.parametrize(
    ("global_step", "accumulation", "expected"),
    [(0, 1, 0), (2, 1, 2), (4, 1, 4), (3, 2, 5)],  # three batches per epoch: two updates of two, then of one
)
def test_resume_callback_points_the_collator_at_the_first_batch_not_yet_trained_on(
    global_step, accumulation, expected
):
    from types import SimpleNamespace

    from signdpo_trl.trainer.collators import CollatorResumeCallback

    collator = PoseCollator(seed=0, batch_index=99)
    args = SimpleNamespace(gradient_accumulation_steps=accumulation)
    state = SimpleNamespace(global_step=global_step)
    CollatorResumeCallback(collator).on_train_begin(args, state, None, train_dataloader=[None] * 3)
    assert collator.batch_index == expected


def seeded_batches(num_workers: int, passes: int, repeat_passes: bool = False) -> list[dict]:
    """`passes` passes of a DataLoader over five rows in batches of two, collated by a seeded preference collator in
    `num_workers` worker processes (persistent ones, which keep their collator across passes)."""
    collator = preference_collator()
    collator.seed = (3, 0)
    loader = DataLoader(
        pose_rows(5), batch_size=2, collate_fn=collator, num_workers=num_workers, persistent_workers=num_workers > 0
    )
    count_passes(collator, loader, repeat_passes=repeat_passes)
    return [batch for _ in range(passes) for batch in loader]


def test_dataloader_workers_draw_the_pairs_the_main_process_draws_over_several_passes():
    in_process, in_workers = seeded_batches(num_workers=0, passes=2), seeded_batches(num_workers=2, passes=2)
    assert len(in_workers) == 6
    for expected, batch in zip(in_process, in_workers):
        assert expected.keys() == batch.keys()
        assert all(torch.equal(expected[key], batch[key]) for key in expected)
    # Every batch, the same rows in the second pass included, got pairs of its own.
    spatial = [batch["rejected_pose_spatial_global"] for batch in in_workers]
    assert not torch.equal(spatial[0], spatial[3])


def test_evaluation_workers_draw_the_same_pairs_at_every_pass():
    batches = seeded_batches(num_workers=2, passes=2, repeat_passes=True)
    for first, second in zip(batches[:3], batches[3:]):
        assert all(torch.equal(first[key], second[key]) for key in first)


@pytest.mark.parametrize("config_class", ["SignSFTConfig", "SignDPOConfig"])
def test_dataloader_workers_must_hand_batches_in_order(config_class):
    import signdpo_trl.trainer as trainer_module

    with pytest.raises(ValueError, match="dataloader_in_order=True"):
        getattr(trainer_module, config_class)(output_dir="unused", dataloader_num_workers=2, dataloader_in_order=False)


def test_a_pose_hook_perturbs_each_clip_once_with_the_operator_it_drew():
    # Two deterministic operators, so that each clip's rejected pose can be checked against both, computed alone.
    hook = PoseHook("mixed", ["sequence_reversal", "hand_swap"], strength=1.0)
    collator = PoseCollator(max_frames=12)
    batch = collator.pad(pose_rows(9))
    rejected = hook(batch, [], torch.Generator().manual_seed(0))
    drawn = []
    for row in range(9):
        alone = [
            operator(
                batch.keypoints[row : row + 1], batch.mask[row : row + 1], batch.lengths[row : row + 1],
                confidence=batch.confidence[row : row + 1],
            )
            for operator in hook.operators
        ]  # fmt: skip
        matches = [
            index
            for index, perturbed in enumerate(alone)
            if torch.equal(perturbed.keypoints[0], rejected.keypoints[row])
            and torch.equal(perturbed.mask[0], rejected.mask[row])
            and torch.equal(perturbed.confidence[0], rejected.confidence[row])
        ]
        assert len(matches) == 1, f"clip {row} is not one operator's output: {matches}"
        drawn.extend(matches)
    assert set(drawn) == {0, 1}  # both operators were drawn in this batch
