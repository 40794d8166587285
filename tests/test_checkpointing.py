import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _checkpoint_worker import checkpoint_config, checkpoint_dataset
from tiny import pose_dataset, tiny_model, tiny_tokenizer
from transformers import TrainerState
from transformers.trainer_utils import get_last_checkpoint

from signdpo_trl.models import SignTranslationModel
from signdpo_trl.trainer import SignDPOConfig, SignDPOTrainer, SignSFTConfig, SignSFTTrainer


WORKER = Path(__file__).parent / "_checkpoint_worker.py"
STARTUP_TIMEOUT_S = 240


def logged_losses(trainer) -> dict[int, float]:
    return {entry["step"]: entry["loss"] for entry in trainer.state.log_history if "loss" in entry}


def run_killed_while_saving(output_dir: Path, stall_step: int) -> Path:
    """Runs the worker until it is inside the save of `stall_step`, then kills it with SIGKILL; returns the folder it
    was writing."""
    signal_file, log_file = output_dir.parent / "saving", output_dir.parent / "worker.log"
    with log_file.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), str(output_dir), str(signal_file), str(stall_step)],
            env={**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not signal_file.exists():
                assert worker.poll() is None, (
                    f"the worker ended before the save of step {stall_step}:\n" + log_file.read_text()[-3000:]
                )
                assert time.monotonic() < deadline, f"no save of step {stall_step} in {STARTUP_TIMEOUT_S} s"
                time.sleep(0.2)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
    assert worker.returncode == -signal.SIGKILL
    return Path(signal_file.read_text())


def test_a_run_killed_while_writing_a_checkpoint_resumes_from_the_one_before(tmp_path):
    output_dir = tmp_path / "killed"
    being_written = run_killed_while_saving(output_dir, stall_step=4)

    # Killed after the weights of checkpoint 4 and before its optimizer and trainer state: a half-written checkpoint,
    # under a name that is no checkpoint's.
    assert (being_written / "model.safetensors").is_file() and not (being_written / "trainer_state.json").exists()
    assert not (output_dir / "checkpoint-4").exists()
    # save_total_limit=1: checkpoint-2 is deleted only once checkpoint-4 is complete.
    last = get_last_checkpoint(str(output_dir))
    assert last == str(output_dir / "checkpoint-2")
    assert TrainerState.load_from_json(os.path.join(last, "trainer_state.json")).global_step == 2
    SignTranslationModel.from_pretrained(last)

    resumed = SignDPOTrainer(
        tiny_model(),
        args=checkpoint_config(str(output_dir)),
        train_dataset=checkpoint_dataset(),
        processing_class=tiny_tokenizer(),
    )
    resumed.train(resume_from_checkpoint=last)
    uninterrupted = SignDPOTrainer(
        tiny_model(),
        args=checkpoint_config(str(tmp_path / "uninterrupted")),
        train_dataset=checkpoint_dataset(),
        processing_class=tiny_tokenizer(),
    )
    uninterrupted.train()

    resumed_losses, uninterrupted_losses = logged_losses(resumed), logged_losses(uninterrupted)
    assert sorted(resumed_losses) == [1, 2, 3, 4, 5, 6]
    assert [resumed_losses[step] for step in (3, 4, 5, 6)] == pytest.approx(
        [uninterrupted_losses[step] for step in (3, 4, 5, 6)], abs=1e-6
    )
    # The next saves removed the staging folder the killed one left, and rotated the old checkpoints out.
    assert sorted(os.listdir(output_dir)) == ["README.md", "checkpoint-6"]


class FailingSave(Exception):
    pass


def _dpo(output_dir: str, eval_dataset=None, **fields) -> SignDPOTrainer:
    args = SignDPOConfig(output_dir=output_dir, report_to=[], use_cpu=True, per_device_train_batch_size=2, **fields)
    return SignDPOTrainer(
        tiny_model(),
        args=args,
        train_dataset=pose_dataset(4),
        eval_dataset=eval_dataset,
        processing_class=tiny_tokenizer(),
    )


def _sft(output_dir: str, **fields) -> SignSFTTrainer:
    args = SignSFTConfig(output_dir=output_dir, report_to=[], use_cpu=True, per_device_train_batch_size=2, **fields)
    return SignSFTTrainer(tiny_model(), args=args, train_dataset=pose_dataset(4), processing_class=tiny_tokenizer())


@pytest.mark.parametrize("make_trainer", [_dpo, _sft], ids=["signdpo", "signsft"])
def test_a_save_that_stops_midway_leaves_no_checkpoint_folder(make_trainer, tmp_path):
    trainer = make_trainer(str(tmp_path), max_steps=4, save_strategy="steps", save_steps=2)
    save_optimizer_and_scheduler = trainer._save_optimizer_and_scheduler

    def fail_at_step_four(folder):
        if trainer.state.global_step == 4:
            raise FailingSave
        save_optimizer_and_scheduler(folder)

    trainer._save_optimizer_and_scheduler = fail_at_step_four
    with pytest.raises(FailingSave):
        trainer.train()
    assert get_last_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-2")
    assert (tmp_path / "tmp-checkpoint-4" / "checkpoint-4" / "model.safetensors").is_file()


def test_a_checkpoint_of_a_step_already_saved_replaces_it_whole(tmp_path):
    _dpo(str(tmp_path), max_steps=2, save_strategy="steps", save_steps=2).train()
    (tmp_path / "checkpoint-2" / "left_over.bin").write_bytes(b"from an earlier run")
    _dpo(str(tmp_path), max_steps=2, save_strategy="steps", save_steps=2).train()
    assert sorted(os.listdir(tmp_path)) == ["README.md", "checkpoint-2"]
    assert not (tmp_path / "checkpoint-2" / "left_over.bin").exists()
    assert (tmp_path / "checkpoint-2" / "trainer_state.json").is_file()


def test_the_best_checkpoint_is_recorded_under_its_final_name(tmp_path):
    trainer = _dpo(
        str(tmp_path),
        max_steps=2,
        eval_strategy="steps",
        eval_steps=2,
        save_strategy="steps",
        save_steps=2,
        metric_for_best_model="loss",
        per_device_eval_batch_size=2,
        eval_dataset=pose_dataset(2, seed=1),
    )
    trainer.train()
    assert trainer.state.best_model_checkpoint == str(tmp_path / "checkpoint-2")
    saved = TrainerState.load_from_json(str(tmp_path / "checkpoint-2" / "trainer_state.json"))
    assert saved.best_model_checkpoint == str(tmp_path / "checkpoint-2")
