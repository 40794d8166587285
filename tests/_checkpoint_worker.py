"""Worker of `test_checkpointing.py`: a tiny SignDPO run that is killed while it writes a checkpoint.

Launched as `python tests/_checkpoint_worker.py OUTPUT_DIR SIGNAL_FILE STALL_STEP`. It trains with a checkpoint every
two steps (`checkpoint_config`); when it saves the checkpoint of `STALL_STEP`, it stops after the model weights are on
disk and before the optimizer, RNG and trainer state are: it writes the folder being written to `SIGNAL_FILE` and
sleeps, for the parent to kill it there.
"""

import sys
import time
from pathlib import Path

from datasets import Dataset


sys.path.insert(0, str(Path(__file__).parent))

from tiny import pose_dataset, tiny_model, tiny_tokenizer  # noqa: E402

from signdpo_trl.trainer import SignDPOConfig, SignDPOTrainer  # noqa: E402


def checkpoint_config(output_dir: str) -> SignDPOConfig:
    """Six steps, a checkpoint every two, only the newest kept: the save of step 4 deletes checkpoint-2 once it is
    done."""
    return SignDPOConfig(
        output_dir=output_dir,
        report_to=[],
        use_cpu=True,
        max_steps=6,
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="steps",
        save_steps=2,
        save_total_limit=1,
        attention_top_k=3,
        disable_tqdm=True,
        seed=0,
    )


def checkpoint_dataset() -> Dataset:
    return pose_dataset(4)


def main(output_dir: str, signal_file: str, stall_step: str) -> None:
    trainer = SignDPOTrainer(
        tiny_model(),
        args=checkpoint_config(output_dir),
        train_dataset=checkpoint_dataset(),
        processing_class=tiny_tokenizer(),
    )
    save_optimizer_and_scheduler = trainer._save_optimizer_and_scheduler

    def stall_mid_save(folder: str) -> None:
        if trainer.state.global_step == int(stall_step):
            Path(signal_file).write_text(folder)
            time.sleep(600)
        save_optimizer_and_scheduler(folder)

    trainer._save_optimizer_and_scheduler = stall_mid_save
    trainer.train()


if __name__ == "__main__":
    main(*sys.argv[1:4])
