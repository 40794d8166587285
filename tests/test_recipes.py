import json
import os
import subprocess
import sys

from conftest import PROJECT_ROOT


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
