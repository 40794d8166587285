import math

import pytest
import torch
from tiny import pose_dataset, tiny_model, tiny_tokenizer

from signdpo_trl.trainer import SignSFTConfig, SignSFTTrainer, SignTranslationCollator


SLT_METRICS = ("bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "chrf")


def sft_trainer(tmp_path, train_rows: int = 4, **kwargs) -> SignSFTTrainer:
    fields = dict(
        output_dir=str(tmp_path),
        report_to=[],
        use_cpu=True,
        per_device_train_batch_size=2,
        per_device_eval_batch_size=4,
        max_steps=3,
        learning_rate=1e-2,
        save_strategy="no",
        logging_steps=1,
        max_target_length=12,
        generation_num_beams=1,
        seed=0,
    )
    fields.update(kwargs)
    return SignSFTTrainer(
        tiny_model(),
        args=SignSFTConfig(**fields),
        train_dataset=pose_dataset(train_rows),
        processing_class=tiny_tokenizer(),
    )


def test_a_few_steps_log_finite_losses_and_change_the_weights(tmp_path):
    trainer = sft_trainer(tmp_path)
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)
    changed = [not torch.equal(p, before[name]) for name, p in trainer.model.named_parameters()]
    assert all(changed)


def test_evaluation_generates_and_reports_bleu_rouge_and_chrf(tmp_path):
    trainer = sft_trainer(tmp_path)
    metrics = trainer.evaluate(pose_dataset(3, seed=1))
    for name in SLT_METRICS:
        assert 0.0 <= metrics[f"eval_{name}"] <= 100.0
    assert math.isfinite(metrics["eval_loss"])


def test_evaluation_keeps_the_sacrebleu_signature_of_its_scores(tmp_path):
    trainer = sft_trainer(tmp_path)
    trainer.evaluate(pose_dataset(3, seed=1))
    assert "tok:13a" in trainer.last_signature and "nrefs:1" in trainer.last_signature


def test_evaluation_reports_probe_accuracy_for_a_probes_column(tmp_path):
    probes = [
        {"kind": "negation", "sign": "NOT", "word": "not", "present": True, "start": -1, "end": -1},
        {"kind": "question", "sign": "", "word": "?", "present": False, "start": -1, "end": -1},
        {"kind": "minimal_pair", "sign": "DOG", "word": "dog", "present": True, "start": 0, "end": 3},
    ]
    dataset = pose_dataset(3, seed=1)
    dataset = dataset.add_column("probes", [probes, probes[:2], probes[:1]])
    metrics = sft_trainer(tmp_path).evaluate(dataset)
    assert metrics["eval_negation_count"] == 3
    assert metrics["eval_question_count"] == 2
    assert metrics["eval_minimal_pair_count"] == 1
    for kind in ("negation", "question", "minimal_pair"):
        assert 0.0 <= metrics[f"eval_{kind}_accuracy"] <= 100.0


def test_evaluation_samples_frames_uniformly_while_training_samples_at_random(tmp_path):
    trainer = sft_trainer(tmp_path, max_frames=4, random_frame_sampling=True)
    dataset = pose_dataset(4, min_frames=10, max_frames=14)
    assert trainer.data_collator.frame_sampling == "random"

    uniform = SignTranslationCollator(tokenizer=tiny_tokenizer(), max_frames=4, max_target_length=12)
    expected = uniform([dataset[i] for i in range(4)])
    for seed in (0, 1):
        torch.manual_seed(seed)
        batch = next(iter(trainer.get_eval_dataloader(dataset)))
        assert torch.equal(batch["pose"], expected["pose"])

    train_batches = [next(iter(trainer.get_train_dataloader()))["pose"] for _ in range(2)]
    assert train_batches[0].shape[1] == 4
    assert not torch.equal(train_batches[0], train_batches[1])


@pytest.mark.parametrize("resumed_workers", [0, 2])
def test_resumed_run_with_random_frame_sampling_logs_the_same_losses(resumed_workers, tmp_path):
    """The resumed run collates in DataLoader workers (persistent ones) or in the main process: the same frames."""

    def run(resume_from_checkpoint=None):
        workers = resumed_workers if resume_from_checkpoint else 0
        trainer = sft_trainer(
            tmp_path / ("resumed" if resume_from_checkpoint else "uninterrupted"),
            train_rows=6,
            max_steps=5,
            learning_rate=1e-3,
            max_frames=5,
            save_strategy="steps",
            save_steps=2,
            dataloader_num_workers=workers,
            dataloader_persistent_workers=workers > 0,
        )
        trainer.train(resume_from_checkpoint=resume_from_checkpoint)
        return {entry["step"]: entry["loss"] for entry in trainer.state.log_history if "loss" in entry}

    uninterrupted = run()
    resumed = run(str(tmp_path / "uninterrupted" / "checkpoint-2"))
    assert [resumed[step] for step in (3, 4, 5)] == pytest.approx(
        [uninterrupted[step] for step in (3, 4, 5)], abs=1e-6
    )


def test_end_training_drops_every_reference_to_the_wrapped_model_and_keeps_the_model(tmp_path):
    import weakref

    from signdpo_trl.script_utils import end_training

    trainer = sft_trainer(tmp_path)
    trainer.train()
    wrapped = weakref.ref(trainer.model_wrapped)
    end_training(trainer)

    assert trainer.accelerator._models == []
    assert trainer.model_wrapped is trainer.model
    assert wrapped() is trainer.model  # on one CPU process the "wrapper" is the model itself, which stays usable
    assert all(torch.isfinite(parameter).all() for parameter in trainer.model.parameters())
