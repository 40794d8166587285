import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


WORKER = Path(__file__).parent / "_distributed_worker.py"


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory) -> dict:
    """Three SignDPO steps on two real CPU processes (gloo), launched with torchrun (which picks a free port)."""
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
    try:
        completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as timeout:
        output = (timeout.stdout or b"").decode()[-3000:] + (timeout.stderr or b"").decode()[-3000:]
        pytest.fail(f"The two-process run did not finish in 240 s:\n{output}")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return json.loads(result_path.read_text())


def test_two_cpu_processes_train_as_one_world_of_size_two(two_process_run):
    assert two_process_run["world_size"] == 2
    assert len(two_process_run["losses"]) == 3


def test_ranks_hold_identical_weights_after_training(two_process_run):
    first, second = two_process_run["checksums"]
    assert first == second
    assert first != two_process_run["initial_checksum"]


def test_reference_models_stay_identical_and_frozen_across_ranks(two_process_run):
    assert two_process_run["reference_checksums"] == [two_process_run["initial_checksum"]] * 2


def test_every_level_is_logged_in_the_distributed_run(two_process_run):
    levels = ["attention", "language", "spatial_global", "spatial_local", "temporal_global", "temporal_local"]
    assert two_process_run["accuracy_keys"] == ["rewards/accuracies"] + [
        f"rewards/{level}/accuracies" for level in levels
    ]
