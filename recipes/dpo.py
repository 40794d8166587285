"""SignDPO from an MLE checkpoint: multi-level preference pairs built on the fly, test metrics before and after.

This is the shared body of the `dpo_*.py` recipes; it runs on its own too, with any corpus:

```bash
python recipes/dpo.py --config recipes/configs/dpo_synthsign.yaml
accelerate launch recipes/dpo.py --config recipes/configs/dpo_synthsign.yaml --model_name_or_path outputs/sft
```

A run stopped midway resumes from the last checkpoint in `output_dir` when started again (or from
`--resume_from_checkpoint <path>`; `--resume_from_checkpoint false` starts over).

Any field of `SignDPOConfig`, `SignModelArguments` or `SignDataArguments` can be given on the command line and
overrides the YAML file.
"""

from pathlib import Path

from transformers import set_seed

from signdpo_trl import SignDPOConfig, SignDPOTrainer
from signdpo_trl.script_utils import (
    SignDataArguments,
    SignModelArguments,
    build_model,
    checkpoint_to_resume,
    dataset_name_of,
    end_training,
    load_splits,
    load_tokenizer,
    parse_recipe_arguments,
    peft_config_from,
    save_final_model,
)
from signdpo_trl.trainer import evaluate_translation


def main(data_args: SignDataArguments, training_args: SignDPOConfig, model_args: SignModelArguments):
    if model_args.model_name_or_path is None:
        raise ValueError("SignDPO starts from an MLE checkpoint: set model_name_or_path (e.g. outputs/sft_synthsign).")
    train_dataset, eval_dataset, test_dataset = load_splits(data_args)

    tokenizer = load_tokenizer(model_args, train_dataset[training_args.text_column], language=training_args.language)
    model = build_model(model_args, tokenizer)

    def score(stage: str) -> dict[str, float]:
        metrics, _ = evaluate_translation(
            model, tokenizer, test_dataset, training_args, language=training_args.language, metric_key_prefix=stage
        )
        return metrics

    before = score("before")
    # Seeded before anything random is built: LoRA adapters (use_peft) are drawn when the trainer wraps the model.
    set_seed(training_args.seed)
    trainer = SignDPOTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=peft_config_from(model_args),
    )
    trainer.train(resume_from_checkpoint=checkpoint_to_resume(training_args))
    model = trainer.model
    after = score("after")

    # Weights, code, tokenizer, test_metrics.json and a card with the test metrics; then the push, with --push_to_hub.
    save_final_model(trainer, dataset_name=dataset_name_of(data_args), test_metrics={"before": before, "after": after})
    if trainer.is_world_process_zero():
        for key in sorted(before):
            name = key.removeprefix("before_")
            if f"after_{name}" in after and isinstance(before[key], float):
                print(f"{name:>28}: {before[key]:8.2f} -> {after[f'after_{name}']:8.2f}")
    end_training(trainer)


def cli(default_config: str | None = None):
    """Parses the command line (a `--config` YAML and overrides) and runs `main`."""
    main(*parse_recipe_arguments(SignDPOConfig, Path(__file__).parent / default_config if default_config else None))


if __name__ == "__main__":
    cli()
