"""Worker of `test_distributed.py`: a few SignDPO steps on one of two CPU processes (gloo).

Launched as `torchrun --standalone --nproc_per_node 2 tests/_distributed_worker.py RESULT.json OUTPUT_DIR`; every rank
builds the same tiny model and data (same seed), and rank 0 writes the world size, the logged losses and every rank's
parameter checksum to `RESULT.json`.
"""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist


sys.path.insert(0, str(Path(__file__).parent))

from tiny import pose_dataset, tiny_model, tiny_tokenizer  # noqa: E402

from signdpo_trl.trainer import SignDPOConfig, SignDPOTrainer  # noqa: E402


def parameter_checksum(model: torch.nn.Module) -> float:
    return float(sum(p.detach().double().abs().sum() for p in model.parameters()))


def main(result_path: str, output_dir: str) -> None:
    args = SignDPOConfig(
        output_dir=output_dir,
        report_to=[],
        use_cpu=True,
        max_steps=3,
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="no",
        attention_top_k=3,
        disable_tqdm=True,
        seed=0,
    )
    trainer = SignDPOTrainer(tiny_model(), args=args, train_dataset=pose_dataset(8), processing_class=tiny_tokenizer())
    assert dist.is_initialized() and dist.get_world_size() == 2, "expected two processes"
    assert trainer.args.world_size == 2 and trainer.accelerator.num_processes == 2
    initial = parameter_checksum(trainer.model)
    trainer.train()

    checksums = [None, None]
    dist.all_gather_object(checksums, parameter_checksum(trainer.accelerator.unwrap_model(trainer.model)))
    reference_checksums = [None, None]
    dist.all_gather_object(reference_checksums, parameter_checksum(trainer.ref_model))
    if trainer.accelerator.is_main_process:
        losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
        result = {
            "world_size": dist.get_world_size(),
            "losses": losses,
            "initial_checksum": initial,
            "checksums": checksums,
            "reference_checksums": reference_checksums,
            "accuracy_keys": sorted(key for key in trainer.state.log_history[0] if key.endswith("/accuracies")),
        }
        Path(result_path).write_text(json.dumps(result))
    trainer.accelerator.wait_for_everyone()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:3])
