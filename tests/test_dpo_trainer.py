import math

import pytest
import torch
import torch.nn.functional as F
from tiny import pose_dataset, pose_rows, tiny_model, tiny_tokenizer
from torch import nn

from signdpo_trl.trainer import SIGNDPO_LEVELS, PoseBatch, SignDPOConfig, SignDPOTrainer, SignPreferenceCollator
from signdpo_trl.trainer.hooks import PreferenceHook


BETA = 0.5
LEVEL_WEIGHTS = [0.5, 1.0, 1.5, 2.0, 0.25, 0.75]
SFT_WEIGHT = 0.3


def dpo_config(tmp_path, **kwargs) -> SignDPOConfig:
    fields = dict(
        output_dir=str(tmp_path),
        report_to=[],
        use_cpu=True,
        beta=BETA,
        per_device_train_batch_size=3,
        per_device_eval_batch_size=3,
        attention_top_k=3,
        save_strategy="no",
        logging_steps=1,
        seed=0,
        data_seed=0,
    )
    fields.update(kwargs)
    return SignDPOConfig(**fields)


def make_trainer(tmp_path, offset_policy: bool = True, model=None, **kwargs) -> SignDPOTrainer:
    """A trainer over four tiny clips; with `offset_policy`, the policy is nudged away from its reference copy so that
    the log-ratios are not all zero."""
    trainer = SignDPOTrainer(
        model if model is not None else tiny_model(),
        args=dpo_config(tmp_path, **kwargs),
        train_dataset=pose_dataset(4),
        processing_class=tiny_tokenizer(),
    )
    if offset_policy:
        generator = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for parameter in trainer.model.parameters():
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return trainer


def sequence_logps(model: nn.Module, pose, pose_mask, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of label-token log-probabilities per row, from a plain forward pass, and the label-token counts."""
    with torch.no_grad():
        logits = model(pose=pose, pose_mask=pose_mask, labels=labels).logits
    valid = labels != -100
    token_logps = logits.log_softmax(-1).gather(-1, labels.clamp(min=0)[..., None])[..., 0]
    return (token_logps * valid).sum(-1), valid.sum(-1)


def step_inputs(trainer: SignDPOTrainer, monkeypatch, seed: int = 0) -> tuple[dict, dict]:
    """A collated batch, and a dict that receives the attention-level rejected pose the trainer builds in-step."""
    torch.manual_seed(seed)
    inputs = trainer.data_collator(pose_rows(3))
    built = {}
    build_attention_pose = trainer._attention_pose

    def capture(step_inputs, salience):
        built["attention"] = build_attention_pose(step_inputs, salience)
        return built["attention"]

    monkeypatch.setattr(trainer, "_attention_pose", capture)
    return inputs, built


def hand_logps(trainer: SignDPOTrainer, inputs: dict, built: dict) -> dict:
    """Policy and reference log-probs of the chosen pair and of each level's rejected pair, by separate forwards."""
    pose, pose_mask, labels = inputs["pose"], inputs["pose_mask"], inputs["labels"]
    rejected = {}
    for level in trainer.args.levels:
        if level == "language":
            rejected[level] = (pose, inputs["rejected_labels_language"])
        elif level == "attention":
            rejected[level] = (built["attention"], labels)
        else:
            rejected[level] = (inputs[f"rejected_pose_{level}"], labels)
    result = {}
    for name, model in (("policy", trainer.model), ("reference", trainer.ref_model)):
        chosen, chosen_tokens = sequence_logps(model, pose, pose_mask, labels)
        result[name] = {"chosen": (chosen, chosen_tokens)}
        for level, (rejected_pose, rejected_labels) in rejected.items():
            result[name][level] = sequence_logps(model, rejected_pose, pose_mask, rejected_labels)
    return result


def level_loss(loss_type: str, logps: dict, level: str, label_smoothing: float = 0.0) -> torch.Tensor:
    chosen, chosen_tokens = logps["policy"]["chosen"]
    rejected, rejected_tokens = logps["policy"][level]
    chosen_logratios = chosen - logps["reference"]["chosen"][0]
    rejected_logratios = rejected - logps["reference"][level][0]
    delta = chosen_logratios - rejected_logratios
    if loss_type == "sigmoid":
        per_pair = -F.logsigmoid(BETA * delta)
    elif loss_type == "hinge":
        per_pair = torch.relu(1 - BETA * delta)
    elif loss_type == "ipo":
        per_pair = ((chosen_logratios / chosen_tokens - rejected_logratios / rejected_tokens) - 1 / (2 * BETA)) ** 2
    elif loss_type == "robust":
        per_pair = (
            -(1 - label_smoothing) * F.logsigmoid(BETA * delta) + label_smoothing * F.logsigmoid(-BETA * delta)
        ) / (1 - 2 * label_smoothing)
    return per_pair.mean()


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo", "hinge", "robust"])
def test_loss_is_the_weighted_sum_of_each_level_loss_plus_the_nll_anchor_from_the_model_log_probs(
    loss_type, tmp_path, monkeypatch
):
    label_smoothing = 0.2 if loss_type == "robust" else 0.0
    trainer = make_trainer(
        tmp_path,
        level_weights=LEVEL_WEIGHTS,
        loss_type=[loss_type, "sft"],
        loss_weights=[1.0, SFT_WEIGHT],
        label_smoothing=label_smoothing,
    )
    inputs, built = step_inputs(trainer, monkeypatch)
    loss = trainer.compute_loss(trainer.model, inputs)

    logps = hand_logps(trainer, inputs, built)
    chosen, chosen_tokens = logps["policy"]["chosen"]
    expected = sum(
        weight * level_loss(loss_type, logps, level, label_smoothing)
        for level, weight in zip(SIGNDPO_LEVELS, LEVEL_WEIGHTS)
    )
    expected = expected + SFT_WEIGHT * -(chosen.sum() / chosen_tokens.sum())
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("level", SIGNDPO_LEVELS)
def test_each_level_logs_the_rewards_of_its_own_pairs(level, tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, levels=[level])
    inputs, built = step_inputs(trainer, monkeypatch)
    loss = trainer.compute_loss(trainer.model, inputs)

    logps = hand_logps(trainer, inputs, built)
    chosen_rewards = BETA * (logps["policy"]["chosen"][0] - logps["reference"]["chosen"][0])
    rejected_rewards = BETA * (logps["policy"][level][0] - logps["reference"][level][0])
    metrics = trainer._metrics["train"]
    assert metrics[f"rewards/{level}/chosen"] == pytest.approx([chosen_rewards.mean().item()], abs=1e-5)
    assert metrics[f"rewards/{level}/rejected"] == pytest.approx([rejected_rewards.mean().item()], abs=1e-5)
    assert metrics[f"rewards/{level}/margins"] == pytest.approx(
        [(chosen_rewards - rejected_rewards).mean().item()], abs=1e-5
    )
    torch.testing.assert_close(loss.detach(), level_loss("sigmoid", logps, level), rtol=1e-5, atol=1e-5)


def test_language_level_with_sigmoid_is_trl_sigmoid_dpo_loss(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, levels=["language"], loss_type=["sigmoid"])
    inputs, built = step_inputs(trainer, monkeypatch)
    loss = trainer.compute_loss(trainer.model, inputs)

    logps = hand_logps(trainer, inputs, built)
    chosen_logps, ref_chosen_logps = logps["policy"]["chosen"][0], logps["reference"]["chosen"][0]
    rejected_logps, ref_rejected_logps = logps["policy"]["language"][0], logps["reference"]["language"][0]
    # trl.DPOTrainer._compute_loss, loss_type "sigmoid" (TRL 1.16), with the default reverse-KL scores:
    trl_loss = -F.logsigmoid(BETA * ((chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)))
    torch.testing.assert_close(loss.detach(), trl_loss.mean(), rtol=1e-5, atol=1e-5)


def test_at_initialisation_every_margin_is_zero_and_the_sigmoid_loss_is_log_two_per_unit_weight(tmp_path):
    trainer = make_trainer(tmp_path, offset_policy=False, level_weights=LEVEL_WEIGHTS)
    torch.manual_seed(0)
    loss = trainer.compute_loss(trainer.model, trainer.data_collator(pose_rows(3)))
    assert loss.item() == pytest.approx(sum(LEVEL_WEIGHTS) * math.log(2), abs=1e-5)


def test_pair_rows_lays_out_rejected_poses_then_rejected_texts_on_the_chosen_encoding():
    pose = torch.arange(2.0)[:, None, None, None].expand(2, 3, 69, 3)
    pose_mask = torch.tensor([[True, True, True], [True, True, False]])
    labels = torch.tensor([[5, 1], [6, 1]])
    rejected_poses = [pose + 10, pose + 20]
    rejected_labels = [torch.tensor([[7, 8, 1], [9, 1, -100]])]

    with_chosen = SignDPOTrainer.pair_rows(pose, pose_mask, labels, rejected_poses, rejected_labels, True)
    assert with_chosen["encoder_row_index"].tolist() == [0, 1, 2, 3, 4, 5, 0, 1]
    assert with_chosen["pose"][:, 0, 0, 0].tolist() == [0, 1, 10, 11, 20, 21]
    assert torch.equal(with_chosen["pose_mask"], pose_mask.repeat(3, 1))
    assert with_chosen["labels"].tolist() == [[5, 1, -100], [6, 1, -100]] * 3 + [[7, 8, 1], [9, 1, -100]]

    without_chosen = SignDPOTrainer.pair_rows(pose, pose_mask, labels, rejected_poses, rejected_labels, False)
    assert without_chosen["encoder_row_index"].tolist() == [0, 1, 2, 3, 4, 5]
    assert without_chosen["pose"][:, 0, 0, 0].tolist() == [10, 11, 20, 21, 0, 1]
    assert without_chosen["labels"].tolist() == [[5, 1, -100], [6, 1, -100]] * 2 + [[7, 8, 1], [9, 1, -100]]


def test_pair_rows_without_rejected_texts_encodes_only_the_rejected_poses():
    pose = torch.zeros(2, 3, 69, 3)
    rows = SignDPOTrainer.pair_rows(
        pose, torch.ones(2, 3, dtype=torch.bool), torch.ones(2, 2), [pose, pose], [], False
    )
    assert rows["encoder_row_index"].tolist() == [0, 1, 2, 3]
    assert rows["pose"].shape[0] == 4


def test_fused_forward_gives_the_per_row_log_probs_of_separate_forwards(tmp_path):
    model = tiny_model().eval()
    torch.manual_seed(0)
    collator = make_trainer(tmp_path, offset_policy=False, levels=["temporal_global", "language"]).data_collator
    inputs = collator(pose_rows(3))
    pose, pose_mask, labels = inputs["pose"], inputs["pose_mask"], inputs["labels"]
    rejected_pose, rejected_labels = inputs["rejected_pose_temporal_global"], inputs["rejected_labels_language"]
    rows = SignDPOTrainer.pair_rows(pose, pose_mask, labels, [rejected_pose], [rejected_labels], True)
    with torch.no_grad():
        logits = model(**rows).logits
    valid = rows["labels"] != -100
    fused = (logits.log_softmax(-1).gather(-1, rows["labels"].clamp(min=0)[..., None])[..., 0] * valid).sum(-1)
    separate = torch.cat(
        [
            sequence_logps(model, pose, pose_mask, labels)[0],
            sequence_logps(model, rejected_pose, pose_mask, labels)[0],
            sequence_logps(model, pose, pose_mask, rejected_labels)[0],
        ]
    )
    torch.testing.assert_close(fused, separate, rtol=1e-5, atol=1e-4)


class NegatedPoseHook(PreferenceHook):
    """A user-defined level the configuration does not know about."""

    level = "negated"

    def __call__(self, batch, examples, generator):
        return PoseBatch(-batch.keypoints, batch.mask, batch.lengths, batch.confidence)


def test_a_user_hook_level_enters_the_loss_and_the_metrics_without_trainer_changes(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, levels=["language"])
    trainer.data_collator = SignPreferenceCollator(
        tokenizer=tiny_tokenizer(), hooks=[NegatedPoseHook(), *trainer.data_collator.hooks]
    )
    inputs, built = step_inputs(trainer, monkeypatch)
    loss = trainer.compute_loss(trainer.model, inputs)

    logps = hand_logps(trainer, inputs, built)
    for name, model in (("policy", trainer.model), ("reference", trainer.ref_model)):
        logps[name]["negated"] = sequence_logps(
            model, inputs["rejected_pose_negated"], inputs["pose_mask"], inputs["labels"]
        )
    expected = level_loss("sigmoid", logps, "negated") + level_loss("sigmoid", logps, "language")
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-5)
    assert "rewards/negated/margins" in trainer._metrics["train"]


# Training behaviour


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A trainer after three steps over every level at a learning rate high enough to move every weight, with the
    weights from before training."""
    output_dir = tmp_path_factory.mktemp("signdpo")
    trainer = SignDPOTrainer(
        tiny_model(),
        args=dpo_config(output_dir, max_steps=3, learning_rate=1e-2, per_device_train_batch_size=2),
        train_dataset=pose_dataset(6),
        processing_class=tiny_tokenizer(),
    )
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    reference_before = {name: p.detach().clone() for name, p in trainer.ref_model.named_parameters()}
    trainer.train()
    return trainer, before, reference_before


def test_training_changes_every_trainable_parameter_tensor(trained):
    trainer, before, _ = trained
    unchanged = [
        name for name, p in trainer.model.named_parameters() if p.requires_grad and torch.equal(p, before[name])
    ]
    assert unchanged == []


def test_training_leaves_the_reference_model_frozen_and_unchanged(trained):
    trainer, _, reference_before = trained
    assert not any(p.requires_grad for p in trainer.ref_model.parameters())
    assert all(torch.equal(p, reference_before[name]) for name, p in trainer.ref_model.named_parameters())


def test_dropout_is_off_in_policy_and_reference_including_t5_float_dropout(trained):
    trainer, _, _ = trained
    for model in (trainer.model, trainer.ref_model):
        dropouts = [module.p for module in model.modules() if isinstance(module, nn.Dropout)]
        float_dropouts = [
            module.dropout for module in model.modules() if isinstance(getattr(module, "dropout", None), float)
        ]
        assert dropouts and set(dropouts) == {0.0}
        assert float_dropouts and set(float_dropouts) == {0.0}


def test_untrained_tiny_model_has_dropout_on():
    model = tiny_model()
    assert {module.p for module in model.modules() if isinstance(module, nn.Dropout)} == {0.1}


def test_logs_per_level_rewards_and_trl_overall_rewards_and_log_probs(trained):
    trainer, _, _ = trained
    logged = trainer.state.log_history[0]
    per_level = {
        f"rewards/{level}/{name}"
        for level in SIGNDPO_LEVELS
        for name in ("chosen", "rejected", "accuracies", "margins")
    }
    overall = {
        "rewards/chosen",
        "rewards/rejected",
        "rewards/accuracies",
        "rewards/margins",
        "logps/chosen",
        "logps/rejected",
    }
    assert per_level | overall | {"loss"} <= set(logged)
    assert [entry["step"] for entry in trainer.state.log_history if "loss" in entry] == [1, 2, 3]


def test_evaluate_returns_the_loss_and_per_level_metrics(trained):
    trainer, _, _ = trained
    metrics = trainer.evaluate(pose_dataset(3, seed=1))
    assert math.isfinite(metrics["eval_loss"])
    assert {f"eval_rewards/{level}/margins" for level in SIGNDPO_LEVELS} <= set(metrics)
    assert "eval_logps/chosen" in metrics


def test_save_model_writes_a_model_card_naming_signdpo_its_paper_and_levels(trained, tmp_path):
    trainer, _, _ = trained
    trainer.save_model(str(tmp_path))
    card = (tmp_path / "README.md").read_text()
    assert "SignDPO" in card
    assert "2604.18034" in card
    assert all(f"`{level}`" in card for level in SIGNDPO_LEVELS)


def test_peft_trains_only_the_adapter_and_uses_the_disabled_adapter_as_reference(tmp_path):
    from peft import LoraConfig

    trainer = SignDPOTrainer(
        tiny_model(),
        args=dpo_config(tmp_path, levels=["temporal_global", "language"], max_steps=2, learning_rate=1e-2),
        train_dataset=pose_dataset(4),
        processing_class=tiny_tokenizer(),
        peft_config=LoraConfig(r=4, target_modules=["q", "v"], task_type=None),
    )
    assert trainer.ref_model is None
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    trainer.train()
    after = dict(trainer.model.named_parameters())
    lora = [name for name in before if "lora_" in name]
    base = [name for name in before if "lora_" not in name]
    assert lora and all(not torch.equal(after[name], before[name]) for name in lora if "lora_B" in name)
    assert all(torch.equal(after[name], before[name]) for name in base)

    # The reference the step uses is the policy with its adapter disabled: the untouched base model.
    base_model = tiny_model()
    torch.manual_seed(0)
    inputs = trainer.data_collator(pose_rows(2))
    with torch.no_grad(), trainer._reference_context():
        reference_logits = trainer._reference_model()(
            pose=inputs["pose"], pose_mask=inputs["pose_mask"], labels=inputs["labels"]
        ).logits
        base_logits = base_model.eval()(
            pose=inputs["pose"], pose_mask=inputs["pose_mask"], labels=inputs["labels"]
        ).logits
    torch.testing.assert_close(reference_logits, base_logits)


@pytest.mark.parametrize(
    "attention_placement, pose_levels_in_step", [("salient", False), ("random", False), ("salient", True)]
)
def test_resumed_run_logs_the_same_losses_as_an_uninterrupted_one(attention_placement, pose_levels_in_step, tmp_path):
    """All six levels, the attention level's in-step draws included (its operator per clip, and with random placement
    its frames too), come from the collator's seeded stream: a resumed run builds the same pairs; so do the pose
    levels when they are built in the step."""

    def run(max_steps=5, resume_from_checkpoint=None):
        trainer = SignDPOTrainer(
            tiny_model(),
            args=dpo_config(
                tmp_path / ("resumed" if resume_from_checkpoint else "uninterrupted"),
                max_steps=max_steps,
                learning_rate=1e-3,
                per_device_train_batch_size=2,
                save_strategy="steps",
                save_steps=2,
                attention_placement=attention_placement,
                pose_levels_in_step=pose_levels_in_step,
            ),
            train_dataset=pose_dataset(6),
            processing_class=tiny_tokenizer(),
        )
        assert trainer.args.levels == list(SIGNDPO_LEVELS)
        trainer.train(resume_from_checkpoint=resume_from_checkpoint)
        return {entry["step"]: entry for entry in trainer.state.log_history if "loss" in entry}

    # Six clips in batches of two: the checkpoint falls mid-epoch and step 4 starts the second epoch.
    uninterrupted = run()
    resumed = run(resume_from_checkpoint=str(tmp_path / "uninterrupted" / "checkpoint-2"))
    assert sorted(resumed) == [1, 2, 3, 4, 5]
    per_level = {f"rewards/{level}/{name}" for level in SIGNDPO_LEVELS for name in ("chosen", "rejected", "margins")}
    for step in (3, 4, 5):
        assert per_level <= set(uninterrupted[step]) and resumed[step].keys() == uninterrupted[step].keys()
        metrics = sorted(uninterrupted[step])
        assert [resumed[step][key] for key in metrics] == pytest.approx(
            [uninterrupted[step][key] for key in metrics], abs=1e-6
        )


def test_a_run_resumed_with_dataloader_workers_logs_the_losses_of_an_uninterrupted_run_without(tmp_path):
    """Seeded pairs do not depend on where batches are collated: two persistent DataLoader workers (which keep their
    copy of the collator from one epoch to the next) build the pairs the main process builds."""

    def run(num_workers, resume_from_checkpoint=None):
        trainer = SignDPOTrainer(
            tiny_model(),
            args=dpo_config(
                tmp_path / f"workers{num_workers}",
                max_steps=5,
                learning_rate=1e-3,
                per_device_train_batch_size=2,
                save_strategy="steps",
                save_steps=2,
                dataloader_num_workers=num_workers,
                dataloader_persistent_workers=num_workers > 0,
            ),
            train_dataset=pose_dataset(6),
            processing_class=tiny_tokenizer(),
        )
        trainer.train(resume_from_checkpoint=resume_from_checkpoint)
        return {entry["step"]: entry for entry in trainer.state.log_history if "loss" in entry}

    # Six clips in batches of two: the resumed run starts mid-epoch and trains on into the second epoch.
    uninterrupted = run(num_workers=0)
    resumed = run(num_workers=2, resume_from_checkpoint=str(tmp_path / "workers0" / "checkpoint-2"))
    for step in (3, 4, 5):
        metrics = sorted(uninterrupted[step])
        assert [resumed[step][key] for key in metrics] == pytest.approx(
            [uninterrupted[step][key] for key in metrics], abs=1e-6
        )


def test_attention_level_draws_from_the_batch_step_seed_not_from_torch_global_generator(tmp_path):
    trainer = make_trainer(tmp_path, levels=["attention"], attention_placement="random")
    inputs = trainer.data_collator(pose_rows(3))
    salience = torch.rand(3, inputs["pose"].shape[1])

    torch.manual_seed(0)
    first = trainer._attention_pose(inputs, salience)
    state_after = torch.get_rng_state()
    torch.manual_seed(1)
    second = trainer._attention_pose(inputs, salience)
    other_seed = trainer._attention_pose({**inputs, "step_seed": inputs["step_seed"] + 1}, salience)

    assert torch.equal(first, second)
    assert not torch.equal(first, other_seed)
    assert torch.equal(state_after, torch.manual_seed(0).get_state())


def test_signdpo_freezes_the_pose_encoders_input_statistics(tmp_path):
    trainer = make_trainer(tmp_path, offset_policy=False, max_steps=2)
    norms = [module for module in trainer.model.modules() if callable(getattr(module, "freeze_statistics", None))]
    assert norms and not any(module.track_running_stats for module in norms)
    before = [module.running_mean.clone() for module in norms]
    trainer.train()
    assert all(torch.equal(module.running_mean, mean) for module, mean in zip(norms, before))


def test_pose_levels_built_in_the_step_enter_the_loss_with_their_own_weights(tmp_path, monkeypatch):
    """With `pose_levels_in_step` the collator ships the clean clips in source space and no rejected pose; the step
    builds each pose level's rejected pose with that level's hook, and the loss is the weighted sum of every level's
    loss computed from separate forwards."""
    trainer = make_trainer(tmp_path, level_weights=LEVEL_WEIGHTS, pose_levels_in_step=True)
    inputs, built = step_inputs(trainer, monkeypatch)
    pose_levels = ["spatial_global", "spatial_local", "temporal_global", "temporal_local"]
    assert not any(key.startswith("rejected_pose_") for key in inputs)
    assert torch.equal(inputs["source_keypoints"], trainer.data_collator.pad(pose_rows(3)).keypoints)
    assert [hook.level for hook in trainer.step_pose_hooks] == pose_levels

    torch.manual_seed(0)
    step_poses = trainer._step_pose_levels(inputs)
    torch.manual_seed(1)
    assert all(torch.equal(pose, step_poses[level]) for level, pose in trainer._step_pose_levels(inputs).items())
    for level, pose in step_poses.items():
        assert pose.shape == inputs["pose"].shape and not torch.equal(pose, inputs["pose"]), level
    loss = trainer.compute_loss(trainer.model, inputs)

    with_poses = {**inputs, **{f"rejected_pose_{level}": pose for level, pose in step_poses.items()}}
    logps = hand_logps(trainer, with_poses, built)
    expected = sum(
        weight * level_loss("sigmoid", logps, level) for level, weight in zip(SIGNDPO_LEVELS, LEVEL_WEIGHTS)
    )
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-5)
    assert set(trainer._metrics["train"]) >= {f"rewards/{level}/margins" for level in SIGNDPO_LEVELS}


def test_pose_levels_built_in_the_step_draw_from_the_step_seed_one_stream_per_level(tmp_path):
    trainer = make_trainer(tmp_path, pose_levels_in_step=True, levels=["spatial_local", "temporal_local"])
    inputs = trainer.data_collator(pose_rows(3))
    first = trainer._step_pose_levels(inputs)
    other_seed = trainer._step_pose_levels({**inputs, "step_seed": inputs["step_seed"] + 1})
    assert any(not torch.equal(first[level], other_seed[level]) for level in first)
    # Each level has a stream of its own: the first level's pose does not depend on whether the second is drawn.
    trainer.step_pose_hooks = trainer.step_pose_hooks[:1]
    assert torch.equal(trainer._step_pose_levels(inputs)["spatial_local"], first["spatial_local"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_pose_levels_built_in_the_step_on_the_gpu_are_those_built_on_the_cpu(tmp_path):
    trainer = make_trainer(tmp_path, pose_levels_in_step=True)
    inputs = trainer.data_collator(pose_rows(3))
    on_cpu = trainer._step_pose_levels(inputs)
    on_gpu = trainer._step_pose_levels({key: value.cuda() for key, value in inputs.items()})
    for level, pose in on_cpu.items():
        assert on_gpu[level].is_cuda
        torch.testing.assert_close(on_gpu[level].cpu(), pose, rtol=0, atol=1e-4)
