"""The `signdpo` command line: generate SynthSign, build pose datasets, translate pose files, probe perturbation
operators, and mine, train and sample the learned language-level corrupter.

```
signdpo synthsign --num-clips 2000 --seed 0 --output data/synthsign
signdpo build manifest.jsonl --output data/my_corpus --num-proc 8 --on-error skip
signdpo build openasl-v1.0.tsv --benchmark openasl --pose-root poses/ --output data/openasl
signdpo translate --model outputs/dpo_synthsign clip.pose clip.pkl openpose_frames/ --output translations.jsonl
signdpo probe --model outputs/sft --dataset data/synthsign --split test --max-samples 200 --output outputs/probe
signdpo operators
signdpo corrupter mine --model outputs/sft --dataset data/synthsign --output outputs/mined
signdpo corrupter train --mined outputs/mined --base outputs/sft --output outputs/corrupter --max-steps 400
signdpo corrupter generate --corrupter outputs/corrupter --dataset data/synthsign --output outputs/rejected_texts
```

`signdpo corrupter generate` writes the dataset that the recipes' `--rejected_texts_path` reads (the references and
their `rejected_texts`); `recipes/corrupter_*.py` run the three steps in one go.

Mistakes in arguments or paths end the command with a one-line message that names them and a non-zero exit status
(2 for arguments, 1 for anything found while running); `signdpo --traceback COMMAND ...` shows where an error
came from.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .version import __version__


PROG = "signdpo"
BENCHMARKS = ("openasl", "how2sign", "csl-daily")
PROBE_FILES = ("probe.md", "probe.json", "probe.png")


class CommandError(Exception):
    """A user mistake found while a command runs: reported as one line, without a traceback."""


# -- commands ---------------------------------------------------------------------------------------------------------


def synthsign_command(args: argparse.Namespace) -> None:
    from .data.synthetic import SynthSignConfig, generate_synthsign, write_synthsign

    output = _fresh_output(args.output, "--output", args.overwrite)
    config = SynthSignConfig(
        num_clips=args.num_clips,
        seed=args.seed,
        validation_size=args.validation_size,
        test_size=args.test_size,
        keypoint_dtype=args.keypoint_dtype,
    )
    if args.format == "arrow":
        corpus = generate_synthsign(config, num_proc=args.num_proc)
        corpus.save_to_disk(str(output))
        sizes = ", ".join(f"{split} {len(dataset)}" for split, dataset in corpus.items())
        print(f"Wrote SynthSign ({sizes} clips) to {output}; load it with datasets.load_from_disk({str(output)!r}).")
    else:
        manifest = write_synthsign(config, output, format=args.format)
        print(
            f"Wrote {config.num_clips} SynthSign .{args.format} files and the manifest {manifest}; "
            f"build a dataset with `{PROG} build {manifest} --output DIR`."
        )


def build_command(args: argparse.Namespace) -> None:
    from .data import build_pose_dataset, load_csl_daily, load_how2sign, load_openasl

    source = Path(args.source)
    if not source.exists():
        raise CommandError(f"{args.source}: no such file or directory.")
    if args.pose_root is not None and not Path(args.pose_root).is_dir():
        raise CommandError(f"--pose-root {args.pose_root}: no such directory.")
    output = _fresh_output(args.output, "--output", args.overwrite)
    build_kwargs = {
        "num_proc": args.num_proc,
        "on_error": args.on_error,
        "keypoint_dtype": args.keypoint_dtype,
        "coords": args.coords,
        "layout": args.layout,
        "fps": args.fps,
        "cache_dir": args.cache_dir,
        "return_report": True,
    }
    if args.benchmark is None:
        if not source.is_file():
            raise CommandError(f"{args.source}: a manifest must be a .csv, .tsv or .jsonl file, not a directory.")
        loaded = build_pose_dataset(source, pose_root=args.pose_root, **build_kwargs)
    else:
        if args.pose_root is None:
            raise CommandError(f"--benchmark {args.benchmark} needs --pose-root, the folder of its pose files.")
        if args.benchmark == "openasl":
            if not source.is_file():
                raise CommandError(f"{args.source}: OpenASL needs its label file (openasl-v1.0.tsv), not a folder.")
            loaded = load_openasl(source, args.pose_root, pose_pattern=args.pose_pattern, **build_kwargs)
        else:
            if not source.is_dir():
                raise CommandError(f"{args.source}: {args.benchmark} needs the folder of its label files.")
            loader = load_how2sign if args.benchmark == "how2sign" else load_csl_daily
            loaded = loader(source, args.pose_root, **build_kwargs)
    dataset, report = loaded
    dataset.save_to_disk(str(output))
    sizes = ", ".join(f"{split} {count}" for split, count in report.num_rows.items())
    print(f"Wrote {output} ({sizes} clips).")
    if report.num_skipped:
        listed = "\n".join(f"  {problem}" for problem in report.skipped[:10])
        more = f"\n  ... and {report.num_skipped - 10} more" if report.num_skipped > 10 else ""
        print(f"Skipped {report.num_skipped} unusable rows:\n{listed}{more}")


def translate_command(args: argparse.Namespace) -> None:
    from .inference import Translator

    output = Path(args.output) if args.output is not None else None
    if output is not None and output.exists() and not args.overwrite:
        raise CommandError(f"--output {args.output}: exists; pass --overwrite to replace it.")
    translator = Translator.from_pretrained(
        args.model,
        device=args.device,
        max_frames=args.max_frames,
        keypoint_dtype=args.keypoint_dtype,
        layout=args.layout,
    )
    results = translator.translate_files(
        args.files,
        num_beams=args.num_beams,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        show_progress=sys.stderr.isatty(),
    )
    for result in results:
        if result.ok:
            print(f"{result.file}\t{result.translation}")
        else:
            print(f"{PROG} translate: error: {result.error}", file=sys.stderr)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        lines = (json.dumps(result.to_dict(), ensure_ascii=False) + "\n" for result in results)
        output.write_text("".join(lines), encoding="utf-8")
    failed = sum(not result.ok for result in results)
    if failed:
        written = f"; {output} has an error row for each" if output is not None else ""
        raise CommandError(f"{failed} of {len(results)} files could not be translated (listed above){written}.")


def probe_command(args: argparse.Namespace) -> None:
    import torch
    from transformers import AutoTokenizer

    from .models import SignTranslationModel
    from .perturbations import probe

    model_dir = _saved_model_dir(args.model, "--model")
    dataset = _saved_dataset(args.dataset, "--dataset", args.split)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = SignTranslationModel.from_pretrained(str(model_dir)).to(device)
    language = args.language or tokenizer.init_kwargs.get("language") or "en"

    report = probe(
        model,
        tokenizer,
        dataset,
        operators=args.operators,
        strengths=args.strengths,
        batch_size=args.batch_size,
        max_samples=args.max_samples,
        num_beams=args.num_beams,
        max_new_tokens=args.max_new_tokens,
        language=language,
        seed=args.seed,
        max_frames=args.max_frames,
        text_column=args.text_column,
        compute_bleu=not args.no_bleu,
    )
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    markdown = report.to_markdown()
    (output / "probe.md").write_text(markdown, encoding="utf-8")
    report.to_json(output / "probe.json")
    report.plot(output / "probe.png")
    print(markdown)
    print(f"Wrote {', '.join(str(output / name) for name in PROBE_FILES)}.")


def operators_command(args: argparse.Namespace) -> None:
    from .perturbations import get_operator_spec, list_operators

    specs = [get_operator_spec(name) for name in list_operators(args.level)]
    name_width = max((len(spec.name) for spec in specs), default=0)
    level_width = max((len(spec.level) for spec in specs), default=0)
    for spec in specs:
        description = _first_sentence(spec.description)
        if spec.requires_salience:
            description += " [needs the model's salience: runs in the training step]"
        print(f"{spec.name:<{name_width}}  {spec.level:<{level_width}}  {description}")


def corrupter_mine_command(args: argparse.Namespace) -> None:
    import torch
    from transformers import AutoTokenizer

    from .corrupter import count_error_kinds, mine_translation_errors
    from .models import SignTranslationModel

    model_dir = _saved_model_dir(args.model, "--model")
    dataset = _saved_dataset(args.dataset, "--dataset", args.split)
    output = _fresh_output(args.output, "--output", args.overwrite)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = SignTranslationModel.from_pretrained(str(model_dir)).to(device)

    mined, report = mine_translation_errors(
        model,
        tokenizer,
        dataset,
        num_beams=args.num_beams,
        num_candidates=args.num_candidates,
        chrf_threshold=args.chrf_threshold,
        batch_size=args.batch_size,
        max_frames=args.max_frames,
        max_new_tokens=args.max_new_tokens,
        text_column=args.text_column,
        language=args.language,
        return_report=True,
    )
    mined.select_columns([args.text_column, "rejected_texts"]).save_to_disk(str(output))
    kinds = count_error_kinds(mined[args.text_column], mined["rejected_texts"], language=args.language)
    print(
        f"Mined {report.num_errors} errors of {report.num_hypotheses} hypotheses for {report.num_rows_with_errors} "
        f"of {report.num_rows} clips (chrF < {report.chrf_threshold}; {report.num_too_close} near-copies left out)."
    )
    print("Error kinds: " + ", ".join(f"{kind} {count}" for kind, count in kinds.items()))
    print(f"Wrote {output}; train a corrupter on it with `{PROG} corrupter train --mined {output} --base ...`.")


def corrupter_train_command(args: argparse.Namespace) -> None:
    from .corrupter import CorrupterConfig, CorrupterTrainer, corrupter_pairs

    mined = _saved_dataset(args.mined, "--mined", split=None)
    if "rejected_texts" not in mined.column_names:
        raise CommandError(
            f"--mined {args.mined}: no rejected_texts column (it has {', '.join(mined.column_names)}); write one "
            f"with `{PROG} corrupter mine`."
        )
    if args.text_column not in mined.column_names:
        raise CommandError(f"--text-column {args.text_column}: {args.mined} has no such column.")
    output = _fresh_output(args.output, "--output", args.overwrite)
    pairs, pairs_report = corrupter_pairs(
        mined,
        text_column=args.text_column,
        min_pairs_per_row=args.min_pairs_per_row,
        max_pairs_per_row=args.max_pairs_per_row,
        language=args.language,
        seed=args.seed,
    )
    config = CorrupterConfig(
        output_dir=str(output),
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        lr_scheduler_type="cosine",
        lora_r=args.lora_r,
        lora_alpha=args.lora_alpha,
        load_in_4bit=args.load_in_4bit,
        allow_full_precision_fallback=args.allow_full_precision_fallback,
        language=args.language,
        seed=args.seed,
        save_strategy="no",
        report_to="none",
    )
    trainer = CorrupterTrainer(args.base, args=config, train_dataset=pairs)
    print(
        f"Corrupter pairs: {pairs_report.num_pairs} = {pairs_report.num_mined} mined + {pairs_report.num_rules} "
        f"rule-based ({pairs_report.fraction_mined:.0%} mined)."
    )
    trainer.train()
    trainer.save_model()
    print(f"Wrote the corrupter to {output}; sample with `{PROG} corrupter generate --corrupter {output} ...`.")


def corrupter_generate_command(args: argparse.Namespace) -> None:
    import torch

    from .corrupter import generate_rejected_texts, load_corrupter

    corrupter_dir = Path(args.corrupter)
    if not corrupter_dir.is_dir():
        raise CommandError(f"--corrupter {args.corrupter}: no such directory.")
    if not any((corrupter_dir / name).is_file() for name in ("adapter_config.json", "config.json")):
        raise CommandError(
            f"--corrupter {args.corrupter}: no adapter_config.json or config.json there; give a folder written by "
            f"`{PROG} corrupter train`."
        )
    dataset = _saved_dataset(args.dataset, "--dataset", args.split)
    output = _fresh_output(args.output, "--output", args.overwrite)
    model, tokenizer = load_corrupter(corrupter_dir)
    model.to(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    generated, report = generate_rejected_texts(
        model,
        tokenizer,
        dataset,
        text_column=args.text_column,
        num_candidates=args.num_candidates,
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        chrf_threshold=args.chrf_threshold,
        language=args.language,
        batch_size=args.batch_size,
        seed=args.seed,
        return_report=True,
    )
    generated.select_columns([args.text_column, "rejected_texts"]).save_to_disk(str(output))
    print(
        f"Kept {report.num_kept} of {report.num_sampled} sampled wrong translations ({report.num_same} copies, "
        f"{report.num_too_close} near-copies, {report.num_empty} empty dropped); "
        f"{report.num_rows_with_candidates} of {report.num_rows} clips have at least one."
    )
    print(f"Wrote {output}; train SignDPO with it: `--rejected_texts_path {output}`.")


# -- parser -----------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The `signdpo` argument parser, one subcommand per task."""
    from .data.collation import PoseCollator
    from .perturbations import LEVELS
    from .perturbations.probe import DEFAULT_STRENGTHS

    parser = argparse.ArgumentParser(
        prog=PROG, description="SignDPO: multi-level DPO for skeleton-based sign language translation."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--traceback", action="store_true", help="Show the full traceback of an error.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    synthsign = commands.add_parser(
        "synthsign", help="Generate the SynthSign corpus.", description="Generate the SynthSign corpus."
    )
    synthsign.add_argument("--num-clips", type=_positive_int, default=10_000, help="Clips in all splits together.")
    synthsign.add_argument("--seed", type=int, default=0, help="Seed of the corpus.")
    for split in ("validation", "test"):
        synthsign.add_argument(
            f"--{split}-size",
            type=_size,
            default=0.1,
            help=f"Clips in {split}: a count (e.g. 50) or a fraction of --num-clips (e.g. 0.1, the default).",
        )
    synthsign.add_argument("--output", required=True, help="Output folder (must be empty or absent).")
    synthsign.add_argument(
        "--format",
        choices=("arrow", "pkl", "pose"),
        default="arrow",
        help="arrow: a DatasetDict saved with save_to_disk; pkl / pose: one pose file per clip plus manifest.jsonl.",
    )
    synthsign.add_argument("--keypoint-dtype", choices=("float16", "float32"), default="float16")
    synthsign.add_argument("--num-proc", type=_positive_int, default=None, help="Worker processes (arrow only).")
    synthsign.add_argument("--overwrite", action="store_true", help="Write into a non-empty --output.")
    synthsign.set_defaults(handler=synthsign_command)

    build = commands.add_parser(
        "build",
        help="Build a pose DatasetDict from a manifest or a benchmark's label files.",
        description="Build a memory-mapped pose DatasetDict and save it with save_to_disk. SOURCE is a manifest "
        "(.csv, .tsv, .jsonl with id, path, text[, split, start, end]) or, with --benchmark, the benchmark's label "
        "file (OpenASL: openasl-v1.0.tsv) or label folder (How2Sign, CSL-Daily).",
    )
    build.add_argument("source", metavar="SOURCE", help="Manifest file, or the benchmark's label file / folder.")
    build.add_argument("--output", required=True, help="Output folder (must be empty or absent).")
    build.add_argument("--benchmark", choices=BENCHMARKS, help="Read SOURCE as this benchmark's label files.")
    build.add_argument("--pose-root", help="Folder that pose paths are resolved against (required with --benchmark).")
    build.add_argument(
        "--pose-pattern", default="{vid}.pose", help="OpenASL: where a clip's pose file is (default: {vid}.pose)."
    )
    build.add_argument("--num-proc", type=_positive_int, default=None, help="Processes reading pose files.")
    build.add_argument("--on-error", choices=("raise", "skip"), default="raise", help="What to do with bad rows.")
    build.add_argument("--keypoint-dtype", choices=("float16", "float32"), default="float16")
    build.add_argument("--coords", type=int, choices=(2, 3), default=2, help="Coordinates kept per point.")
    build.add_argument("--layout", help="Skeleton layout of files that do not carry one.")
    build.add_argument("--fps", type=float, help="Frame rate of files that carry none.")
    build.add_argument("--cache-dir", help="Folder of the Arrow cache files.")
    build.add_argument("--overwrite", action="store_true", help="Write into a non-empty --output.")
    build.set_defaults(handler=build_command)

    translate = commands.add_parser(
        "translate",
        help="Translate pose files with a trained model.",
        description="Translate pose files (.pose, Uni-Sign .pkl, .npy / .npz, or folders of OpenPose *_keypoints.json "
        "frames), read and normalised as the training data was. Prints FILE<TAB>TRANSLATION per file; a file that "
        "cannot be read is reported on stderr and the others are still translated (exit status 1 if any failed).",
    )
    translate.add_argument("files", nargs="+", metavar="FILE", help="Pose files or OpenPose JSON folders.")
    translate.add_argument(
        "--model", required=True, help="Saved SignTranslationModel or peft adapter: a folder or a Hub id."
    )
    translate.add_argument("--output", help='Also write JSON lines {"file", "translation"} (or "error") here.')
    translate.add_argument("--overwrite", action="store_true", help="Replace an existing --output file.")
    translate.add_argument("--num-beams", type=_positive_int, default=4, help="Beam width (1: greedy; default 4).")
    translate.add_argument("--max-new-tokens", type=_positive_int, default=64, help="Longest translation in tokens.")
    translate.add_argument("--batch-size", type=_positive_int, default=16, help="Files decoded together.")
    translate.add_argument(
        "--max-frames",
        type=_positive_int,
        default=None,
        help="Longer clips are sub-sampled to this many evenly spaced frames (default: the frames the model was "
        f"trained on, recorded in its config by the trainers; {PoseCollator.max_frames} for a model without).",
    )
    translate.add_argument(
        "--keypoint-dtype",
        choices=("float16", "float32"),
        default="float16",
        help="Precision of the training data's poses (default float16, as `build` and `synthsign` store them).",
    )
    translate.add_argument(
        "--layout", help="Skeleton layout of the .npy / .npz files (.npy files carry none; other formats their own)."
    )
    translate.add_argument("--device", help="Device of the model (default: cuda when available, else cpu).")
    translate.set_defaults(handler=translate_command)

    probe = commands.add_parser(
        "probe",
        help="Measure how much each perturbation operator damages a model's translation.",
        description="For each operator and strength, the drop of the model's log p(y|x) and BLEU-4 from the clean "
        "input. Writes probe.md, probe.json and probe.png to --output.",
    )
    probe.add_argument("--model", required=True, help="Folder of a saved SignTranslationModel and its tokenizer.")
    probe.add_argument("--dataset", required=True, help="Folder of a DatasetDict (or Dataset) saved to disk.")
    probe.add_argument("--split", default="test", help="Split to probe (default: test).")
    probe.add_argument("--output", required=True, help="Folder for probe.md, probe.json, probe.png.")
    probe.add_argument("--operators", nargs="+", metavar="NAME", help="Operators to probe (default: all).")
    probe.add_argument(
        "--strengths", nargs="+", type=_strength, default=list(DEFAULT_STRENGTHS), metavar="S", help="Strengths."
    )
    probe.add_argument("--max-samples", type=_positive_int, help="Probe only the first N clips.")
    probe.add_argument("--batch-size", type=_positive_int, default=16)
    probe.add_argument("--num-beams", type=_positive_int, default=1)
    probe.add_argument("--max-new-tokens", type=_positive_int, default=64)
    probe.add_argument("--language", help="Target language for BLEU (default: the tokenizer's, else en).")
    probe.add_argument("--seed", type=int, default=0)
    probe.add_argument("--max-frames", type=_positive_int, default=256)
    probe.add_argument("--text-column", default="text")
    probe.add_argument("--no-bleu", action="store_true", help="Measure log p only (no generation).")
    probe.add_argument("--device", help="Device of the model (default: cuda when available, else cpu).")
    probe.set_defaults(handler=probe_command)

    operators = commands.add_parser(
        "operators", help="List the registered perturbation operators.", description="List the registered operators."
    )
    operators.add_argument("--level", choices=LEVELS, help="Only the operators of this level.")
    operators.set_defaults(handler=operators_command)

    corrupter = commands.add_parser(
        "corrupter",
        help="Mine a model's translation errors, train the learned corrupter on them, sample its wrong translations.",
        description="The learned language-level corrupter in three steps: mine, train, generate.",
    )
    steps = corrupter.add_subparsers(dest="step", metavar="STEP", required=True)
    languages = ("en", "zh")

    mine = steps.add_parser(
        "mine",
        help="Keep a model's beam-search translations that are wrong in meaning.",
        description="Translate every clip with beam search and keep the n-best hypotheses that are wrong in meaning. "
        "Writes a dataset with the references and their rejected_texts to --output.",
    )
    mine.add_argument("--model", required=True, help="Folder of the saved MLE SignTranslationModel and its tokenizer.")
    mine.add_argument("--dataset", required=True, help="Folder of a DatasetDict (or Dataset) saved to disk.")
    mine.add_argument("--split", default="train", help="Split to mine (default: train).")
    mine.add_argument("--output", required=True, help="Output folder (must be empty or absent).")
    mine.add_argument("--num-beams", type=_positive_int, default=4)
    mine.add_argument("--num-candidates", type=_positive_int, default=4, help="n-best hypotheses examined per clip.")
    mine.add_argument("--chrf-threshold", type=_chrf, default=90.0, help="Hypotheses at or above it are near-copies.")
    mine.add_argument("--batch-size", type=_positive_int, default=32)
    mine.add_argument("--max-frames", type=_positive_int, default=256)
    mine.add_argument("--max-new-tokens", type=_positive_int, default=64)
    mine.add_argument("--text-column", default="text")
    mine.add_argument("--language", choices=languages, default="en", help="zh compares characters (default: en).")
    mine.add_argument("--device", help="Device of the model (default: cuda when available, else cpu).")
    mine.add_argument("--overwrite", action="store_true", help="Write into a non-empty --output.")
    mine.set_defaults(handler=corrupter_mine_command)

    train = steps.add_parser(
        "train",
        help="Train a LoRA / QLoRA corrupter on mined errors.",
        description="Pair every mined error with its reference (clips without one topped up with rule-based "
        "corruptions) and train LoRA adapters on --base to write them. Writes the adapter, tokenizer and model card.",
    )
    train.add_argument("--mined", required=True, help=f"Folder written by `{PROG} corrupter mine`.")
    train.add_argument(
        "--base",
        required=True,
        help="The corrupter's base: a saved SignTranslationModel (its language model is taken) or a seq2seq or "
        "causal LM, local or on the Hub (e.g. google/mt5-small).",
    )
    train.add_argument("--output", required=True, help="Output folder (must be empty or absent).")
    train.add_argument("--max-steps", type=_positive_int, default=400)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--lora-r", type=_positive_int, default=16)
    train.add_argument("--lora-alpha", type=_positive_int, default=32)
    train.add_argument("--load-in-4bit", action="store_true", help="QLoRA: the base in 4-bit (needs CUDA).")
    train.add_argument(
        "--allow-full-precision-fallback",
        action="store_true",
        help="With --load-in-4bit on a machine without CUDA, train on a full-precision base instead of failing.",
    )
    train.add_argument("--language", choices=languages, default="en", help="zh compares characters (default: en).")
    train.add_argument("--min-pairs-per-row", type=int, default=1, help="Clips with fewer errors are topped up.")
    train.add_argument("--max-pairs-per-row", type=_positive_int, default=2, help="Mined errors kept per clip.")
    train.add_argument("--text-column", default="text")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--overwrite", action="store_true", help="Write into a non-empty --output.")
    train.set_defaults(handler=corrupter_train_command)

    generate = steps.add_parser(
        "generate",
        help="Sample a trained corrupter's wrong translations of every clip.",
        description="Sample wrong translations of every reference and keep those that change its meaning. Writes "
        "the references and their rejected_texts to --output: the dataset --rejected_texts_path reads.",
    )
    generate.add_argument("--corrupter", required=True, help=f"Folder written by `{PROG} corrupter train`.")
    generate.add_argument("--dataset", required=True, help="Folder of a DatasetDict (or Dataset) saved to disk.")
    generate.add_argument("--split", default="train", help="Split to sample for (default: train).")
    generate.add_argument("--output", required=True, help="Output folder (must be empty or absent).")
    generate.add_argument("--text-column", default="text")
    generate.add_argument("--num-candidates", type=_positive_int, default=8, help="Candidates sampled per reference.")
    generate.add_argument("--temperature", type=_positive_float, default=1.0)
    generate.add_argument("--top-p", type=_top_p, default=0.95)
    generate.add_argument("--max-new-tokens", type=_positive_int, default=64)
    generate.add_argument("--chrf-threshold", type=_chrf, default=90.0, help="Candidates at or above are near-copies.")
    generate.add_argument("--language", choices=languages, default="en", help="zh compares characters (default: en).")
    generate.add_argument("--batch-size", type=_positive_int, default=64)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--device", help="Device of the corrupter (default: cuda when available, else cpu).")
    generate.add_argument("--overwrite", action="store_true", help="Write into a non-empty --output.")
    generate.set_defaults(handler=corrupter_generate_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `signdpo` command line.

    Args:
        argv (`Sequence[str]`, *optional*): Arguments without the program name; defaults to `sys.argv[1:]`.

    Returns:
        `int`: 0 on success. Errors raise `SystemExit` with status 2 (bad arguments) or 1 (a problem found while
        running), after a one-line message on stderr.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], None] = args.handler
    try:
        handler(args)
    except (CommandError, OSError, ValueError, KeyError) as error:
        if args.traceback:
            raise
        # KeyError's str() quotes its message.
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        command = " ".join(filter(None, (args.command, getattr(args, "step", None))))
        print(f"{PROG} {command}: error: {message}", file=sys.stderr)
        raise SystemExit(1) from None
    return 0


# -- helpers ----------------------------------------------------------------------------------------------------------


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return number


def _size(value: str) -> int | float:
    """A split size: an integer is a number of clips, a number with a point a fraction."""
    size = float(value) if "." in value else int(value)
    if size < 0 or (isinstance(size, float) and size >= 1):
        raise argparse.ArgumentTypeError(f"give a clip count (>= 0) or a fraction in [0, 1), got {value}")
    return size


def _strength(value: str) -> float:
    strength = float(value)
    if not 0.0 <= strength <= 1.0:
        raise argparse.ArgumentTypeError(f"a strength lies in [0, 1], got {value}")
    return strength


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return number


def _top_p(value: str) -> float:
    number = float(value)
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError(f"top-p lies in (0, 1], got {value}")
    return number


def _chrf(value: str) -> float:
    score = float(value)
    if not 0 <= score <= 100:
        raise argparse.ArgumentTypeError(f"a chrF score lies in [0, 100], got {value}")
    return score


def _saved_model_dir(path: str, flag: str) -> Path:
    """`path` as the folder of a model written by `save_pretrained`."""
    model_dir = Path(path)
    if not model_dir.is_dir():
        raise CommandError(f"{flag} {path}: no such directory.")
    if not (model_dir / "config.json").is_file():
        raise CommandError(f"{flag} {path}: no config.json there; give a folder written by save_pretrained.")
    return model_dir


def _saved_dataset(path: str, flag: str, split: str | None):
    """The dataset saved at `path`: its `split` when it is a DatasetDict; with `split=None` it must be a Dataset."""
    from datasets import Dataset, load_from_disk

    dataset_dir = Path(path)
    if not dataset_dir.is_dir():
        raise CommandError(f"{flag} {path}: no such directory.")
    if not any((dataset_dir / name).is_file() for name in ("dataset_dict.json", "dataset_info.json")):
        raise CommandError(f"{flag} {path}: not a dataset saved with save_to_disk.")
    dataset = load_from_disk(str(dataset_dir))
    if isinstance(dataset, Dataset):
        return dataset
    if split is None:
        raise CommandError(f"{flag} {path}: a DatasetDict ({', '.join(dataset)}); give the folder of one Dataset.")
    if split not in dataset:
        raise CommandError(f"--split {split}: {path} has no such split; it has {', '.join(dataset)}.")
    return dataset[split]


def _fresh_output(path: str, flag: str, overwrite: bool) -> Path:
    """`path` as an output folder that holds nothing yet (unless `overwrite`); the writer creates it."""
    output = Path(path)
    if output.exists() and not output.is_dir():
        raise CommandError(f"{flag} {path}: exists and is not a directory.")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise CommandError(f"{flag} {path}: exists and is not empty; pass --overwrite to write into it.")
    return output


def _first_sentence(text: str) -> str:
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


if __name__ == "__main__":
    sys.exit(main())
