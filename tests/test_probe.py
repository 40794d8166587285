import json

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import T5Config

from signdpo_trl.models import SignTranslationConfig, SignTranslationModel, build_tokenizer, sync_text_config
from signdpo_trl.perturbations import ProbeReport, list_operators, probe
from signdpo_trl.trainer.collators import SignTranslationCollator


TEXTS = [
    "the cat eats fish.",
    "my brother does not drive.",
    "is the teacher here?",
    "we saw a red car yesterday.",
]
FAST = {"batch_size": 2, "max_new_tokens": 4, "show_progress": False}


def pose_rows(num_rows: int = len(TEXTS), seed: int = 0) -> list[dict]:
    """Rows shaped like a built dataset's: canonical 69-point keypoints in source space, some points missing."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(num_rows):
        num_frames = int(rng.integers(8, 13))
        start = rng.uniform(0.2, 0.8, size=(1, 69, 2))
        keypoints = start + np.cumsum(rng.normal(0, 0.01, size=(num_frames, 69, 2)), axis=0)
        confidence = (rng.uniform(size=(num_frames, 69)) > 0.1).astype(np.float32)
        rows.append(
            {
                "id": f"clip{index}",
                "keypoints": (keypoints * confidence[..., None]).astype(np.float32),
                "confidence": confidence,
                "text": TEXTS[index % len(TEXTS)],
            }
        )
    return rows


def tiny_model_and_tokenizer():
    tokenizer = build_tokenizer(TEXTS * 4, vocab_size=300, language="en")
    text_config = sync_text_config(
        T5Config(d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2, dropout_rate=0.0), tokenizer
    )
    config = SignTranslationConfig(
        text_config=text_config,
        pose_embed_dim=8,
        spatial_channels=[8],
        temporal_channels=[16],
        temporal_kernel_size=3,
        pose_dropout=0.0,
    )
    torch.manual_seed(0)
    return SignTranslationModel(config).eval(), tokenizer


@pytest.fixture(scope="module")
def model_and_tokenizer():
    return tiny_model_and_tokenizer()


@pytest.fixture(scope="module")
def dataset():
    return Dataset.from_list(pose_rows())


@pytest.fixture(scope="module")
def report(model_and_tokenizer, dataset) -> ProbeReport:
    model, tokenizer = model_and_tokenizer
    return probe(model, tokenizer, dataset, ["hand_swap", "window_drop"], strengths=(0.5, 1.0), **FAST)


def test_report_has_one_row_per_operator_and_strength(report):
    assert [(row.operator, row.level, row.strength) for row in report.rows] == [
        ("hand_swap", "spatial_global", 0.5),
        ("hand_swap", "spatial_global", 1.0),
        ("window_drop", "temporal_local", 0.5),
        ("window_drop", "temporal_local", 1.0),
    ]
    assert report.num_samples == len(TEXTS)


def test_default_operators_are_every_registered_one_including_attention_guided(model_and_tokenizer, dataset):
    model, tokenizer = model_and_tokenizer
    result = probe(model, tokenizer, dataset, strengths=(1.0,), max_samples=2, compute_bleu=False, **FAST)
    assert [row.operator for row in result.rows] == list_operators()
    assert "attention_guided" in list_operators()


def test_strength_zero_of_joint_permutation_leaves_log_p_and_bleu_unchanged(model_and_tokenizer, dataset):
    model, tokenizer = model_and_tokenizer
    (row,) = probe(model, tokenizer, dataset, ["joint_permutation"], strengths=(0.0,), **FAST).rows
    assert (row.logp_drop, row.logp_drop_per_token, row.fraction_logp_fell, row.bleu4_drop) == (0.0, 0.0, 0.0, 0.0)


def test_same_seed_gives_the_same_report(model_and_tokenizer, dataset):
    model, tokenizer = model_and_tokenizer
    operators = ["window_drop", "attention_guided"]
    first = probe(model, tokenizer, dataset, operators, strengths=(0.5,), seed=3, **FAST)
    second = probe(model, tokenizer, dataset, operators, strengths=(0.5,), seed=3, **FAST)
    assert first.to_dict() == second.to_dict()


def test_another_seed_draws_other_perturbations(model_and_tokenizer, dataset):
    model, tokenizer = model_and_tokenizer
    drops = [
        probe(model, tokenizer, dataset, ["skeleton_displacement"], (1.0,), seed=seed, compute_bleu=False, **FAST)
        .rows[0]
        .logp_drop
        for seed in (0, 1)
    ]
    assert drops[0] != drops[1]


def test_a_row_does_not_depend_on_the_other_operators_probed(model_and_tokenizer, dataset, report):
    model, tokenizer = model_and_tokenizer
    alone = probe(model, tokenizer, dataset, ["window_drop"], strengths=(1.0,), **FAST)
    assert alone.rows[0] == report.rows[3]


def test_clean_log_p_is_the_models_log_likelihood_of_collated_rows(model_and_tokenizer, dataset, report):
    model, tokenizer = model_and_tokenizer
    inputs = SignTranslationCollator(tokenizer=tokenizer)(pose_rows())
    with torch.no_grad():
        mean_token_loss = model(**inputs).loss.item()
    num_tokens = int((inputs["labels"] != -100).sum())
    assert report.num_tokens == num_tokens
    assert report.clean_logp_per_token == pytest.approx(-mean_token_loss, rel=1e-5)
    assert report.clean_logp == pytest.approx(-mean_token_loss * num_tokens / len(TEXTS), rel=1e-5)


def test_bleu_drop_is_clean_bleu_minus_perturbed_bleu(report):
    for row in report.rows:
        assert row.bleu4_drop == report.clean_bleu4 - row.bleu4


def test_list_of_rows_gives_the_same_report_as_a_dataset(model_and_tokenizer, report):
    model, tokenizer = model_and_tokenizer
    from_list = probe(model, tokenizer, pose_rows(), ["hand_swap", "window_drop"], strengths=(0.5, 1.0), **FAST)
    assert from_list.to_dict() == report.to_dict()


def test_max_samples_probes_the_first_rows_only(model_and_tokenizer, dataset):
    model, tokenizer = model_and_tokenizer
    result = probe(model, tokenizer, dataset, ["hand_swap"], (1.0,), max_samples=2, compute_bleu=False, **FAST)
    assert result.num_samples == 2


def test_probe_restores_training_mode(model_and_tokenizer, dataset):
    model, tokenizer = model_and_tokenizer
    model.train()
    try:
        probe(model, tokenizer, dataset, ["hand_swap"], (1.0,), max_samples=2, compute_bleu=False, **FAST)
        assert model.training
    finally:
        model.eval()


def test_attention_guided_options_are_recorded(model_and_tokenizer, dataset):
    model, tokenizer = model_and_tokenizer
    result = probe(
        model,
        tokenizer,
        dataset,
        ["attention_guided"],
        (1.0,),
        operator_options={"attention_guided": {"top_k": 2}},
        compute_bleu=False,
        **FAST,
    )
    assert result.settings["operator_options"] == {"attention_guided": {"top_k": 2}}


def test_unknown_operator_is_named_in_the_error(model_and_tokenizer, dataset):
    model, tokenizer = model_and_tokenizer
    with pytest.raises(KeyError, match="'no_such_operator'"):
        probe(model, tokenizer, dataset, ["no_such_operator"], **FAST)


def test_strength_outside_unit_interval_is_rejected(model_and_tokenizer, dataset):
    model, tokenizer = model_and_tokenizer
    with pytest.raises(ValueError, match=r"\[0, 1\], got 1.5"):
        probe(model, tokenizer, dataset, ["hand_swap"], strengths=(1.5,), **FAST)


def test_missing_text_column_is_named_in_the_error(model_and_tokenizer, dataset):
    model, tokenizer = model_and_tokenizer
    with pytest.raises(ValueError, match="lacks column.*translation"):
        probe(model, tokenizer, dataset, ["hand_swap"], text_column="translation", **FAST)


def test_attention_guided_needs_a_model_with_salience(dataset):
    with pytest.raises(ValueError, match="'attention_guided' needs the model's cross-attention salience"):
        probe(object(), None, dataset, ["attention_guided"], **FAST)


def test_markdown_has_the_baseline_and_one_table_line_per_row(report):
    lines = report.to_markdown().splitlines()
    assert lines[0].startswith(f"Clean input ({len(TEXTS)} clips")
    table = [line for line in lines if line.startswith("| ")]
    assert len(table) == 1 + len(report.rows)
    assert table[1].startswith("| hand_swap | spatial_global | 0.5 |")


def test_json_holds_the_baseline_settings_and_rows(report, tmp_path):
    written = json.loads(report.to_json(tmp_path / "probe.json").read_text())
    assert written["clean"]["bleu4"] == report.clean_bleu4
    assert written["settings"]["seed"] == 0
    assert [row["operator"] for row in written["rows"]] == [row.operator for row in report.rows]
    assert set(written["rows"][0]) == {
        "operator",
        "level",
        "strength",
        "logp_drop",
        "logp_drop_per_token",
        "fraction_logp_fell",
        "bleu4",
        "bleu4_drop",
    }


def test_plot_writes_a_png(report, tmp_path):
    path = report.plot(tmp_path / "probe.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
