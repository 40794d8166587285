import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _distributed_worker import WATCHDOG_S, partition_free_config, partition_free_dataset
from tiny import tiny_model, tiny_tokenizer

from signdpo_trl.trainer import SignDPOTrainer


WORKER = Path(__file__).parent / "_distributed_worker.py"
LEVELS = ["attention", "language", "spatial_global", "spatial_local", "temporal_global", "temporal_local"]
# Past the workers' own watchdog, which prints every rank's stacks and exits: this limit only catches a launcher that
# never returns.
TIMEOUT_S = WATCHDOG_S + 60


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory) -> dict:
    """The worker's two runs on two real CPU processes (gloo), launched with torchrun, whose `--standalone` rendezvous
    listens on a port the OS picks."""
    tmp_path = tmp_path_factory.mktemp("distributed")
    result_path = tmp_path / "result.json"
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(WORKER),
        str(result_path),
        str(tmp_path / "output"),
    ]
    launcher = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = launcher.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        # torchrun starts each worker in a session of its own: a SIGTERM to torchrun is what reaches them.
        launcher.terminate()
        try:
            output, _ = launcher.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            launcher.kill()
            output, _ = launcher.communicate()
        pytest.fail(f"The two-process run did not finish in {TIMEOUT_S} s:\n{output[-12000:]}")
    assert launcher.returncode == 0, output[-12000:]
    return {**json.loads(result_path.read_text()), "output_dir": tmp_path / "output"}


def logged_steps(log_history: list[dict]) -> list[dict]:
    return [entry for entry in log_history if "loss" in entry]


def test_two_cpu_processes_train_as_one_world_of_size_two(two_process_run):
    run = two_process_run["all_levels"]
    assert run["world_size"] == 2
    assert [entry["step"] for entry in logged_steps(run["log_history"])] == [1, 2, 3]


def test_ranks_hold_identical_weights_after_training(two_process_run):
    run = two_process_run["all_levels"]
    first, second = run["checksums"]
    assert first == second
    assert first != run["initial_checksum"]


def test_reference_models_stay_identical_and_frozen_across_ranks(two_process_run):
    run = two_process_run["all_levels"]
    assert run["reference_checksums"] == [run["initial_checksum"]] * 2


def test_a_checkpoint_of_two_processes_appears_complete_with_both_ranks_states(two_process_run):
    output_dir = two_process_run["output_dir"] / "all_levels"
    assert sorted(path.name for path in output_dir.iterdir()) == ["README.md", "checkpoint-3"]
    saved = {path.name for path in (output_dir / "checkpoint-3").iterdir()}
    assert {"model.safetensors", "optimizer.pt", "rng_state_0.pth", "rng_state_1.pth", "trainer_state.json"} <= saved


def test_every_level_is_logged_in_the_distributed_run(two_process_run):
    first_step = logged_steps(two_process_run["all_levels"]["log_history"])[0]
    assert sorted(key for key in first_step if key.endswith("/accuracies")) == ["rewards/accuracies"] + [
        f"rewards/{level}/accuracies" for level in LEVELS
    ]


def test_two_processes_at_batch_two_log_what_one_process_at_batch_four_logs(two_process_run, tmp_path):
    """Same initial weights, same pairs: the four clips are every step's global batch (in whatever order the samplers
    put them), and the levels' rejected sides do not depend on how that batch is split (see the worker's
    `PARTITION_FREE_LEVELS`). DDP averages the two processes' gradients, the Trainer logs the mean of their losses, and
    the per-level metrics are means over the rows gathered from both processes: with equal halves, all of them are the
    one-process values of the whole batch.

    The tolerance is float32 rounding: a sequence's log-probability (about -110 nats, ulp 8e-6) is summed in another
    order. Accuracies count margins above zero, and at step 1 (policy = reference) every margin is that rounding noise,
    so the first step's accuracies are left out."""
    trainer = SignDPOTrainer(
        tiny_model(),
        args=partition_free_config(str(tmp_path), 4),
        train_dataset=partition_free_dataset(),
        processing_class=tiny_tokenizer(),
    )
    trainer.train()
    one_process = logged_steps(trainer.state.log_history)
    two_processes = logged_steps(two_process_run["partition_free"]["log_history"])

    assert [entry["step"] for entry in two_processes] == [entry["step"] for entry in one_process] == [1, 2, 3]
    assert {"rewards/attention/margins", "rewards/language/margins", "nll"} <= set(one_process[0])
    for single, double in zip(one_process, two_processes):
        assert set(double) == set(single)
        metrics = [
            key
            for key in single
            if key.startswith(("loss", "grad_norm", "nll", "rewards/", "logps/", "kept/"))
            and not (single["step"] == 1 and key.endswith("/accuracies"))
        ]
        assert [double[key] for key in metrics] == pytest.approx([single[key] for key in metrics], rel=1e-5, abs=1e-5)
    checksum = float(sum(p.detach().double().abs().sum() for p in trainer.model.parameters()))
    assert two_process_run["partition_free"]["checksums"] == pytest.approx([checksum] * 2, rel=1e-8)
