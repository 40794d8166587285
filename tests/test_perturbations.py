import pytest
import torch

from signdpo_trl.data.canonical import (
    BODY_POINT_NAMES,
    CANONICAL_PARTS,
    FACE,
    LEFT_HAND,
    NUM_CANONICAL_JOINTS,
    RIGHT_HAND,
)
from signdpo_trl.perturbations import (
    LEVELS,
    PerturbedBatch,
    attention_guided_perturbation,
    build_operator,
    face_drop,
    face_freeze,
    get_operator,
    get_operator_spec,
    hand_relocation,
    hand_swap,
    handshape_change,
    joint_permutation,
    list_operators,
    register_operator,
    registry,
    salience_top_k,
    segment_shuffle,
    sequence_reversal,
    skeleton_displacement,
    window_drop,
    window_freeze,
    window_repeat,
    window_shuffle,
)


LENGTHS = torch.tensor([20, 13, 7, 2])
NUM_FRAMES = 24
PADDING_VALUE = 7.0
BODY_POINT = {name: i for i, name in enumerate(BODY_POINT_NAMES)}
HEAD = [BODY_POINT[name] for name in ("nose", "left_ear", "right_ear")]


def joints_of(*part_names: str) -> list[int]:
    return [j for name in part_names for j in CANONICAL_PARTS[name].indices]


def valid(lengths: torch.Tensor = LENGTHS, num_frames: int = NUM_FRAMES) -> torch.Tensor:
    return torch.arange(num_frames) < lengths[:, None]


def make_batch(seed: int = 0, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A padded source-space batch: a moving skeleton with a few unobserved points, and padding that holds a
    recognisable value (so that "padding untouched" is not satisfied by zeros by accident)."""
    generator = torch.Generator().manual_seed(seed)
    batch_size = len(LENGTHS)
    rest = torch.randn(batch_size, 1, NUM_CANONICAL_JOINTS, 2, generator=generator)
    motion = 0.3 * torch.randn(batch_size, NUM_FRAMES, NUM_CANONICAL_JOINTS, 2, generator=generator).cumsum(1)
    keypoints = rest + motion
    mask = torch.rand(batch_size, NUM_FRAMES, NUM_CANONICAL_JOINTS, generator=generator) > 0.05
    # Wrists and shoulders observed everywhere, so that hands and bodies can be located.
    always = [LEFT_HAND.offset, RIGHT_HAND.offset, BODY_POINT["left_shoulder"], BODY_POINT["right_shoulder"]]
    mask[:, :, always] = True
    keypoints = torch.where(mask[..., None], keypoints, 0.0)
    padding = ~valid()
    keypoints = torch.where(padding[:, :, None, None], PADDING_VALUE, keypoints)
    mask = torch.where(padding[:, :, None], torch.rand(mask.shape, generator=generator) > 0.5, mask)
    return keypoints.to(dtype), mask, LENGTHS.clone()


def make_frame_tracer() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch whose every point carries its own frame index, so that a temporal operator's output tells which
    input frame each output frame came from."""
    keypoints, mask, lengths = make_batch()
    frame = torch.arange(NUM_FRAMES, dtype=torch.float32)[None, :, None, None]
    return keypoints.clone().copy_(frame.expand_as(keypoints)), torch.ones_like(mask), lengths


def source_frames(perturbed: PerturbedBatch) -> torch.Tensor:
    return perturbed.keypoints[:, :, 0, 0].long()


def salience_for(batch_size: int, num_frames: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch_size, num_frames, 4, generator=torch.Generator().manual_seed(seed))


def run(name: str, keypoints, mask, lengths, seed: int = 0, confidence=None, **options) -> PerturbedBatch:
    if get_operator_spec(name).requires_salience:
        options.setdefault("salience", salience_for(*keypoints.shape[:2]))
    options.setdefault("strength", 0.5)
    operator = build_operator(name, **options)
    return operator(keypoints, mask, lengths, torch.Generator().manual_seed(seed), confidence=confidence)


BUILT_IN = {
    "spatial_global": ["joint_permutation", "hand_swap", "skeleton_displacement"],
    "spatial_local": ["handshape_change", "hand_relocation", "face_freeze", "face_drop"],
    "temporal_global": ["sequence_reversal", "segment_shuffle"],
    "temporal_local": ["window_shuffle", "window_drop", "window_repeat", "window_freeze"],
    "attention": ["attention_guided"],
}
ALL_OPERATORS = [name for names in BUILT_IN.values() for name in names]


# The registry.


def test_every_level_lists_its_built_in_operators():
    for level in LEVELS:
        assert set(BUILT_IN[level]) <= set(list_operators(level))


def test_only_attention_guided_operators_require_salience():
    assert [name for name in ALL_OPERATORS if get_operator_spec(name).requires_salience] == ["attention_guided"]


def test_unknown_operator_name_is_a_key_error_that_lists_the_registered_ones():
    with pytest.raises(KeyError, match="window_drop"):
        get_operator("window_dorp")


def test_build_operator_rejects_an_option_the_operator_does_not_have():
    with pytest.raises(TypeError, match="window_size"):
        build_operator("window_drop", window_size=3)


def test_build_operator_rejects_a_strength_outside_the_unit_interval():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        build_operator("window_drop", strength=1.5)


def test_registering_under_an_unknown_level_fails():
    with pytest.raises(ValueError, match="spatial_local"):
        register_operator("noop", level="spatial")


def test_a_user_operator_is_built_and_called_like_a_built_in_one(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_operator("hand_drop", level="spatial_local")
    def hand_drop(keypoints, mask, lengths, generator=None, strength=1.0):
        new_mask = mask.clone()
        new_mask[:, :, LEFT_HAND.offset :] = False
        return PerturbedBatch(keypoints, new_mask)

    assert "hand_drop" in list_operators("spatial_local")
    keypoints, mask, lengths = make_batch()
    assert not build_operator("hand_drop")(keypoints, mask, lengths).mask[:, :, LEFT_HAND.offset :].any()
    with pytest.raises(ValueError, match="already registered"):
        register_operator("hand_drop", level="spatial_local")(lambda *args, **kwargs: None)


# The contract every registered operator keeps.


@pytest.mark.parametrize("name", ALL_OPERATORS)
def test_operator_keeps_shapes_and_dtypes(name):
    keypoints, mask, lengths = make_batch()
    perturbed = run(name, keypoints, mask, lengths)
    assert perturbed.keypoints.shape == keypoints.shape and perturbed.keypoints.dtype == keypoints.dtype
    assert perturbed.mask.shape == mask.shape and perturbed.mask.dtype == torch.bool


@pytest.mark.parametrize("name", ALL_OPERATORS)
def test_operator_keeps_half_precision(name):
    keypoints, mask, lengths = make_batch(dtype=torch.float16)
    assert run(name, keypoints, mask, lengths).keypoints.dtype == torch.float16


@pytest.mark.parametrize("name", ALL_OPERATORS)
def test_operator_does_not_modify_its_input(name):
    keypoints, mask, lengths = make_batch()
    copies = keypoints.clone(), mask.clone(), lengths.clone()
    run(name, keypoints, mask, lengths)
    assert torch.equal(keypoints, copies[0]) and torch.equal(mask, copies[1]) and torch.equal(lengths, copies[2])


@pytest.mark.parametrize("name", ALL_OPERATORS)
def test_operator_leaves_padding_untouched(name):
    keypoints, mask, lengths = make_batch()
    perturbed = run(name, keypoints, mask, lengths, strength=1.0)
    padding = ~valid()
    assert torch.equal(perturbed.keypoints[padding], keypoints[padding])
    assert torch.equal(perturbed.mask[padding], mask[padding])


@pytest.mark.parametrize("name", ALL_OPERATORS)
def test_operator_changes_the_valid_frames(name):
    keypoints, mask, lengths = make_batch()
    perturbed = run(name, keypoints, mask, lengths)
    assert not torch.equal(perturbed.keypoints, keypoints) or not torch.equal(perturbed.mask, mask)


@pytest.mark.parametrize("name", ALL_OPERATORS)
def test_operator_is_reproducible_for_a_seed(name):
    keypoints, mask, lengths = make_batch()
    first, second = run(name, keypoints, mask, lengths, seed=3), run(name, keypoints, mask, lengths, seed=3)
    assert torch.equal(first.keypoints, second.keypoints) and torch.equal(first.mask, second.mask)


@pytest.mark.parametrize("name", [name for name in ALL_OPERATORS if get_operator_spec(name).randomized])
def test_randomized_operator_differs_across_seeds(name):
    keypoints, mask, lengths = make_batch()
    first, second = run(name, keypoints, mask, lengths, seed=0), run(name, keypoints, mask, lengths, seed=1)
    assert not torch.equal(first.keypoints, second.keypoints) or not torch.equal(first.mask, second.mask)


@pytest.mark.parametrize("name", [name for name in ALL_OPERATORS if not get_operator_spec(name).randomized])
def test_fixed_operator_ignores_the_seed(name):
    keypoints, mask, lengths = make_batch()
    first, second = run(name, keypoints, mask, lengths, seed=0), run(name, keypoints, mask, lengths, seed=1)
    assert torch.equal(first.keypoints, second.keypoints) and torch.equal(first.mask, second.mask)


@pytest.mark.parametrize(
    "name",
    ["joint_permutation", "skeleton_displacement", "handshape_change", "hand_relocation", "face_freeze", "face_drop"],
)
def test_spatial_operator_at_strength_zero_changes_nothing(name):
    keypoints, mask, lengths = make_batch()
    perturbed = run(name, keypoints, mask, lengths, strength=0.0)
    assert torch.equal(perturbed.keypoints, keypoints) and torch.equal(perturbed.mask, mask)


# Confidences travel with the points (the "unisign" input convention feeds them to the model).


def confidence_of(keypoints: torch.Tensor) -> torch.Tensor:
    """Confidences in (0, 1] that name their point: a function of its first coordinate."""
    return (keypoints[..., 0].abs() + 1) / 4096


def make_point_tracer() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch whose every point carries its own frame and joint (`100 x frame + joint`), all observed."""
    keypoints, mask, lengths = make_batch()
    frame = torch.arange(NUM_FRAMES, dtype=torch.float32)[None, :, None]
    joint = torch.arange(NUM_CANONICAL_JOINTS, dtype=torch.float32)[None, None, :]
    identity = (100 * frame + joint).expand(keypoints.shape[:3])
    return identity[..., None].repeat(1, 1, 1, 2), torch.ones_like(mask), lengths


def test_every_built_in_operator_carries_confidences():
    assert [name for name in ALL_OPERATORS if not get_operator_spec(name).carries_confidence] == []


@pytest.mark.parametrize("name", ALL_OPERATORS)
def test_operator_draws_the_same_pose_whether_or_not_it_carries_confidences(name):
    keypoints, mask, lengths = make_batch()
    confidence = torch.rand(mask.shape, generator=torch.Generator().manual_seed(5))
    plain = run(name, keypoints, mask, lengths, seed=2, strength=1.0)
    carried = run(name, keypoints, mask, lengths, seed=2, strength=1.0, confidence=confidence)
    assert plain.confidence is None
    assert torch.equal(carried.keypoints, plain.keypoints) and torch.equal(carried.mask, plain.mask)
    assert carried.confidence.shape == confidence.shape and carried.confidence.dtype == confidence.dtype
    assert torch.equal(carried.confidence[~valid()], confidence[~valid()])


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("joint_permutation", {}),
        ("hand_swap", {}),
        ("sequence_reversal", {}),
        ("segment_shuffle", {}),
        ("window_shuffle", {}),
        ("window_drop", {}),
        ("window_repeat", {}),
        ("window_freeze", {}),
        ("attention_guided", {"operators": ("window_freeze", "window_shuffle", "window_drop")}),
    ],
)
def test_operator_that_moves_points_moves_their_confidences_with_them(name, options):
    keypoints, mask, lengths = make_point_tracer()
    perturbed = run(name, keypoints, mask, lengths, strength=1.0, confidence=confidence_of(keypoints), **options)
    assert not torch.equal(perturbed.keypoints, keypoints)
    real = valid()
    assert torch.equal(perturbed.confidence[real], confidence_of(perturbed.keypoints)[real])


@pytest.mark.parametrize("mode", ["donor", "flexion"])
def test_handshape_change_gives_a_reshaped_finger_the_confidence_of_the_hand_it_comes_from(mode):
    keypoints, mask, lengths = make_batch()
    mask = torch.ones_like(mask)
    own = torch.tensor([0.4, 0.5, 0.6, 0.7])[:, None, None].expand(mask.shape)
    perturbed = handshape_change(
        keypoints, mask, lengths, torch.Generator().manual_seed(0), strength=1.0, mode=mode, confidence=own
    )
    changed = (perturbed.keypoints != keypoints).any(-1) & valid()[..., None]
    assert changed.any()
    if mode == "flexion":
        assert torch.equal(perturbed.confidence, own)
    else:
        # Each sample's fingers come from another sample of the batch, and bring that sample's confidence.
        assert (perturbed.confidence[changed] != own[changed]).all()
        assert torch.equal(perturbed.confidence[~changed], own[~changed])


def test_face_drop_zeroes_the_confidence_of_the_points_it_drops():
    keypoints, mask, lengths = make_batch()
    confidence = torch.full(mask.shape, 0.8)
    perturbed = face_drop(keypoints, mask, lengths, torch.Generator().manual_seed(0), 1.0, confidence=confidence)
    face = joints_of("face")
    assert (perturbed.confidence[:, :, face][valid()] == 0).all()
    assert (perturbed.confidence[:, :, : FACE.offset] == 0.8).all()


def test_an_operator_without_a_confidence_parameter_leaves_each_confidence_in_place(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_operator("hand_hide", level="spatial_local")
    def hand_hide(keypoints, mask, lengths, generator=None, strength=1.0):
        new_mask = mask.clone()
        new_mask[:, :, LEFT_HAND.offset] = False
        return PerturbedBatch(keypoints.flip(1), new_mask)

    keypoints, mask, lengths = make_batch()
    confidence = torch.rand(mask.shape, generator=torch.Generator().manual_seed(1))
    perturbed = build_operator("hand_hide")(keypoints, mask, lengths, confidence=confidence)
    assert not get_operator_spec("hand_hide").carries_confidence
    assert torch.equal(perturbed.confidence, torch.where(perturbed.mask, confidence, 0))


# Spatial operators.


@pytest.mark.parametrize("name", ["joint_permutation", "hand_swap", "skeleton_displacement"])
def test_global_spatial_operator_changes_every_valid_frame(name):
    keypoints, mask, lengths = make_batch()
    perturbed = run(name, keypoints, mask, lengths, strength=0.2)
    frame_changed = (perturbed.keypoints != keypoints).flatten(2).any(-1)
    assert frame_changed[valid()].all()


def test_joint_permutation_only_moves_joints_within_their_part():
    keypoints, mask, lengths = make_batch()
    perturbed = joint_permutation(keypoints, mask, lengths, torch.Generator().manual_seed(0), strength=1.0)
    for part in CANONICAL_PARTS.values():
        joints = list(part.indices)
        before = keypoints[:, :, joints, 0].sort(-1).values
        after = perturbed.keypoints[:, :, joints, 0].sort(-1).values
        assert torch.equal(before, after)
        # Strength 1: every joint of the part moves.
        assert (perturbed.keypoints[:, :, joints] != keypoints[:, :, joints]).any(-1)[valid()].float().mean() > 0.9


def test_hand_swap_exchanges_the_hands_in_place_without_mirroring():
    keypoints, mask, lengths = make_batch()
    perturbed = hand_swap(keypoints, mask, lengths)
    left, right = joints_of("left_hand"), joints_of("right_hand")
    real = valid()
    assert torch.equal(perturbed.keypoints[:, :, left][real], keypoints[:, :, right][real])
    assert torch.equal(perturbed.keypoints[:, :, right][real], keypoints[:, :, left][real])
    assert torch.equal(perturbed.mask[:, :, left][real], mask[:, :, right][real])
    for side_a, side_b in (("left_wrist", "right_wrist"), ("left_elbow", "right_elbow")):
        a, b = BODY_POINT[side_a], BODY_POINT[side_b]
        assert torch.equal(perturbed.keypoints[:, :, a][real], keypoints[:, :, b][real])
    untouched = [j for j in range(NUM_CANONICAL_JOINTS) if j not in left + right + [5, 6, 7, 8]]
    assert torch.equal(perturbed.keypoints[:, :, untouched], keypoints[:, :, untouched])


def test_hand_swap_twice_is_the_identity():
    keypoints, mask, lengths = make_batch()
    once = hand_swap(keypoints, mask, lengths)
    twice = hand_swap(once.keypoints, once.mask, lengths)
    assert torch.equal(twice.keypoints, keypoints) and torch.equal(twice.mask, mask)


def test_skeleton_displacement_is_one_offset_per_joint_held_over_frames():
    keypoints, mask, lengths = make_batch()
    perturbed = skeleton_displacement(keypoints, mask, lengths, torch.Generator().manual_seed(0), strength=1.0)
    offset = perturbed.keypoints - keypoints
    observed = mask & valid()[:, :, None]
    reference = offset[:, :1]
    held = (offset - reference).abs().amax(-1) < 1e-5
    assert held[observed & mask[:, :1]].all()
    assert torch.equal(offset[~mask], torch.zeros_like(offset[~mask]))
    assert torch.equal(perturbed.mask, mask)


def test_handshape_change_reshapes_fingers_of_one_hand_only():
    keypoints, mask, lengths = make_batch()
    perturbed = handshape_change(keypoints, mask, lengths, torch.Generator().manual_seed(0), strength=1.0)
    changed = ((perturbed.keypoints != keypoints).any(-1) | (perturbed.mask != mask)).any(1)  # B x J
    left, right = joints_of("left_hand"), joints_of("right_hand")
    fingers_left, fingers_right = left[1:], right[1:]
    others = [j for j in range(NUM_CANONICAL_JOINTS) if j not in fingers_left + fingers_right]
    assert not changed[:, others].any()
    assert (changed[:, fingers_left].any(1) ^ changed[:, fingers_right].any(1)).all()


@pytest.mark.parametrize("mode", ["donor", "flexion"])
def test_handshape_change_modes_change_every_chosen_finger(mode):
    keypoints, mask, lengths = make_batch()
    mask = torch.ones_like(mask)
    perturbed = handshape_change(
        keypoints, mask, lengths, torch.Generator().manual_seed(0), strength=1.0, hand="left", mode=mode
    )
    above_finger_bases = [LEFT_HAND.offset + i for i in range(1, 21) if i % 4 != 1]
    moved = (perturbed.keypoints[:, :, above_finger_bases] != keypoints[:, :, above_finger_bases]).any(-1)
    assert moved[valid()].float().mean() > 0.95


def test_handshape_change_works_on_a_single_sample():
    keypoints, mask, lengths = make_batch()
    perturbed = handshape_change(keypoints[:1], mask[:1], lengths[:1], torch.Generator().manual_seed(0))
    assert not torch.equal(perturbed.keypoints, keypoints[:1])
    with pytest.raises(ValueError, match="at least two"):
        handshape_change(keypoints[:1], mask[:1], lengths[:1], mode="donor")


def test_hand_relocation_translates_one_hand_and_its_arm_rigidly():
    keypoints, mask, lengths = make_batch()
    perturbed = hand_relocation(keypoints, mask, lengths, torch.Generator().manual_seed(0), strength=1.0, hand="left")
    hand = joints_of("left_hand") + [BODY_POINT["left_wrist"]]
    elbow = BODY_POINT["left_elbow"]
    offset = perturbed.keypoints - keypoints
    observed = mask & valid()[:, :, None]
    for b, length in enumerate(LENGTHS.tolist()):
        hand_offsets = offset[b, :length, hand][observed[b, :length, hand]]
        assert torch.allclose(hand_offsets, hand_offsets[:1].expand_as(hand_offsets), atol=1e-5)
        assert hand_offsets[0].norm() > 0
        elbow_offsets = offset[b, :length, elbow][observed[b, :length, elbow]]
        assert torch.allclose(elbow_offsets, 0.5 * hand_offsets[:1].expand_as(elbow_offsets), atol=1e-5)
    others = [j for j in range(NUM_CANONICAL_JOINTS) if j not in hand + [elbow]]
    assert torch.equal(perturbed.keypoints[:, :, others], keypoints[:, :, others])
    assert torch.equal(perturbed.mask, mask)


def test_hand_relocation_lands_the_hand_on_a_body_anchor():
    keypoints, mask, lengths = make_batch()
    mask = torch.ones_like(mask)
    perturbed = hand_relocation(keypoints, mask, lengths, torch.Generator().manual_seed(0), strength=1.0, hand="left")
    real = valid()[:, :, None]
    wrist = LEFT_HAND.offset
    new_location = (perturbed.keypoints[:, :, wrist] * real).sum(1) / LENGTHS[:, None]
    nose = (keypoints[:, :, BODY_POINT["nose"]] * real).sum(1) / LENGTHS[:, None]
    shoulders = [
        (keypoints[:, :, BODY_POINT[s]] * real).sum(1) / LENGTHS[:, None] for s in ("left_shoulder", "right_shoulder")
    ]
    mid = (shoulders[0] + shoulders[1]) / 2
    up = nose - mid
    anchors = torch.stack((nose + 0.4 * up, nose, nose - 0.3 * up, mid - 0.7 * up, *shoulders), dim=1)
    assert ((anchors - new_location[:, None]).norm(dim=-1).amin(1) < 1e-4).all()


def test_face_freeze_holds_face_and_head_at_their_first_observed_position():
    keypoints, mask, lengths = make_batch()
    perturbed = face_freeze(keypoints, mask, lengths, strength=1.0)
    region = list(FACE.indices) + HEAD
    observed = mask & valid()[:, :, None]
    for b, length in enumerate(LENGTHS.tolist()):
        for j in region:
            seen = observed[b, :length, j]
            if seen.any():
                values = perturbed.keypoints[b, :length, j][seen]
                assert torch.equal(values, values[:1].expand_as(values))
                assert torch.equal(values[0], keypoints[b, int(seen.float().argmax()), j])
    others = [j for j in range(NUM_CANONICAL_JOINTS) if j not in region]
    assert torch.equal(perturbed.keypoints[:, :, others], keypoints[:, :, others])
    assert torch.equal(perturbed.mask, mask)


def test_face_drop_masks_out_the_whole_face_at_full_strength():
    keypoints, mask, lengths = make_batch()
    perturbed = face_drop(keypoints, mask, lengths, strength=1.0)
    face, real = list(FACE.indices), valid()
    assert not perturbed.mask[:, :, face][real].any()
    assert (perturbed.keypoints[:, :, face][real] == 0).all()
    others = [j for j in range(NUM_CANONICAL_JOINTS) if j not in face]
    assert torch.equal(perturbed.mask[:, :, others], mask[:, :, others])
    assert torch.equal(perturbed.keypoints[:, :, others], keypoints[:, :, others])


def test_face_drop_strength_is_the_fraction_of_face_points_dropped():
    keypoints, mask, lengths = make_batch()
    perturbed = face_drop(keypoints, torch.ones_like(mask), lengths, torch.Generator().manual_seed(0), strength=0.5)
    dropped = ~perturbed.mask[:, 0, list(FACE.indices)]
    assert dropped.sum(1).tolist() == [9] * len(LENGTHS)


# Temporal operators: every output frame is traced back to its input frame.


def test_sequence_reversal_maps_frame_t_to_length_minus_one_minus_t():
    keypoints, mask, lengths = make_frame_tracer()
    source = source_frames(sequence_reversal(keypoints, mask, lengths))
    for b, length in enumerate(LENGTHS.tolist()):
        assert source[b, :length].tolist() == list(range(length - 1, -1, -1))


def test_sequence_reversal_twice_is_the_identity():
    keypoints, mask, lengths = make_batch()
    once = sequence_reversal(keypoints, mask, lengths)
    twice = sequence_reversal(once.keypoints, once.mask, lengths)
    assert torch.equal(twice.keypoints, keypoints) and torch.equal(twice.mask, mask)


@pytest.mark.parametrize("strength", [0.0, 0.5, 1.0])
def test_segment_shuffle_reorders_whole_segments(strength):
    keypoints, mask, lengths = make_frame_tracer()
    source = source_frames(segment_shuffle(keypoints, mask, lengths, torch.Generator().manual_seed(0), strength))
    segments = 2 + round(strength * 6)
    for b, length in enumerate(LENGTHS.tolist()):
        order = source[b, :length].tolist()
        assert sorted(order) == list(range(length)) and order != list(range(length))
        # Jumps between consecutive output frames happen only at segment boundaries.
        jumps = sum(1 for a, c in zip(order, order[1:]) if c != a + 1)
        assert jumps <= min(segments, length) - 1


@pytest.mark.parametrize("strength", [0.1, 0.5])
def test_window_shuffle_moves_every_frame_of_one_window_within_it(strength):
    keypoints, mask, lengths = make_frame_tracer()
    source = source_frames(window_shuffle(keypoints, mask, lengths, torch.Generator().manual_seed(0), strength))
    for b, length in enumerate(LENGTHS.tolist()):
        order = source[b, :length]
        moved = (order != torch.arange(length)).nonzero().flatten()
        width = min(length, max(2, round(strength * length)))
        assert sorted(order.tolist()) == list(range(length))
        assert len(moved) == width and moved.max() - moved.min() == width - 1


@pytest.mark.parametrize("strength", [0.1, 0.5, 1.0])
def test_window_drop_removes_one_window_and_keeps_the_rest_in_order(strength):
    keypoints, mask, lengths = make_frame_tracer()
    source = source_frames(window_drop(keypoints, mask, lengths, torch.Generator().manual_seed(0), strength))
    for b, length in enumerate(LENGTHS.tolist()):
        order = source[b, :length]
        assert (order[1:] >= order[:-1]).all()
        missing = sorted(set(range(length)) - set(order.tolist()))
        width = min(length - 1, max(1, round(strength * length)))
        assert len(missing) == width and missing[-1] - missing[0] == width - 1


@pytest.mark.parametrize("strength", [0.1, 0.3, 1.0])
def test_window_repeat_copies_one_window_over_the_frames_that_follow(strength):
    keypoints, mask, lengths = make_frame_tracer()
    source = source_frames(window_repeat(keypoints, mask, lengths, torch.Generator().manual_seed(0), strength))
    for b, length in enumerate(LENGTHS.tolist()):
        order = source[b, :length]
        width = min(length // 2, max(1, round(strength * length)))
        copied = (order != torch.arange(length)).nonzero().flatten()
        assert len(copied) == width
        start = int(copied[0]) - width
        assert order[copied].tolist() == list(range(start, start + width))


@pytest.mark.parametrize("strength", [0.1, 0.5])
def test_window_freeze_holds_the_first_frame_of_one_window(strength):
    keypoints, mask, lengths = make_frame_tracer()
    source = source_frames(window_freeze(keypoints, mask, lengths, torch.Generator().manual_seed(0), strength))
    for b, length in enumerate(LENGTHS.tolist()):
        order = source[b, :length]
        width = min(length, max(2, round(strength * length)))
        held = (order != torch.arange(length)).nonzero().flatten()
        assert len(held) == width - 1
        assert (order[held] == held[0] - 1).all() and held.max() - held.min() == width - 2


@pytest.mark.parametrize("name", BUILT_IN["temporal_global"] + BUILT_IN["temporal_local"])
def test_temporal_operator_only_moves_whole_frames_within_the_sequence(name):
    keypoints, mask, lengths = make_batch()
    perturbed = run(name, keypoints, mask, lengths, strength=0.7)
    for b, length in enumerate(LENGTHS.tolist()):
        inputs = keypoints[b, :length].flatten(1)
        outputs = perturbed.keypoints[b, :length].flatten(1)
        assert (outputs[:, None] == inputs[None]).all(-1).any(1).all()


# Attention-guided perturbation.


def test_salience_top_k_selects_the_most_salient_valid_frames():
    salience = torch.tensor([[0.1, 0.5, 0.3, 0.9, 0.0, 0.2], [0.2, 0.8, 0.1, 0.0, 5.0, 5.0]])
    lengths = torch.tensor([6, 4])
    expected = torch.tensor([[0, 1, 0, 1, 0, 0], [1, 1, 0, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(salience_top_k(salience, lengths, 2), expected)
    # More frames than a sequence has: all its valid frames, never padding.
    assert salience_top_k(salience, lengths, 5)[1].tolist() == [True, True, True, True, False, False]
    # A fraction rounds up per sequence: ceil(0.5 * 6) = 3 and ceil(0.5 * 4) = 2.
    assert salience_top_k(salience, lengths, 0.5).sum(1).tolist() == [3, 2]


def test_salience_top_k_sums_part_salience_and_breaks_ties_towards_earlier_frames():
    salience = torch.tensor([[[0.1, 0.1, 0.0, 0.0], [0.2, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.3]]])
    assert salience_top_k(salience, torch.tensor([3]), 2).tolist() == [[True, False, True]]


@pytest.mark.parametrize(
    "operators", [("salient_part",), ("handshape_change",), ("face_freeze",), ("window_freeze",), ("window_shuffle",)]
)
def test_attention_guided_perturbation_changes_only_the_top_k_frames(operators):
    keypoints, mask, lengths = make_batch()
    salience = salience_for(len(LENGTHS), NUM_FRAMES)
    perturbed = attention_guided_perturbation(
        keypoints,
        mask,
        lengths,
        salience,
        torch.Generator().manual_seed(0),
        strength=1.0,
        top_k=3,
        operators=operators,
    )
    top = salience_top_k(salience, lengths, 3)
    changed = ((perturbed.keypoints != keypoints).any(-1) | (perturbed.mask != mask)).any(-1)
    assert not changed[~top].any()
    assert changed.any()


def test_attention_guided_perturbation_hits_the_most_salient_part():
    keypoints, mask, lengths = make_batch()
    salience = torch.zeros(len(LENGTHS), NUM_FRAMES, 4)
    salience[:, :, 3] = 1.0  # the face everywhere ...
    salience[:, 1, 3] = 2.0  # ... most of all at frame 1
    salience[:, 0, 1] = 3.0  # the left hand, at frame 0
    perturbed = attention_guided_perturbation(
        keypoints, mask, lengths, salience, torch.Generator().manual_seed(0), top_k=2, operators=("salient_part",)
    )
    changed = (perturbed.keypoints != keypoints).any(-1)
    left_fingers = joints_of("left_hand")[1:]
    face = list(FACE.indices) + HEAD
    assert changed[:, 0, left_fingers].any(-1)[LENGTHS > 0].all()
    assert not changed[:, 0, [j for j in range(NUM_CANONICAL_JOINTS) if j not in left_fingers]].any()
    assert not changed[:, 1, [j for j in range(NUM_CANONICAL_JOINTS) if j not in face]].any()
    assert changed[LENGTHS > 1, 1][:, face].any(-1).all()


def test_attention_guided_window_drop_removes_the_salient_frames():
    keypoints, mask, lengths = make_frame_tracer()
    salience = salience_for(len(LENGTHS), NUM_FRAMES)[..., 0]
    perturbed = attention_guided_perturbation(keypoints, mask, lengths, salience, top_k=3, operators=("window_drop",))
    top = salience_top_k(salience, lengths, 3)
    source = source_frames(perturbed)
    for b, length in enumerate(LENGTHS.tolist()):
        if length > 3:
            assert set(source[b, :length].tolist()) == set(range(length)) - set(top[b].nonzero().flatten().tolist())


def test_attention_guided_perturbation_maps_encoder_positions_to_frames():
    keypoints, mask, lengths = make_batch()
    salience = torch.zeros(len(LENGTHS), NUM_FRAMES // 2)
    salience[:, 2] = 1.0  # covers frames 4 and 5
    perturbed = attention_guided_perturbation(
        keypoints, mask, lengths, salience, top_k=2, operators=("window_freeze",)
    )
    changed = (perturbed.keypoints != keypoints).flatten(2).any(-1)
    assert changed[:3].nonzero()[:, 1].unique().tolist() == [4, 5]


def test_attention_guided_perturbation_refuses_an_operator_it_cannot_restrict_to_frames():
    keypoints, mask, lengths = make_batch()
    salience = salience_for(len(LENGTHS), NUM_FRAMES)
    with pytest.raises(ValueError, match="salient"):
        attention_guided_perturbation(keypoints, mask, lengths, salience, operators=("sequence_reversal",))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ALL_OPERATORS)
def test_operator_runs_on_the_batch_device_with_a_cpu_generator(name):
    keypoints, mask, lengths = make_batch()
    on_cpu = run(name, keypoints, mask, lengths)
    options = (
        {"salience": salience_for(len(LENGTHS), NUM_FRAMES).cuda()}
        if get_operator_spec(name).requires_salience
        else {}
    )
    on_gpu = run(name, keypoints.cuda(), mask.cuda(), lengths.cuda(), **options)
    assert on_gpu.keypoints.is_cuda and torch.equal(on_gpu.mask.cpu(), on_cpu.mask)
    assert torch.allclose(on_gpu.keypoints.cpu(), on_cpu.keypoints, atol=1e-4)


def test_body_size_is_the_mean_shoulder_width_else_the_extent_of_the_observed_points_else_one():
    from signdpo_trl.perturbations.spatial import body_size

    left, right = BODY_POINT_NAMES.index("left_shoulder"), BODY_POINT_NAMES.index("right_shoulder")
    keypoints = torch.zeros(3, 4, NUM_CANONICAL_JOINTS, 3)
    mask = torch.zeros(3, 4, NUM_CANONICAL_JOINTS, dtype=torch.bool)
    lengths = torch.tensor([4, 3, 4])
    # Sample 0: shoulders 2 then 4 apart (in x, y), depth ignored.
    keypoints[0, :, right, 0] = 1.0
    keypoints[0, :2, left, 0], keypoints[0, 2:, left, 0] = 3.0, 5.0
    keypoints[0, :, left, 2] = 100.0
    mask[0, :, [left, right]] = True
    # Sample 1: no right shoulder; observed points span 6 in y (a point past its length does not count).
    mask[1, :3, 40] = mask[1, :3, 60] = True
    keypoints[1, :3, 40, 1], keypoints[1, :3, 60, 1] = -2.0, 4.0
    keypoints[1, 3, 40, 1], mask[1, 3, 40] = 50.0, True
    # Sample 2: nothing observed.
    expected = torch.tensor([3.0, 6.0, 1.0])
    torch.testing.assert_close(body_size(keypoints, mask, lengths), expected)
    # A batch where every sample has shoulders gives their widths alone.
    torch.testing.assert_close(body_size(keypoints[:1], mask[:1], lengths[:1]), expected[:1])
