import numpy as np
import pytest
import torch
from pose_format import Pose

from signdpo_trl.data.canonical import (
    CANONICAL_FROM_COCO_WHOLEBODY,
    CANONICAL_PARTS,
    FACE_IBUG68,
    HAND_EDGES,
    NUM_CANONICAL_JOINTS,
)
from signdpo_trl.data.layouts import (
    COCO_WHOLEBODY133,
    HAND21,
    HOLISTIC543,
    HOLISTIC553,
    HOLISTIC586,
    HOLISTIC_REDUCED178,
    IBUG68_TO_FACE_MESH,
    LAYOUTS,
    OPENPOSE137,
    LayoutComponent,
    detect_layout,
    get_layout,
    to_canonical,
)


FIXTURE_LAYOUTS = {
    "mediapipe.pose": "holistic_reduced178",
    "mediapipe_hand_normalized.pose": "hand21",
    "openpose.pose": "openpose137",
    "holistic_v02_short.pose": "holistic586",
    "sgg_kleine.pose": "holistic_reduced178",
    "sgg_kinder.pose": "holistic_reduced178",
}
LEFT_HAND = CANONICAL_PARTS["left_hand"].indices
RIGHT_HAND = CANONICAL_PARTS["right_hand"].indices


def undirected(limbs):
    return {tuple(sorted(limb)) for limb in limbs}


def read_header(fixtures_dir, name):
    return Pose.read((fixtures_dir / name).read_bytes()).header


def test_layout_sizes():
    sizes = {name: layout.num_points for name, layout in LAYOUTS.items()}
    assert sizes == {
        "unisign69": 69,
        "coco_wholebody133": 133,
        "holistic543": 543,
        "holistic553": 553,
        "holistic586": 586,
        "holistic_reduced178": 178,
        "openpose137": 137,
        "hand21": 21,
    }


def test_every_layout_maps_all_canonical_joints_to_valid_indices():
    for layout in LAYOUTS.values():
        assert layout.canonical_index.shape == (NUM_CANONICAL_JOINTS,)
        assert ((layout.canonical_index >= -1) & (layout.canonical_index < layout.num_points)).all()


@pytest.mark.parametrize("name, expected", sorted(FIXTURE_LAYOUTS.items()))
def test_detect_layout_from_fixture_header(fixtures_dir, name, expected):
    assert detect_layout(read_header(fixtures_dir, name).components).name == expected


@pytest.mark.parametrize("name", sorted(FIXTURE_LAYOUTS))
def test_registered_point_names_match_fixture_headers(fixtures_dir, name):
    layout = get_layout(FIXTURE_LAYOUTS[name])
    header = read_header(fixtures_dir, name)
    assert [(c.name, tuple(c.points)) for c in header.components] == [(c.name, c.points) for c in layout.components]


def test_hand_limbs_match_fixture_headers(fixtures_dir):
    for name, layout in (("mediapipe.pose", HOLISTIC_REDUCED178), ("openpose.pose", OPENPOSE137)):
        for header_component, component in zip(read_header(fixtures_dir, name).components[2:], layout.components[2:]):
            assert undirected(header_component.limbs) == undirected(component.limbs)


def test_detect_layout_accepts_names_and_sizes():
    assert detect_layout([("POSE_LANDMARKS", 33), ("FACE_LANDMARKS", 468)] + [
        ("LEFT_HAND_LANDMARKS", 21), ("RIGHT_HAND_LANDMARKS", 21)
    ]) is HOLISTIC543  # fmt: skip
    assert detect_layout(COCO_WHOLEBODY133.component_signature) is COCO_WHOLEBODY133
    assert detect_layout(HOLISTIC553.component_signature) is HOLISTIC553


def test_detect_layout_rejects_unknown_components():
    with pytest.raises(ValueError, match="No known skeleton layout"):
        detect_layout([("BODY_135", 135)])


def test_reduced_face_with_other_mesh_points_is_resolved_by_name():
    face_points = ("4",) + tuple(str(i) for i in range(1000, 1127))  # the nose tip present, nothing else
    components = [
        HOLISTIC_REDUCED178.components[0],
        LayoutComponent("FACE_LANDMARKS", face_points),
        *HOLISTIC_REDUCED178.components[2:],
    ]
    layout = detect_layout(components)
    face = CANONICAL_PARTS["face"]
    assert layout.canonical_index[face.offset + face.anchor] == 8  # first face point, after 8 pose points
    assert (layout.canonical_index[face.offset : face.offset + face.anchor] == -1).all()


def test_coco_wholebody_mapping_is_canonical_table():
    assert tuple(COCO_WHOLEBODY133.canonical_index) == CANONICAL_FROM_COCO_WHOLEBODY


def test_mediapipe_body_correspondence():
    body = HOLISTIC543.canonical_index[:9]
    # nose, left ear, right ear, left/right shoulder, left/right elbow, left/right wrist
    assert tuple(body) == (0, 7, 8, 11, 12, 13, 14, 15, 16)


def test_openpose_body_correspondence():
    assert tuple(OPENPOSE137.canonical_index[:9]) == (0, 18, 17, 5, 2, 6, 3, 7, 4)


def test_face_correspondences():
    face = CANONICAL_PARTS["face"].indices
    assert tuple(OPENPOSE137.canonical_index[face.start : face.stop]) == tuple(25 + k for k in FACE_IBUG68)
    mesh = tuple(IBUG68_TO_FACE_MESH[k] for k in FACE_IBUG68)
    assert tuple(HOLISTIC543.canonical_index[face.start : face.stop]) == tuple(33 + m for m in mesh)
    assert IBUG68_TO_FACE_MESH[30] == 4  # nose tip
    assert len(IBUG68_TO_FACE_MESH) == 68 and max(IBUG68_TO_FACE_MESH) < 468


def test_reduced_holistic_lacks_nose_ears_and_nose_tip():
    assert HOLISTIC_REDUCED178.missing_canonical_joints() == (
        "body/nose",
        "body/left_ear",
        "body/right_ear",
        "face/nose_tip",
    )


def test_full_layouts_lack_nothing():
    for layout in (COCO_WHOLEBODY133, HOLISTIC543, HOLISTIC553, HOLISTIC586, OPENPOSE137):
        assert layout.missing_canonical_joints() == ()


def test_holistic586_ignores_world_landmarks():
    world = HOLISTIC586.component_offset("POSE_WORLD_LANDMARKS")
    assert (HOLISTIC586.canonical_index < world).all()


def test_hand21_maps_only_the_right_hand():
    present = HAND21.canonical_index >= 0
    assert present.nonzero()[0].tolist() == list(RIGHT_HAND)
    assert tuple(HAND21.canonical_index[RIGHT_HAND.start : RIGHT_HAND.stop]) == tuple(range(21))


@pytest.mark.parametrize("layout", [COCO_WHOLEBODY133, HOLISTIC543, HOLISTIC586, HOLISTIC_REDUCED178, OPENPOSE137])
def test_hands_are_copied_point_for_point(layout):
    for part, component in ((LEFT_HAND, 0), (RIGHT_HAND, 1)):
        hand_components = [c for c in layout.components if c.size == 21]
        offset = layout.component_offset(hand_components[component].name)
        assert tuple(layout.canonical_index[part.start : part.stop]) == tuple(range(offset, offset + 21))


def test_hand_order_is_the_same_in_mediapipe_and_openpose(fixtures_dir):
    """Both headers list the wrist first, then four points per finger, thumb to little finger, and draw the same
    finger chains: so hand point i is the same landmark in both (and in COCO-WholeBody, which uses OpenPose's)."""
    mediapipe = read_header(fixtures_dir, "mediapipe.pose").components[3]
    openpose = read_header(fixtures_dir, "openpose.pose").components[3]
    fingers = {"THUMB": "T", "INDEX": "I", "MIDDLE": "M", "RING": "R", "PINKY": "P"}
    assert mediapipe.points[0] == "WRIST" and openpose.points[0] == "BASE"
    for i in range(1, 21):
        assert fingers[mediapipe.points[i].split("_")[0]] == openpose.points[i].split("_")[0]
        assert (i - 1) // 4 == list(fingers).index(mediapipe.points[i].split("_")[0])

    def finger_chains(limbs):
        return {edge for edge in undirected(limbs) if 0 not in edge and (edge[0] - 1) // 4 == (edge[1] - 1) // 4}

    assert undirected(openpose.limbs) == undirected(HAND_EDGES)
    assert finger_chains(mediapipe.limbs) == finger_chains(HAND_EDGES)
    # MediaPipe joins the wrist to the thumb, index and little finger bases and draws the knuckle line instead.
    wrist_and_knuckles = {(0, 1), (0, 5), (0, 17), (5, 9), (9, 13), (13, 17)}
    assert undirected(mediapipe.limbs) - finger_chains(HAND_EDGES) == wrist_and_knuckles


def test_to_canonical_gathers_and_masks_numpy():
    rng = np.random.default_rng(0)
    keypoints = rng.normal(size=(4, 178, 3)).astype(np.float32)
    confidence = rng.uniform(0.5, 1, size=(4, 178)).astype(np.float32)
    canonical, canonical_confidence = to_canonical(keypoints, confidence, HOLISTIC_REDUCED178)
    assert canonical.shape == (4, 69, 3) and canonical_confidence.shape == (4, 69)
    index = HOLISTIC_REDUCED178.canonical_index
    present = index >= 0
    np.testing.assert_array_equal(canonical[:, present], keypoints[:, index[present]])
    np.testing.assert_array_equal(canonical[:, ~present], 0)
    np.testing.assert_array_equal(canonical_confidence[:, ~present], 0)


def test_to_canonical_torch_matches_numpy():
    rng = np.random.default_rng(1)
    keypoints = rng.normal(size=(2, 5, 137, 2)).astype(np.float32)
    confidence = rng.uniform(size=(2, 5, 137)).astype(np.float32)
    expected = to_canonical(keypoints, confidence, "openpose137")
    got = to_canonical(torch.from_numpy(keypoints), torch.from_numpy(confidence), "openpose137")
    np.testing.assert_array_equal(got[0].numpy(), expected[0])
    np.testing.assert_array_equal(got[1].numpy(), expected[1])


def test_to_canonical_rejects_wrong_point_count():
    with pytest.raises(ValueError, match="133 points"):
        to_canonical(np.zeros((3, 137, 2)), np.zeros((3, 137)), "coco_wholebody133")


def test_get_layout_unknown_name():
    with pytest.raises(KeyError, match="known layouts"):
        get_layout("smplx")
