"""The objective options of SignDPO, each against a hand computation from the model's own log-probabilities:
chosen-side anchors (mDPO, DPOP), the NLL scale, the level reduction, per-level temperatures, the reference-margin
band, decoded input-level pairs and random placement of the attention level."""

import math

import pytest
import torch
import torch.nn.functional as F
from test_dpo_trainer import BETA, hand_logps, make_trainer, sequence_logps, step_inputs
from tiny import pose_rows, tiny_tokenizer

from signdpo_trl.trainer import SignDPOConfig
from signdpo_trl.trainer.losses import (
    band_weights,
    chosen_anchor_loss,
    generated_to_labels,
    nll_loss,
    preference_loss,
    same_sequences,
    weighted_batch_mean,
)


def logratios(logps: dict, level: str) -> tuple[torch.Tensor, torch.Tensor]:
    chosen = logps["policy"]["chosen"][0] - logps["reference"]["chosen"][0]
    rejected = logps["policy"][level][0] - logps["reference"][level][0]
    return chosen, rejected


# Pure loss functions, on numbers worked out by hand.


def test_dpop_subtracts_lambda_times_the_chosen_shortfall_inside_the_margin():
    chosen, rejected = torch.tensor([-2.0, 1.0]), torch.tensor([-3.0, -1.0])
    losses = preference_loss(chosen, rejected, beta=0.5, dpop_lambda=4.0).losses
    # Row 0: the chosen log-ratio is -2 (below the reference): margin 0.5 * (-2 - 4 * 2 + 3) = -3.5. Row 1: no penalty.
    torch.testing.assert_close(losses, -F.logsigmoid(torch.tensor([-3.5, 1.0])))


def test_mdpo_anchor_is_minus_log_sigmoid_of_the_chosen_reward():
    torch.testing.assert_close(
        chosen_anchor_loss(torch.tensor([0.0, 2.0]), beta=0.5), torch.tensor([math.log(2), math.log(1 + math.e**-1)])
    )


def test_nll_per_token_is_the_token_mean_and_per_sequence_the_mean_of_sequence_sums():
    logps, tokens = torch.tensor([-6.0, -2.0]), torch.tensor([3, 1])
    assert nll_loss(logps, tokens, "per_token").item() == pytest.approx(2.0)
    assert nll_loss(logps, tokens, "per_sequence").item() == pytest.approx(4.0)


def test_band_keeps_pairs_inside_low_high_and_weighs_the_rest_by_outside_weight():
    margins = torch.tensor([-1.0, 0.5, 3.0, 10.0])
    assert band_weights(margins, low=0.0, high=5.0).tolist() == [0.0, 1.0, 1.0, 0.0]
    assert band_weights(margins, high=5.0, outside_weight=0.25).tolist() == [1.0, 1.0, 1.0, 0.25]
    # A dropped pair adds nothing; the mean stays over the whole batch.
    assert weighted_batch_mean(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([0.0, 1.0, 1.0, 0.0])).item() == 1.25


def test_generated_ids_become_labels_masked_after_the_first_end_of_sequence():
    eos, pad = tiny_tokenizer().eos_token_id, tiny_tokenizer().pad_token_id
    sequences = torch.tensor([[pad, 7, 8, eos, pad], [pad, 9, eos, 5, 6]])
    assert generated_to_labels(sequences, eos, pad).tolist() == [[7, 8, eos, -100], [9, eos, -100, -100]]
    assert same_sequences(torch.tensor([[7, 8, eos]]), torch.tensor([[7, 8, eos, -100]])).tolist() == [True]


# The trainer's step against the model's own log-probs.


@pytest.mark.parametrize("normalization", ["per_token", "per_sequence"])
def test_anchor_dpop_nll_scale_and_mean_reduction_add_up_as_stated(normalization, tmp_path, monkeypatch):
    levels, weights = ["spatial_local", "language"], [2.0, 1.0]
    trainer = make_trainer(
        tmp_path,
        levels=levels,
        level_weights=weights,
        level_reduction="mean",
        loss_type=["sigmoid", "sft"],
        loss_weights=[1.0, 0.7],
        nll_normalization=normalization,
        chosen_anchor_weight=0.3,
        dpop_lambda=2.0,
    )
    inputs, built = step_inputs(trainer, monkeypatch)
    loss = trainer.compute_loss(trainer.model, inputs)

    logps = hand_logps(trainer, inputs, built)
    expected = 0.0
    for level, weight in zip(levels, weights):
        chosen, rejected = logratios(logps, level)
        margin = BETA * (chosen - 2.0 * torch.relu(-chosen) - rejected)
        expected = expected + weight * -F.logsigmoid(margin).mean()
    expected = expected / sum(weights)
    chosen_ratio = logratios(logps, "language")[0]
    expected = expected + 0.3 * -F.logsigmoid(BETA * chosen_ratio).mean()
    chosen_logps, chosen_tokens = logps["policy"]["chosen"]
    nll = -chosen_logps.sum() / chosen_tokens.sum() if normalization == "per_token" else -chosen_logps.mean()
    torch.testing.assert_close(loss.detach(), expected + 0.7 * nll, rtol=1e-5, atol=1e-5)


def test_level_betas_give_each_level_its_own_temperature(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, levels=["spatial_global", "language"], level_betas=[2.0, 0.1])
    inputs, built = step_inputs(trainer, monkeypatch)
    loss = trainer.compute_loss(trainer.model, inputs)
    logps = hand_logps(trainer, inputs, built)
    expected = sum(
        -F.logsigmoid(beta * (lambda c, r: c - r)(*logratios(logps, level))).mean()
        for level, beta in (("spatial_global", 2.0), ("language", 0.1))
    )
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-5)


def test_band_drops_exactly_the_pairs_outside_it_and_logs_the_share_kept(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, levels=["spatial_local"])
    inputs, built = step_inputs(trainer, monkeypatch)
    logps = hand_logps(trainer, inputs, built)
    margins = logps["reference"]["chosen"][0] - logps["reference"]["spatial_local"][0]
    # An upper bound between the smallest and the largest reference margin of the batch drops the easiest pair(s).
    high = float(margins.sort().values[1])
    keep = margins <= high
    assert 0 < keep.sum() < len(keep)

    banded = make_trainer(tmp_path, levels=["spatial_local"], reference_margin_max=[high])
    loss = banded.compute_loss(banded.model, inputs)
    chosen, rejected = logratios(logps, "spatial_local")
    expected = (-F.logsigmoid(BETA * (chosen - rejected)) * keep).sum() / len(keep)
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-5)
    assert banded._metrics["train"]["kept/spatial_local"] == pytest.approx([keep.float().mean().item()])


def test_decoded_pairs_share_the_chosen_pose_and_reject_the_reference_translation_of_the_perturbed_pose(
    tmp_path, monkeypatch
):
    trainer = make_trainer(tmp_path, levels=["spatial_global"], decoded_levels=["spatial_global"])
    inputs, _ = step_inputs(trainer, monkeypatch)
    pose, pose_mask, labels = inputs["pose"], inputs["pose_mask"], inputs["labels"]
    with torch.no_grad():
        generated = trainer.ref_model.generate(
            pose=inputs["rejected_pose_spatial_global"], pose_mask=pose_mask, num_beams=1, max_new_tokens=128
        )
    tokenizer = tiny_tokenizer()
    y_hat = generated_to_labels(generated, tokenizer.eos_token_id, tokenizer.pad_token_id)

    seen = {}
    original_forward = trainer.model.forward

    def record(**rows):
        seen["rows"] = rows
        return original_forward(**rows)

    monkeypatch.setattr(trainer.model, "forward", record)
    loss = trainer.compute_loss(trainer.model, inputs)
    rows = seen["rows"]
    # Chosen rows, then the decoded rows on the chosen pose's encoding: no perturbed pose reaches the policy.
    assert rows["pose"].shape[0] == pose.shape[0]
    assert rows["encoder_row_index"].tolist() == [0, 1, 2, 0, 1, 2]

    policy_chosen, _ = sequence_logps(trainer.model, pose, pose_mask, labels)
    ref_chosen, _ = sequence_logps(trainer.ref_model, pose, pose_mask, labels)
    policy_rejected, _ = sequence_logps(trainer.model, pose, pose_mask, y_hat)
    ref_rejected, _ = sequence_logps(trainer.ref_model, pose, pose_mask, y_hat)
    differs = ~same_sequences(labels, y_hat)
    per_pair = -F.logsigmoid(BETA * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)))
    torch.testing.assert_close(loss.detach(), (per_pair * differs).sum() / len(differs), rtol=1e-5, atol=1e-5)


def test_decoded_rows_equal_to_the_reference_text_are_skipped(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, levels=["spatial_local"], decoded_levels=["spatial_local"])
    inputs, _ = step_inputs(trainer, monkeypatch)
    # A reference that "translates" every perturbed pose into the reference text: no pair is left.
    monkeypatch.setattr(trainer, "_decode_rejected", lambda reference, poses, mask: [inputs["labels"]] * len(poses))
    loss = trainer.compute_loss(trainer.model, inputs)
    assert loss.item() == 0.0
    assert trainer._metrics["train"]["kept/spatial_local"] == [0.0]


def test_random_placement_perturbs_frames_drawn_from_the_collator_stream_not_the_salient_ones(tmp_path, monkeypatch):
    salient = make_trainer(tmp_path, levels=["attention"], attention_top_k=1, attention_operators=["window_freeze"])
    random = make_trainer(
        tmp_path, levels=["attention"], attention_top_k=1, attention_operators=["window_freeze"],
        attention_placement="random",
    )  # fmt: skip
    inputs = salient.data_collator(pose_rows(3))
    built = {}
    for name, trainer in (("salient", salient), ("random", random)):
        original = trainer._attention_pose

        def capture(step_inputs, salience, name=name, original=original):
            built.setdefault(name, []).append(original(step_inputs, salience))
            return built[name][-1]

        monkeypatch.setattr(trainer, "_attention_pose", capture)
        trainer.compute_loss(trainer.model, inputs)
        torch.manual_seed(123)  # the global generator plays no part: the same batch gives the same pose
        trainer.compute_loss(trainer.model, inputs)
    torch.testing.assert_close(built["random"][0], built["random"][1])
    assert not torch.equal(built["random"][0], built["salient"][0])


def test_config_rejects_non_finite_and_misplaced_objective_settings():
    base = dict(output_dir="unused", use_cpu=True, report_to=[])
    for fields, message in (
        (dict(beta=float("nan")), "beta must be a positive finite"),
        (dict(levels=["language"], level_weights=[float("inf")]), "level_weights must hold one non-negative finite"),
        (dict(chosen_anchor_weight=-1.0), "chosen_anchor_weight must be a non-negative finite"),
        (dict(levels=["language"], decoded_levels=["language"]), "not an input \\(pose\\) level"),
        (dict(levels=["language"], reference_margin_max=[1.0, 2.0]), "one bound per level"),
        (dict(nll_normalization="per_word"), "nll_normalization must be one of"),
        (dict(attention_placement="everywhere"), "attention_placement must be one of"),
    ):
        with pytest.raises(ValueError, match=message):
            SignDPOConfig(**base, **fields)


def test_decoded_pairs_train_with_peft_where_the_reference_is_the_disabled_adapter(tmp_path):
    from peft import LoraConfig
    from test_dpo_trainer import dpo_config
    from tiny import pose_dataset, tiny_model

    from signdpo_trl.trainer import SignDPOTrainer

    trainer = SignDPOTrainer(
        tiny_model(),
        args=dpo_config(tmp_path, levels=["spatial_local"], decoded_levels=["spatial_local"], max_steps=2),
        train_dataset=pose_dataset(4),
        processing_class=tiny_tokenizer(),
        peft_config=LoraConfig(r=4, target_modules=["q", "v"], task_type=None),
    )
    trainer.train()
    assert trainer.state.global_step == 2
    assert all(math.isfinite(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry)


def test_label_smoothed_nll_anchor_is_the_mle_loss_the_reference_was_trained_with(tmp_path, monkeypatch):
    from transformers.trainer_pt_utils import LabelSmoother

    trainer = make_trainer(
        tmp_path, levels=["language"], level_weights=[0.0], loss_type=["sigmoid", "sft"], loss_weights=[1.0, 1.0],
        nll_label_smoothing=0.1,
    )  # fmt: skip
    inputs, _ = step_inputs(trainer, monkeypatch)
    loss = trainer.compute_loss(trainer.model, inputs)
    with torch.no_grad():
        outputs = trainer.model(pose=inputs["pose"], pose_mask=inputs["pose_mask"], labels=inputs["labels"])
    expected = LabelSmoother(epsilon=0.1)(outputs, inputs["labels"])
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-5)
