"""Worker of `test_distributed.py`: SignDPO steps on one of two CPU processes (gloo).

Launched as `torchrun --standalone --nproc_per_node 2 tests/_distributed_worker.py RESULT.json OUTPUT_DIR`; every rank
builds the same tiny model and data (same seed) and trains twice in the same process group:

- `all_levels`: three steps over the six default levels, per-device batch 2 over 8 clips, and a checkpoint at the end
  (written by both processes: each saves its RNG state);
- `partition_free`: three steps, per-device batch 2 over 4 clips, on levels whose rejected sides do not depend on how
  the global batch is split into per-process batches (see `partition_free_config`), for the comparison with one
  process at batch 4.

Rank 0 writes the world size, the logged history and every rank's parameter checksums to `RESULT.json`.

A rank that has not finished after `WATCHDOG_S` seconds prints the stack of every thread and exits, so a hang explains
itself in the test output instead of timing out silently.
"""

import faulthandler
import gc
import json
import sys
import weakref
from pathlib import Path

import torch
import torch.distributed as dist
from datasets import Dataset


sys.path.insert(0, str(Path(__file__).parent))

from tiny import pose_dataset, tiny_model, tiny_tokenizer  # noqa: E402

from signdpo_trl.trainer import SignDPOConfig, SignDPOTrainer  # noqa: E402


WATCHDOG_S = 240

# Levels whose rejected side is a fixed function of each clip: operators that draw nothing (`randomized=False`), the
# attention level's frame freeze at the most salient frames, and one stored wrong translation per clip. The other
# operators draw from the batch's seeded generator, which is seeded per process and batch: with two processes the
# draws (and so the pairs) differ from one process's, whatever the data order.
PARTITION_FREE_LEVELS = dict(
    levels=["spatial_global", "spatial_local", "temporal_global", "attention", "language"],
    spatial_global_operators=["hand_swap"],
    spatial_local_operators=["face_freeze"],
    temporal_global_operators=["sequence_reversal"],
    attention_operators=["window_freeze"],
    # The anchor is a mean over sequences: a per-token mean would be taken over each process's tokens, and the mean
    # of two per-token means is not the per-token mean of the global batch when the processes hold different counts.
    loss_type=["sigmoid", "sft"],
    loss_weights=[1.0, 0.5],
    nll_normalization="per_sequence",
)


def distributed_config(output_dir: str, batch_size: int, **fields) -> SignDPOConfig:
    settings = dict(
        output_dir=output_dir,
        report_to=[],
        use_cpu=True,
        max_steps=3,
        per_device_train_batch_size=batch_size,
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="no",
        attention_top_k=3,
        disable_tqdm=True,
        seed=0,
    )
    return SignDPOConfig(**{**settings, **fields})


def partition_free_config(output_dir: str, batch_size: int) -> SignDPOConfig:
    return distributed_config(output_dir, batch_size, **PARTITION_FREE_LEVELS)


def partition_free_dataset() -> Dataset:
    """Four clips, so that every step's global batch (2 processes x 2, or 1 x 4) is all of them in some order, and one
    wrong translation per clip for the language level."""
    dataset = pose_dataset(4)
    return dataset.add_column("rejected_texts", [[f"{text} again"] for text in dataset["text"]])


def parameter_checksum(model: torch.nn.Module) -> float:
    return float(sum(p.detach().double().abs().sum() for p in model.parameters()))


def train(args: SignDPOConfig, dataset: Dataset) -> tuple[dict, weakref.ref]:
    """Trains, gathers every rank's checksums, and returns rank 0's results with a weak reference to the DDP wrapper,
    which must be gone before the process group is destroyed (see `main`)."""
    trainer = SignDPOTrainer(tiny_model(), args=args, train_dataset=dataset, processing_class=tiny_tokenizer())
    assert dist.is_initialized() and dist.get_world_size() == 2, "expected two processes"
    assert trainer.args.world_size == 2 and trainer.accelerator.num_processes == 2
    initial = parameter_checksum(trainer.model)
    trainer.train()

    checksums = [None, None]
    dist.all_gather_object(checksums, parameter_checksum(trainer.accelerator.unwrap_model(trainer.model)))
    reference_checksums = [None, None]
    dist.all_gather_object(reference_checksums, parameter_checksum(trainer.ref_model))
    result = {
        "world_size": dist.get_world_size(),
        "log_history": trainer.state.log_history,
        "initial_checksum": initial,
        "checksums": checksums,
        "reference_checksums": reference_checksums,
    }
    assert isinstance(trainer.model_wrapped, torch.nn.parallel.DistributedDataParallel)
    return result, weakref.ref(trainer.model_wrapped)


def main(result_path: str, output_dir: str) -> None:
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    runs = {
        "all_levels": (
            distributed_config(f"{output_dir}/all_levels", 2, save_strategy="steps", save_steps=3),
            pose_dataset(8),
        ),
        "partition_free": (partition_free_config(f"{output_dir}/partition_free", 2), partition_free_dataset()),
    }
    results = {}
    for name, (args, dataset) in runs.items():
        results[name], wrapper = train(args, dataset)
        # The DDP wrapper's C++ Reducer holds a reference to the gloo process group. Had it outlived
        # `destroy_process_group`, its destructor, run with the GIL held, would drop the group's last reference and
        # join gloo's worker threads, one of which may be waiting for the GIL to free the tensors of the last
        # collective it ran: a deadlock at exit (pytorch/pytorch#56297). Dropped here, the Reducer only releases a
        # reference; the last one goes in `destroy_process_group`, from Python, whose binding releases the GIL first.
        gc.collect()
        assert wrapper() is None, "the DDP wrapper outlived its trainer: free it before destroying the group"
    if dist.get_rank() == 0:
        Path(result_path).write_text(json.dumps(results))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:3])
