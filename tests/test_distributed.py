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
    # The run takes 10-20 s. Rarely (once in about a dozen runs on a loaded 2-core machine, cause not yet found) the
    # two processes never finish; a second attempt is made before failing, and both outputs are reported.
    outputs = []
    for _ in range(2):
        try:
            completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=150)
        except subprocess.TimeoutExpired as timeout:
            outputs.append(_text(timeout.stdout)[-3000:] + _text(timeout.stderr)[-3000:])
            continue
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
        return json.loads(result_path.read_text())
    pytest.fail("The two-process run did not finish in 150 s, twice:\n" + "\n-----\n".join(outputs))


def _text(output: bytes | str | None) -> str:
    return output.decode() if isinstance(output, bytes) else output or ""


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
