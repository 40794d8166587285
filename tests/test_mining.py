"""Specification of the miner of the translation model's own errors (`signdpo_trl.corrupter.mining`)."""

import json

import pytest
import torch
from sacrebleu.metrics import CHRF
from tiny import SENTENCES, pose_dataset, tiny_model, tiny_tokenizer

from signdpo_trl.corrupter import MiningReport, is_meaning_change, mine_translation_errors


FAST = {"num_beams": 2, "num_candidates": 2, "max_new_tokens": 6, "batch_size": 2, "show_progress": False}


# is_meaning_change


@pytest.mark.parametrize(
    "hypothesis",
    [
        "the dog sees the cat",
        "The Dog sees the cat.",
        "the dog, sees the cat!",
        "  the dog   sees\tthe cat ",
        "THE DOG SEES THE CAT?",
    ],
)
def test_case_punctuation_and_whitespace_edits_are_not_meaning_changes(hypothesis):
    assert is_meaning_change(hypothesis, "the dog sees the cat") is False


def test_one_word_substitution_is_a_meaning_change():
    assert is_meaning_change("the dog sees the bird", "the dog sees the cat") is True


@pytest.mark.parametrize("hypothesis", ["", "   ", "...", "?!"])
def test_empty_hypothesis_is_not_a_meaning_change(hypothesis):
    assert is_meaning_change(hypothesis, "the dog sees the cat") is False


def test_chrf_threshold_is_honoured_just_above_and_below_the_score():
    score = CHRF().sentence_score("the dog sees the bird", ["the dog sees the cat"]).score
    assert score == pytest.approx(76.27, abs=0.01)

    assert is_meaning_change("the dog sees the bird", "the dog sees the cat", chrf_threshold=score + 0.01) is True
    assert is_meaning_change("the dog sees the bird", "the dog sees the cat", chrf_threshold=score - 0.01) is False


def test_a_near_copy_above_the_threshold_is_not_a_meaning_change():
    # chrF 98.5: one letter added.
    assert is_meaning_change("the dog sees the cats", "the dog sees the cat") is False


def test_chrf_is_scored_without_case_and_punctuation():
    # On the raw strings chrF is 71.0, below the threshold; case and punctuation must not make a near-copy an error.
    assert is_meaning_change("The Dog sees the cats!", "the dog sees the cat") is False


@pytest.mark.parametrize("hypothesis", ["我 不 喜欢 下 雨 。", "「我不喜欢下雨！」", "我不喜欢下雨，"])
def test_chinese_spacing_and_cjk_punctuation_are_not_meaning_changes(hypothesis):
    assert is_meaning_change(hypothesis, "我不喜欢下雨", language="zh") is False


@pytest.mark.parametrize("hypothesis", ["我喜欢下雨", "我不喜欢下雪"])
def test_chinese_one_character_change_is_a_meaning_change(hypothesis):
    assert is_meaning_change(hypothesis, "我不喜欢下雨", language="zh") is True


def test_empty_reference_is_refused():
    with pytest.raises(ValueError, match="reference '  . ' is empty"):
        is_meaning_change("the dog", "  . ")


@pytest.mark.parametrize("threshold", [-1.0, 100.5])
def test_chrf_threshold_outside_0_100_is_refused(threshold):
    with pytest.raises(ValueError, match="between 0 and 100"):
        is_meaning_change("the dog", "the cat", chrf_threshold=threshold)


# mine_translation_errors


def script_generate(monkeypatch, model, tokenizer, script):
    """Replaces `model.generate` by one that returns `script[row]` (the row's n-best list) for each row, in order.

    Returns the list of calls, each the keyword arguments, the batch size and whether the model was in training mode.
    """
    calls = []

    def generate(pose, pose_mask, **kwargs):
        start = sum(call["batch"] for call in calls)
        calls.append({**kwargs, "batch": pose.shape[0], "training": model.training})
        texts = [text for row in script[start : start + pose.shape[0]] for text in row]
        return tokenizer(texts, padding=True, return_tensors="pt")["input_ids"]

    monkeypatch.setattr(model, "generate", generate)
    return calls


SCRIPT = [
    # the dog sees the cat
    ["The dog sees the cat.", "the dog sees the bird", "The dog sees the bird!", "the cat sees the dog"],
    # i do not like the rain
    ["i do not like the rain", "", "i like the rain", "the dog sees the cats"],
    # my brother goes to school tomorrow
    ["My brother goes to school tomorrow.", "my brother goes to school tomorrow", "my brother, goes to school", "..."],
]


def test_mining_keeps_meaning_changes_deduplicated_in_n_best_order(monkeypatch):
    model, tokenizer = tiny_model(), tiny_tokenizer()
    script_generate(monkeypatch, model, tokenizer, SCRIPT)

    mined = mine_translation_errors(model, tokenizer, pose_dataset(3), num_beams=4, batch_size=2, show_progress=False)

    assert mined["rejected_texts"] == [
        ["the dog sees the bird", "the cat sees the dog"],
        ["i like the rain", "the dog sees the cats"],
        ["my brother, goes to school"],
    ]


def test_mining_report_counts_rows_errors_and_near_copies(monkeypatch):
    model, tokenizer = tiny_model(), tiny_tokenizer()
    script = [SCRIPT[0], ["i do not like the rain", "", "I do not like the rain!", "i do not like the rains"]]
    script_generate(monkeypatch, model, tokenizer, script)

    _, report = mine_translation_errors(
        model, tokenizer, pose_dataset(2), num_beams=4, show_progress=False, return_report=True
    )

    assert report == MiningReport(
        num_rows=2, num_rows_with_errors=1, num_errors=2, num_hypotheses=8, num_too_close=1, chrf_threshold=90.0
    )
    assert report.mean_errors_per_row == 1.0
    assert report.fraction_rows_with_errors == 0.5


def test_mining_decodes_n_best_beam_search_in_eval_mode_and_restores_training(monkeypatch):
    model, tokenizer = tiny_model(), tiny_tokenizer()
    model.train()
    calls = script_generate(monkeypatch, model, tokenizer, SCRIPT)

    mine_translation_errors(
        model,
        tokenizer,
        pose_dataset(3),
        num_beams=5,
        num_candidates=4,
        max_new_tokens=7,
        batch_size=2,
        show_progress=False,
    )

    assert [call["batch"] for call in calls] == [2, 1]
    assert {(c["num_beams"], c["num_return_sequences"], c["max_new_tokens"], c["do_sample"]) for c in calls} == {
        (5, 4, 7, False)
    }
    assert not any(call["training"] for call in calls)
    assert model.training


def test_mining_with_the_tiny_model_adds_a_list_column_of_meaning_changes():
    dataset = pose_dataset(5)

    mined = mine_translation_errors(tiny_model(), tiny_tokenizer(), dataset, **FAST)

    assert len(mined) == len(dataset)
    assert mined["id"] == dataset["id"]
    assert mined.features["rejected_texts"].feature.dtype == "string"
    for reference, errors in zip(mined["text"], mined["rejected_texts"]):
        assert isinstance(errors, list) and len(errors) <= FAST["num_candidates"]
        for error in errors:
            assert error != reference
            assert is_meaning_change(error, reference)


def test_mining_replaces_an_existing_output_column(monkeypatch):
    model, tokenizer = tiny_model(), tiny_tokenizer()
    script_generate(monkeypatch, model, tokenizer, SCRIPT[:2])
    dataset = pose_dataset(2).add_column("rejected_texts", [["stale"], ["stale"]])

    mined = mine_translation_errors(model, tokenizer, dataset, num_beams=4, show_progress=False)

    assert mined.column_names == dataset.column_names
    assert mined["rejected_texts"] == [
        ["the dog sees the bird", "the cat sees the dog"],
        ["i like the rain", "the dog sees the cats"],
    ]


def test_rows_without_errors_get_an_empty_list(monkeypatch):
    model, tokenizer = tiny_model(), tiny_tokenizer()
    script_generate(monkeypatch, model, tokenizer, [[SENTENCES[0]] * 2, [SENTENCES[1].upper()] * 2])

    mined = mine_translation_errors(model, tokenizer, pose_dataset(2), **FAST)

    assert mined["rejected_texts"] == [[], []]


def test_cache_is_reused_without_decoding_again(tmp_path, monkeypatch):
    model, tokenizer, dataset = tiny_model(), tiny_tokenizer(), pose_dataset(3)
    first = mine_translation_errors(model, tokenizer, dataset, cache_dir=tmp_path / "mined", **FAST)

    def fail(*args, **kwargs):
        raise AssertionError("generate must not run when the cache matches")

    monkeypatch.setattr(model, "generate", fail)
    second, report = mine_translation_errors(
        model, tokenizer, dataset, cache_dir=tmp_path / "mined", return_report=True, **FAST
    )

    assert second["rejected_texts"] == first["rejected_texts"]
    assert second["id"] == first["id"]
    assert report.from_cache is True
    config = json.loads((tmp_path / "mined" / "mining_config.json").read_text())
    assert config["dataset_fingerprint"] == dataset._fingerprint
    assert config["parameters"]["num_candidates"] == FAST["num_candidates"]


def _change_threshold(model, kwargs):
    return {**kwargs, "chrf_threshold": 50.0}


def _change_weights(model, kwargs):
    with torch.no_grad():
        next(model.parameters()).add_(0.01)
    return kwargs


@pytest.mark.parametrize("change", [_change_threshold, _change_weights], ids=["parameter", "weights"])
def test_cache_is_recomputed_when_a_parameter_or_the_model_changes(tmp_path, monkeypatch, change):
    model, tokenizer, dataset = tiny_model(), tiny_tokenizer(), pose_dataset(3)
    mine_translation_errors(model, tokenizer, dataset, cache_dir=tmp_path / "mined", **FAST)
    kwargs = change(model, FAST)
    calls = script_generate(monkeypatch, model, tokenizer, [["you drink hot tea every evening"] * 2] * 3)

    mined, report = mine_translation_errors(
        model, tokenizer, dataset, cache_dir=tmp_path / "mined", return_report=True, **kwargs
    )

    assert len(calls) == 2
    assert report.from_cache is False
    assert mined["rejected_texts"] == [["you drink hot tea every evening"]] * 3
    reloaded = mine_translation_errors(model, tokenizer, dataset, cache_dir=tmp_path / "mined", **kwargs)
    assert reloaded["rejected_texts"] == mined["rejected_texts"]
    assert len(calls) == 2


def test_more_candidates_than_beams_is_refused():
    with pytest.raises(ValueError, match=r"num_candidates \(4\) cannot exceed num_beams \(2\)"):
        mine_translation_errors(tiny_model(), tiny_tokenizer(), pose_dataset(1), num_beams=2, num_candidates=4)


def test_a_foreign_cache_dir_is_refused_before_decoding(tmp_path):
    (tmp_path / "notes.txt").write_text("not a mining cache")

    with pytest.raises(ValueError, match="not a cache of mine_translation_errors"):
        mine_translation_errors(tiny_model(), tiny_tokenizer(), pose_dataset(1), cache_dir=tmp_path, **FAST)
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


def test_rows_without_a_reference_are_refused():
    dataset = pose_dataset(3).map(lambda row, index: {"text": "" if index == 1 else row["text"]}, with_indices=True)

    with pytest.raises(ValueError, match=r"1 row\(s\) have no reference translation in 'text' \(first: \[1\]\)"):
        mine_translation_errors(tiny_model(), tiny_tokenizer(), dataset, **FAST)
