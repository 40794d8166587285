"""Maximum-likelihood (MLE) training of a pose-to-text model on any corpus, then test metrics.

This is the shared body of the `sft_*.py` recipes; it runs on its own too:

```bash
python recipes/sft.py --config recipes/configs/sft_synthsign.yaml
accelerate launch recipes/sft.py --config recipes/configs/sft_openasl.yaml
```

A run stopped midway resumes from the last checkpoint in `output_dir` when started again (or from
`--resume_from_checkpoint <path>`; `--resume_from_checkpoint false` starts over).

The MLE model is the starting point and the reference model of SignDPO (`recipes/dpo_*.py`). Any field of
`SignSFTConfig`, `SignModelArguments` or `SignDataArguments` can be given on the command line and overrides the
YAML file (`--num_train_epochs 2`, `--push_to_hub --hub_model_id me/sign-sft`).
"""

from pathlib import Path

from transformers import set_seed

from signdpo_trl import SignSFTConfig, SignSFTTrainer
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
    save_final_model,
)


def main(data_args: SignDataArguments, training_args: SignSFTConfig, model_args: SignModelArguments):
    train_dataset, eval_dataset, test_dataset = load_splits(data_args)

    tokenizer = load_tokenizer(model_args, train_dataset[training_args.text_column], language=training_args.language)
    # Seeded before the random initial weights of a model built from a config are drawn.
    set_seed(training_args.seed)
    model = build_model(model_args, tokenizer)

    trainer = SignSFTTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
    )
    trainer.train(resume_from_checkpoint=checkpoint_to_resume(training_args))

    test_metrics = trainer.predict(test_dataset).metrics
    trainer.log_metrics("test", test_metrics)
    trainer.save_metrics("test", test_metrics)
    summary = {key.removeprefix("test_"): value for key, value in test_metrics.items()}
    summary["signature"] = trainer.last_signature
    # Weights, code, tokenizer, test_metrics.json and a card with the test metrics; then the push, with --push_to_hub.
    save_final_model(trainer, dataset_name=dataset_name_of(data_args), test_metrics=summary)
    end_training(trainer)


def cli(default_config: str | None = None):
    """Parses the command line (a `--config` YAML and overrides) and runs `main`."""
    main(*parse_recipe_arguments(SignSFTConfig, Path(__file__).parent / default_config if default_config else None))


if __name__ == "__main__":
    cli()
