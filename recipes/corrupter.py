"""The learned language-level corrupter: mine the MLE model's own errors, tune a LoRA / QLoRA corrupter on them, and
write its wrong translations of every training clip for SignDPO's language level.

This is the shared body of the `corrupter_*.py` recipes; it runs on its own too, with any corpus:

```bash
python recipes/corrupter.py --config recipes/configs/corrupter_synthsign.yaml
accelerate launch recipes/corrupter.py --config recipes/configs/corrupter_openasl.yaml --model_name_or_path outputs/sft
```

Then SignDPO trains with the corrupter's samples as the language level's rejected side:

```bash
python recipes/dpo_synthsign.py --rejected_texts_path outputs/corrupter_synthsign/rejected_texts
```

Steps: the MLE model (`model_name_or_path`) translates the training split with beam search and its n-best outputs
that are wrong in meaning are kept (cached in `<output_dir>/mined`); they become (reference, wrong translation) pairs,
topped up with rule-based corruptions; the corrupter (LoRA on `corrupter_model_name_or_path`, by default the MLE
model's own language model) learns to write them and is saved to `output_dir` with its model card; it then samples
wrong translations of every training reference (cached in `<output_dir>/rejected_cache`), saved with the references
to `<output_dir>/rejected_texts`, the dataset `--rejected_texts_path` reads. The mix of the pairs, the kinds of error
mined and what the corrupter wrote are printed and saved to `<output_dir>/corrupter_report.json`. Mining decodes at
most `max_new_tokens` tokens and judges errors with `chrf_threshold`, the settings the corrupter's samples are held
to as well.

Any field of `CorrupterConfig`, `CorrupterScriptArguments` or `SignDataArguments` can be given on the command line
and overrides the YAML file (`--max_steps 100`, `--push_to_hub --hub_model_id me/sign-corrupter`).
"""

import dataclasses
import gc
import json
from pathlib import Path

import torch

from signdpo_trl.corrupter import (
    CorrupterConfig,
    CorrupterTrainer,
    corrupter_pairs,
    count_error_kinds,
    mine_translation_errors,
)
from signdpo_trl.script_utils import (
    CorrupterScriptArguments,
    SignDataArguments,
    SignModelArguments,
    build_model,
    dataset_name_of,
    end_training,
    load_splits,
    load_tokenizer,
    parse_recipe_arguments,
)


def synthsign_minimal_pair_words(data_args: SignDataArguments):
    """SynthSign's minimal-pair word table when the corpus is the generated SynthSign, else None."""
    if data_args.dataset_path is not None or data_args.benchmark is not None:
        return None
    from signdpo_trl.data.synthetic import SynthSignConfig, minimal_pair_words
    from signdpo_trl.data.synthetic.lexicon import build_lexicon

    config = SynthSignConfig(num_clips=data_args.synthsign_num_clips, seed=data_args.synthsign_seed)
    return minimal_pair_words(build_lexicon(config.lexicon_seed, config.minimal_pair_rate))


def report_fields(report) -> dict:
    """A report dataclass as JSON fields, its derived shares (properties) included."""
    fields = {name: value for name, value in dataclasses.asdict(report).items() if name != "from_cache"}
    derived = [name for name, value in vars(type(report)).items() if isinstance(value, property)]
    return {**fields, **{name: getattr(report, name) for name in derived}}


def main(data_args: SignDataArguments, training_args: CorrupterConfig, script_args: CorrupterScriptArguments):
    output_dir = Path(training_args.output_dir)
    train_dataset, _, _ = load_splits(data_args)

    model_args = SignModelArguments(model_name_or_path=script_args.model_name_or_path)
    tokenizer = load_tokenizer(model_args, train_dataset["text"], language=training_args.language)
    model = build_model(model_args, tokenizer).to(training_args.device)
    # The main process mines first and fills the cache, which the other processes then read.
    with training_args.main_process_first(desc="mining the MLE model's translation errors"):
        mined, mining_report = mine_translation_errors(
            model,
            tokenizer,
            train_dataset,
            num_beams=script_args.mining_num_beams,
            num_candidates=script_args.mining_num_candidates,
            chrf_threshold=training_args.chrf_threshold,
            batch_size=script_args.mining_batch_size,
            max_frames=script_args.max_frames,
            max_new_tokens=training_args.max_new_tokens,
            language=training_args.language,
            cache_dir=output_dir / "mined",
            show_progress=not training_args.disable_tqdm,
            return_report=True,
        )
    # The corrupter trains next: the MLE model's memory is needed for it.
    del model
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()

    pairs, pairs_report = corrupter_pairs(
        mined,
        min_pairs_per_row=script_args.min_pairs_per_row,
        max_pairs_per_row=script_args.max_pairs_per_row,
        language=training_args.language,
        seed=training_args.seed,
    )
    mined_pairs = [(row["reference"], row["corrupted"]) for row in pairs if row["source"] == "mined"]
    error_kinds = count_error_kinds(
        [reference for reference, _ in mined_pairs],
        [corrupted for _, corrupted in mined_pairs],
        minimal_pair_words=synthsign_minimal_pair_words(data_args),
        language=training_args.language,
    )
    report = {
        "mining": report_fields(mining_report),
        "pairs": report_fields(pairs_report),
        "error_kinds_of_mined_pairs": error_kinds,
    }
    print(
        f"Mined {mining_report.num_errors} errors of the MLE model for {mining_report.num_rows_with_errors} of "
        f"{mining_report.num_rows} training clips (chrF < {mining_report.chrf_threshold})."
    )
    print(
        f"Corrupter pairs: {pairs_report.num_pairs} = {pairs_report.num_mined} mined + {pairs_report.num_rules} "
        f"rule-based ({pairs_report.fraction_mined:.0%} mined; {pairs_report.num_rows_topped_up} clips topped up)."
    )
    print("Error kinds of the mined pairs: " + ", ".join(f"{kind} {count}" for kind, count in error_kinds.items()))

    trainer = CorrupterTrainer(
        script_args.corrupter_model_name_or_path or script_args.model_name_or_path,
        args=training_args,
        train_dataset=pairs,
    )
    trainer.train()
    trainer.save_model(training_args.output_dir)

    with training_args.main_process_first(desc="sampling the corrupter's wrong translations"):
        rejected, generation_report = trainer.generate_rejected_texts(
            train_dataset, cache_dir=output_dir / "rejected_cache", return_report=True
        )
    report["generation"] = report_fields(generation_report)
    print(
        f"The corrupter kept {generation_report.num_kept} of {generation_report.num_sampled} sampled wrong "
        f"translations; {generation_report.num_rows_with_candidates} of {generation_report.num_rows} clips have one."
    )
    if trainer.is_world_process_zero():
        rejected.select_columns(["text", "rejected_texts"]).save_to_disk(str(output_dir / "rejected_texts"))
        (output_dir / "corrupter_report.json").write_text(json.dumps(report, indent=2))
        print(f"Wrote {output_dir / 'rejected_texts'}: train SignDPO with --rejected_texts_path pointing at it.")
    if training_args.push_to_hub:
        trainer.push_to_hub(dataset_name=dataset_name_of(data_args))
    end_training(trainer)


def cli(default_config: str | None = None):
    """Parses the command line (a `--config` YAML and overrides) and runs `main`."""
    config = Path(__file__).parent / default_config if default_config else None
    main(*parse_recipe_arguments(CorrupterConfig, config, script_arguments_class=CorrupterScriptArguments))


if __name__ == "__main__":
    cli()
