import json
import os
import subprocess
import sys

import pytest
from conftest import PROJECT_ROOT
from transformers import TrainingArguments

from signdpo_trl.script_utils import checkpoint_to_resume


TINY_MODEL = [
    "--vocab_size", "300", "--d_model", "32", "--d_ff", "64", "--num_layers", "1", "--num_decoder_layers", "1",
    "--num_heads", "2", "--d_kv", "16", "--pose_embed_dim", "8", "--spatial_channels", "8",
    "--temporal_channels", "16",
]  # fmt: skip
TINY_CORPUS = ["--synthsign_num_clips", "40", "--max_eval_samples", "4"]


def run_recipe(script: str, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs `recipes/<script>` on CPU, offline; with `check`, a non-zero exit fails the test with its stderr."""
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "recipes" / script), *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_sft_then_signdpo_recipes_run_end_to_end_and_report_metrics_before_and_after(tmp_path):
    corpus, sft, dpo = tmp_path / "synthsign", tmp_path / "sft", tmp_path / "dpo"
    run_recipe(
        "sft_synthsign.py", *TINY_CORPUS, *TINY_MODEL, "--synthsign_cache", str(corpus), "--output_dir", str(sft),
        "--max_steps", "2", "--per_device_train_batch_size", "4", "--eval_strategy", "no", "--save_strategy", "no",
        "--load_best_model_at_end", "false", "--max_target_length", "8",
    )  # fmt: skip
    sft_metrics = json.loads((sft / "test_metrics.json").read_text())
    assert {"bleu4", "rouge_l", "minimal_pair_accuracy", "signature"} <= set(sft_metrics)
    run_recipe(
        "dpo_synthsign.py", *TINY_CORPUS, "--synthsign_cache", str(corpus), "--model_name_or_path", str(sft),
        "--output_dir", str(dpo), "--max_steps", "2", "--per_device_train_batch_size", "2", "--eval_strategy", "no",
        "--max_target_length", "8",
    )  # fmt: skip
    dpo_metrics = json.loads((dpo / "test_metrics.json").read_text())
    assert "before_bleu4" in dpo_metrics["before"] and "after_bleu4" in dpo_metrics["after"]
    assert "SignDPO" in (dpo / "README.md").read_text()


TINY_SFT = [*TINY_CORPUS, *TINY_MODEL, "--per_device_train_batch_size", "4", "--eval_strategy", "no",
            "--load_best_model_at_end", "false", "--max_target_length", "8"]  # fmt: skip


def without_timings(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if "runtime" not in key and "per_second" not in key}


def test_sft_recipe_resumes_from_the_last_checkpoint_in_output_dir(tmp_path):
    corpus, output = tmp_path / "synthsign", tmp_path / "sft"
    run = ["sft_synthsign.py", *TINY_SFT, "--synthsign_cache", str(corpus), "--output_dir", str(output),
           "--logging_steps", "1", "--save_strategy", "steps", "--save_steps", "2"]  # fmt: skip
    run_recipe(*run, "--max_steps", "4")
    resumed = run_recipe(*run, "--max_steps", "6")
    assert f"Resuming training from {output / 'checkpoint-4'}, the last checkpoint in output_dir" in resumed.stderr
    state = json.loads((output / "trainer_state.json").read_text())
    assert state["global_step"] == 6
    assert [entry["step"] for entry in state["log_history"] if "loss" in entry] == [1, 2, 3, 4, 5, 6]


def test_sft_recipe_run_twice_gives_the_same_numbers(tmp_path):
    corpus = tmp_path / "synthsign"
    runs = []
    for name in ("first", "second"):
        output = tmp_path / name
        run_recipe(
            "sft_synthsign.py", *TINY_SFT, "--synthsign_cache", str(corpus), "--output_dir", str(output),
            "--max_steps", "2", "--save_strategy", "no", "--logging_steps", "1",
        )  # fmt: skip
        state = json.loads((output / "trainer_state.json").read_text())
        test_metrics = json.loads((output / "test_metrics.json").read_text())
        runs.append(([without_timings(entry) for entry in state["log_history"]], without_timings(test_metrics)))
    assert runs[0] == runs[1]


@pytest.fixture
def output_dir_with_checkpoints(tmp_path):
    for step in (2, 4):
        (tmp_path / f"checkpoint-{step}").mkdir()
    return tmp_path


def test_a_recipe_resumes_from_the_last_checkpoint_when_none_is_named(output_dir_with_checkpoints):
    args = TrainingArguments(output_dir=str(output_dir_with_checkpoints), report_to=[])
    assert checkpoint_to_resume(args) == str(output_dir_with_checkpoints / "checkpoint-4")


def test_a_recipe_resumes_from_the_checkpoint_it_is_given(output_dir_with_checkpoints):
    named = str(output_dir_with_checkpoints / "checkpoint-2")
    args = TrainingArguments(output_dir=str(output_dir_with_checkpoints), resume_from_checkpoint=named, report_to=[])
    assert checkpoint_to_resume(args) == named


def test_a_recipe_told_not_to_resume_trains_from_scratch(output_dir_with_checkpoints):
    args = TrainingArguments(output_dir=str(output_dir_with_checkpoints), resume_from_checkpoint="false", report_to=[])
    assert checkpoint_to_resume(args) is None


def test_a_recipe_starts_from_scratch_in_an_output_dir_without_checkpoints(tmp_path):
    assert checkpoint_to_resume(TrainingArguments(output_dir=str(tmp_path / "new"), report_to=[])) is None


def test_a_recipe_refuses_a_checkpoint_that_does_not_exist(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), resume_from_checkpoint=str(tmp_path / "nowhere"), report_to=[])
    with pytest.raises(FileNotFoundError, match="is not a checkpoint folder"):
        checkpoint_to_resume(args)


def test_a_recipe_told_to_resume_refuses_an_output_dir_without_checkpoints(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), resume_from_checkpoint="true", report_to=[])
    with pytest.raises(FileNotFoundError, match="holds no checkpoint"):
        checkpoint_to_resume(args)
