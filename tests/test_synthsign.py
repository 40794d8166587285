"""SynthSign: schema, signer-disjoint splits, minimal pairs, markers, determinism, handedness, files."""

import re

import numpy as np
import pytest

from signdpo_trl.data.canonical import CANONICAL_PARTS
from signdpo_trl.data.synthetic import (
    HANDSHAPES,
    LOCATIONS,
    MOVEMENTS,
    PARAMETERS,
    PATTERNS,
    SynthSignConfig,
    SynthSignGenerator,
    build_lexicon,
    generate_synthsign,
    write_synthsign,
)
from signdpo_trl.data.synthetic.body import COCO_WHOLEBODY_MIRROR, HEAD_POINTS, mirror_points
from signdpo_trl.data.synthetic.lexicon import ORIENTATIONS
from signdpo_trl.data.synthetic.vocabulary import all_words


SMALL = SynthSignConfig(num_clips=200, validation_size=40, test_size=40, seed=7)


@pytest.fixture(scope="module")
def corpus():
    return generate_synthsign(SMALL)


@pytest.fixture(scope="module")
def generator():
    return SynthSignGenerator(SMALL)


def test_splits_have_the_configured_sizes(corpus):
    assert {split: len(corpus[split]) for split in corpus} == {"train": 120, "validation": 40, "test": 40}


def test_rows_follow_the_dataset_schema(corpus):
    row = corpus["train"].with_format("numpy")[0]
    frames = row["keypoints"].shape[0]
    assert row["keypoints"].shape == (frames, 69, 2)
    assert corpus["train"].features["keypoints"].dtype == "float16"
    assert row["confidence"].shape == (frames, 69)
    assert row["fps"] == 25.0
    assert isinstance(row["text"], str) and row["text"][-1] in ".?"
    assert row["split"] == "train" and row["signer"].startswith("signer")
    assert set(corpus["train"].features) >= {
        "id",
        "keypoints",
        "confidence",
        "fps",
        "text",
        "signer",
        "gloss",
        "probes",
    }


def test_keypoints_are_frame_fractions_and_absent_points_are_zero(corpus):
    data = corpus["train"].with_format("numpy")
    keypoints = np.concatenate([data[i]["keypoints"] for i in range(20)]).astype(np.float32)
    confidence = np.concatenate([data[i]["confidence"] for i in range(20)]).astype(np.float32)
    seen = keypoints[confidence > 0.3]
    assert seen.min() > -0.1 and seen.max() < 1.1
    assert (keypoints[confidence == 0] == 0).all()


def test_clip_lengths_are_short(corpus):
    lengths = [len(k) for k in corpus["train"]["confidence"]]
    assert 25 <= min(lengths) and max(lengths) <= 160 and 40 <= np.mean(lengths) <= 100


def test_splits_are_signer_disjoint(corpus):
    signers = {split: set(corpus[split]["signer"]) for split in corpus}
    assert not signers["train"] & signers["validation"]
    assert not signers["train"] & signers["test"]
    assert not signers["validation"] & signers["test"]


def test_default_corpus_has_at_least_twelve_signers_with_left_handers_in_every_split():
    generator = SynthSignGenerator(SynthSignConfig())
    assert sum(len(signers) for signers in generator.signers.values()) >= 12
    for signers in generator.signers.values():
        assert any(signer.left_handed for signer in signers)


def test_lexicon_meets_the_inventory_spec():
    lexicon = build_lexicon(0)
    assert len(lexicon) >= 300
    assert len(HANDSHAPES) >= 15 and len(LOCATIONS) >= 8 and len(MOVEMENTS) >= 6 and len(ORIENTATIONS) >= 4
    assert {"hold", "arc", "circle", "repeated", "wiggle"} <= set(MOVEMENTS)
    assert {"one", "symmetric", "base"} == {entry.hands for entry in lexicon.entries}
    assert lexicon.fraction_in_minimal_pairs >= 0.3


def test_handshapes_are_distinct_hand_configurations():
    from signdpo_trl.data.synthetic.handshapes import hand_points

    points = np.stack([hand_points(angles) for angles in HANDSHAPES.values()])  # (shapes, 21, 3)
    distance = np.linalg.norm(points[:, None] - points[None], axis=-1).mean(-1)
    np.fill_diagonal(distance, np.inf)
    assert distance.min() > 0.05


def test_every_recorded_minimal_pair_differs_in_exactly_one_parameter():
    lexicon = build_lexicon(3)
    assert lexicon.minimal_pairs
    for first, second, parameter in lexicon.minimal_pairs:
        assert lexicon[first].differing_parameters(lexicon[second]) == (parameter,)
        assert parameter in PARAMETERS
        assert (second, parameter) in lexicon.minimal_pair_of(first)


def test_no_unrecorded_minimal_pairs():
    lexicon = build_lexicon(3)
    recorded = {frozenset((a, b)) for a, b, _ in lexicon.minimal_pairs}
    entries = lexicon.entries
    found = {
        frozenset((a.gloss, b.gloss))
        for i, a in enumerate(entries)
        for b in entries[i + 1 :]
        if len(a.differing_parameters(b)) == 1
    }
    assert found == recorded


def test_every_word_has_one_sign():
    lexicon = build_lexicon(0)
    assert [entry.gloss for entry in lexicon.entries] == [word.gloss for word in all_words()]


def test_all_sentence_patterns_occur(corpus):
    assert len(PATTERNS) >= 6
    assert set(corpus["train"]["pattern"]) | set(corpus["validation"]["pattern"]) == set(PATTERNS)


def test_sentences_are_three_to_seven_signs(corpus):
    lengths = [len(gloss.split()) for gloss in corpus["train"]["gloss"]]
    assert min(lengths) >= 3 and max(lengths) <= 7


def test_topic_comment_signs_the_object_first_and_english_puts_it_last(generator):
    clip = next(c for c in map(generator.clip, range(200)) if c.sentence.clause.pattern == "topic_comment")
    clause = clip.sentence.clause
    object_glosses = [word.gloss for word in clause.object.words]
    assert list(clip.sentence.glosses[-len(object_glosses) - 1 :]) != object_glosses
    assert clip.sentence.glosses[0] in object_glosses or clause.time is not None
    english_end = " ".join(w.english for w in (clause.object.noun, clause.time) if w is not None)
    assert clip.sentence.text.rstrip(".?").endswith(english_end)


def test_markers_set_the_english_form(corpus):
    for row in corpus["train"]:
        words = re.findall(r"[\w']+|[?.]", row["text"].lower())
        assert ("not" in words) == (row["marker"] == "negation")
        assert row["text"].endswith("?") == (row["marker"] == "question")


def test_probes_agree_with_the_text(corpus):
    for row in corpus["train"]:
        tokens = set(re.findall(r"[\w']+", row["text"].lower()))
        kinds = [probe["kind"] for probe in row["probes"]]
        assert kinds.count("negation") == 1 and kinds.count("question") == 1
        for probe in row["probes"]:
            if probe["word"] == "?":
                assert ("?" in row["text"]) == probe["present"]
            else:
                assert (probe["word"].lower() in tokens) == probe["present"], (row["text"], probe)
            if probe["present"]:
                assert 0 <= probe["start"] < probe["end"] <= len(row["confidence"])
            else:
                assert probe["start"] == probe["end"] == -1


def test_minimal_pair_probes_name_signs_of_the_clip_that_have_partners(corpus):
    lexicon = build_lexicon(SMALL.lexicon_seed)
    probes = [(row, p) for row in corpus["train"] for p in row["probes"] if p["kind"] == "minimal_pair"]
    assert probes
    for row, probe in probes:
        assert probe["sign"] in row["gloss"].split()
        assert lexicon.minimal_pair_of(probe["sign"])


def test_markers_move_only_the_head_and_face(generator):
    index = 3
    plain = generator.clip(index, marker="none").rendered
    for marker in ("negation", "question"):
        marked = generator.clip(index, marker=marker).rendered
        manual = np.setdiff1d(np.arange(133), HEAD_POINTS)
        np.testing.assert_array_equal(marked.keypoints[:, manual], plain.keypoints[:, manual])
        np.testing.assert_array_equal(marked.scores[:, manual], plain.scores[:, manual])
        assert np.abs(marked.keypoints[:, HEAD_POINTS] - plain.keypoints[:, HEAD_POINTS]).max() > 0.005


def test_markers_are_visible_in_the_canonical_face(generator):
    face = CANONICAL_PARTS["face"].indices
    plain = generator.pose_sequence(generator.clip(3, marker="none")).to_canonical()
    start, end = generator.clip(3).rendered.marker_span
    for marker in ("negation", "question"):
        marked = generator.pose_sequence(generator.clip(3, marker=marker)).to_canonical()
        shift = np.abs(marked.keypoints[start:end, face] - plain.keypoints[start:end, face]).max()
        assert shift > 0.005, marker


def test_marker_changes_the_text_but_not_the_signs(generator):
    texts = {m: generator.clip(5, marker=m).sentence for m in ("none", "negation", "question")}
    assert len({s.text for s in texts.values()}) == 3
    assert len({s.glosses for s in texts.values()}) == 1


def test_same_seed_gives_identical_arrays():
    config = SynthSignConfig(num_clips=12, validation_size=3, test_size=3, seed=11)
    first, second = generate_synthsign(config), generate_synthsign(config)
    for split in first:
        assert first[split]["text"] == second[split]["text"]
        for a, b in zip(
            first[split].with_format("numpy")["keypoints"], second[split].with_format("numpy")["keypoints"]
        ):
            np.testing.assert_array_equal(a, b)


def test_different_seed_gives_different_clips():
    first = SynthSignGenerator(SynthSignConfig(num_clips=12, validation_size=3, test_size=3, seed=1)).row(0)
    second = SynthSignGenerator(SynthSignConfig(num_clips=12, validation_size=3, test_size=3, seed=2)).row(0)
    assert first["text"] != second["text"] or not np.array_equal(first["keypoints"], second["keypoints"])


def test_worker_processes_do_not_change_the_corpus():
    config = SynthSignConfig(num_clips=12, validation_size=3, test_size=3, seed=5)
    single, parallel = generate_synthsign(config), generate_synthsign(config, num_proc=2)
    assert single["test"]["text"] == parallel["test"]["text"]
    np.testing.assert_array_equal(
        single["test"].with_format("numpy")[0]["keypoints"], parallel["test"].with_format("numpy")[0]["keypoints"]
    )


def test_left_handed_signer_mirrors_the_right_handed_one(generator):
    from dataclasses import replace

    right = replace(generator.signers["train"][0], left_handed=False)
    left = replace(right, left_handed=True)
    a, b = generator.clip(4, signer=right).rendered, generator.clip(4, signer=left).rendered
    visible = (a.scores > 0)[:, COCO_WHOLEBODY_MIRROR]
    mirrored = mirror_points(a.keypoints, center_x=right.center[0])
    np.testing.assert_allclose(b.keypoints[visible], mirrored[visible], atol=1e-5)
    np.testing.assert_array_equal(b.scores, a.scores[:, COCO_WHOLEBODY_MIRROR])


def test_in_one_handed_signing_the_dominant_hand_travels_and_the_other_rests(generator):
    clip = next(
        c
        for c in map(generator.clip, range(200))
        if all(generator.lexicon[gloss].hands == "one" for gloss in c.sentence.glosses)
    )
    keypoints, scores = clip.rendered.keypoints, clip.rendered.scores
    seen = (scores[:, [91, 112]] > 0.3).all(-1)
    left, right = keypoints[seen, 91], keypoints[seen, 112]
    travel = {
        side: np.linalg.norm(np.diff(points, axis=0), axis=-1).sum()
        for side, points in (("left", left), ("right", right))
    }
    dominant, other = ("left", "right") if clip.signer.left_handed else ("right", "left")
    assert travel[dominant] > 3 * travel[other]


@pytest.mark.parametrize("file_format", ["pkl", "pose"])
def test_written_files_read_back_as_the_dataset_rows(tmp_path, file_format):
    import json

    from signdpo_trl.data.readers import load_pose

    config = SynthSignConfig(num_clips=6, validation_size=2, test_size=2, seed=4)
    manifest = write_synthsign(config, tmp_path, format=file_format)
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert [line["split"] for line in lines] == ["train"] * 2 + ["validation"] * 2 + ["test"] * 2
    rows = generate_synthsign(config)
    row = rows["validation"].with_format("numpy")[0]
    assert lines[2]["text"] == row["text"] and lines[2]["id"] == row["id"]
    canonical = load_pose(tmp_path / lines[2]["path"]).to_canonical()
    present = row["confidence"] > 0
    np.testing.assert_allclose(canonical.keypoints[present], row["keypoints"][present].astype(np.float32), atol=2e-3)
    np.testing.assert_allclose(canonical.confidence, row["confidence"].astype(np.float32), atol=2e-3)


def test_config_rejects_impossible_splits():
    with pytest.raises(ValueError, match="num_signers"):
        SynthSignConfig(num_signers=4, validation_signers=2, test_signers=2)
    with pytest.raises(ValueError, match="every split needs a clip"):
        SynthSignConfig(num_clips=10, validation_size=0)
