"""Throughput of the data pipeline: reading pose files, building a dataset from a manifest, generating SynthSign, and
the training input path against the training step it feeds.

    python benchmarks/data_throughput.py                          # 1,000 clips per stage, 10,000 SynthSign clips
    python benchmarks/data_throughput.py --num-clips 5000 --num-proc 1 2 4
    python benchmarks/data_throughput.py --training --readme README.md   # the training input path only

Measures, on this machine's CPU, with every file already in the page cache (warm reads):

- reading + canonicalising: `load_pose(path).to_canonical()` over copies of real recordings (the pose fixtures:
  MediaPipe reduced holistic and OpenPose-137 `.pose` files) and over a Uni-Sign `.pkl` (COCO-WholeBody-133, as
  CSL-Daily is distributed), in clips and frames per second;
- building: `build_pose_dataset` into a fresh Arrow cache, for each `--num-proc`, from a JSONL manifest mixing those
  three kinds of file and from the manifest `write_synthsign(format="pose")` writes (COCO-WholeBody-133 `.pose`);
- SynthSign: `generate_synthsign` of `--synth-clips` clips (in memory, one process).

Prints a markdown table.

The training input path (`--training`), as the Trainer runs it, every process at one torch thread (DataLoader workers
are processes of their own, at one thread each), on a SynthSign training split saved and memory-mapped as the recipes
keep it (float16 keypoints), `--batch-size` clips a batch, clips sampled to at most `--frames` frames:

- fetched: rows/s out of `SignDPOTrainer.get_train_dataloader()` with its collator replaced by one that hands the rows
  back, with 0 and 2 DataLoader workers;
- collated: clips/s out of the trainers' own DataLoaders, fetching included: `SignSFTTrainer`'s
  (`SignTranslationCollator`, MLE) and `SignDPOTrainer`'s (`SignPreferenceCollator`, all six levels), with 0 and 2
  workers; and each collator alone, in the process, on rows already fetched;
- consumed: clips/s of an MLE step and of a fused SignDPO step (forward, backward, AdamW; see `step_speed.py`) of a
  batch from those collators, for the recipes' `small` model and an mT5-small-sized one (`model_speed.py`), whose
  steps take `--large-step-batch-size` clips to keep the run short;
- the ratio of each input path to the step it feeds.

It writes its figures and configuration to `--output` (JSON) and, with `--readme`, regenerates the README's
`data_throughput` block from that file (`--readme` with `--from-json` regenerates it without measuring).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import torch
from datasets import DatasetDict, load_from_disk
from datasets.utils.logging import disable_progress_bar
from transformers.utils import logging as transformers_logging

from signdpo_trl.data.dataset import build_pose_dataset
from signdpo_trl.data.pose import PoseSequence
from signdpo_trl.data.readers import load_pose, save_unisign_pickle
from signdpo_trl.data.synthetic import SynthSignConfig, generate_synthsign, write_synthsign
from signdpo_trl.models import SignTranslationModel, build_tokenizer
from signdpo_trl.script_utils import build_model
from signdpo_trl.trainer import SignDPOConfig, SignDPOTrainer, SignSFTConfig, SignSFTTrainer


FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "pose"
# The key of the collator whose pose levels are built in the step, in the results file.
IN_STEP = "signdpo_pose_levels_in_step"
FIXTURE_CLIPS = {
    ".pose, MediaPipe reduced holistic (178 points)": "mediapipe.pose",
    ".pose, OpenPose-137": "openpose.pose",
}


def write_unisign_pickle(path: Path, num_frames: int) -> Path:
    rng = np.random.default_rng(0)
    clip = PoseSequence(
        rng.uniform(0, 1, (num_frames, 133, 2)), rng.uniform(0, 1, (num_frames, 133)), layout="coco_wholebody133"
    )
    save_unisign_pickle(path, clip)
    return path


def copies(source: Path, folder: Path, count: int) -> list[Path]:
    """`count` distinct files with the content of `source`, so that nothing is served from a per-path cache."""
    folder.mkdir(parents=True)
    paths = [folder / f"clip{i:06d}{source.suffix}" for i in range(count)]
    for path in paths:
        shutil.copyfile(source, path)
    return paths


def measure_reading(paths: list[Path]) -> tuple[float, int]:
    start = time.perf_counter()
    frames = sum(load_pose(path).to_canonical().num_frames for path in paths)
    return time.perf_counter() - start, frames


def write_manifest(paths: list[Path], manifest: Path) -> Path:
    with manifest.open("w") as stream:
        for i, path in enumerate(paths):
            stream.write(json.dumps({"id": f"clip{i}", "path": str(path), "text": f"sentence {i}"}) + "\n")
    return manifest


def num_frames(dataset_dict: DatasetDict) -> int:
    """Total frames of a dataset, counted from the Arrow list lengths without decoding the keypoints."""
    return sum(
        pc.sum(pc.list_value_length(chunk.storage)).as_py() or 0
        for dataset in dataset_dict.values()
        for chunk in dataset.data.column("keypoints").chunks
    )


def measure_building(manifest: Path, cache_dir: Path, num_proc: int) -> tuple[float, int]:
    start = time.perf_counter()
    dataset_dict = build_pose_dataset(manifest, num_proc=num_proc, cache_dir=cache_dir)
    return time.perf_counter() - start, num_frames(dataset_dict)


def row(stage: str, clips: int, seconds: float, frames: int | None = None) -> str:
    frames_per_second = f"{frames / seconds:,.0f}" if frames is not None else "-"
    return f"| {stage} | {clips:,} | {seconds:.2f} | {clips / seconds:,.1f} | {frames_per_second} |"


# -- the training input path -----------------------------------------------------------------------------------------

RESULTS = Path(__file__).resolve().parent / "results" / "data_throughput" / "training_input_path.json"
STEP_MODELS = ("small", "mt5-small-sized")


def returned_rows(rows: list[dict]) -> list[dict]:
    """A collator that hands the fetched rows back: the DataLoader then measures fetching alone."""
    return rows


def batch_clips(batch) -> int:
    return len(batch) if isinstance(batch, list) else int(batch["pose"].shape[0])


def loader_rate(dataloader, num_batches: int) -> tuple[float, int]:
    """Clips (or rows) per second out of `dataloader` over `num_batches` batches, after its first batch (which pays
    for starting the workers), and the number of batches the measurement could take."""
    iterator = iter(dataloader)
    next(iterator)
    clips, taken = 0, 0
    start = time.perf_counter()
    for batch in iterator:
        clips += batch_clips(batch)
        taken += 1
        if taken == num_batches:
            break
    return clips / (time.perf_counter() - start), taken


def step_model(name: str, tokenizer) -> SignTranslationModel:
    from model_speed import mt5_small_sized_config  # sibling scripts; benchmarks/ is on sys.path when run
    from step_speed import CONFIGS

    torch.manual_seed(0)
    if name == "small":
        return build_model(CONFIGS["small"], tokenizer)
    return SignTranslationModel(mt5_small_sized_config())


def trainer_args(config_class, output_dir: str, options, num_workers: int, **fields):
    return config_class(
        **{
            "output_dir": output_dir,
            "report_to": "none",
            "use_cpu": True,
            "bf16": False,
            "seed": 0,
            "per_device_train_batch_size": options.batch_size,
            "max_frames": options.frames,
            "dataloader_num_workers": num_workers,
            "disable_tqdm": True,
            **fields,
        }
    )


def step_rates(name: str, tokenizer, train_dataset, options, output_dir: str) -> dict:
    """Clips per second consumed by an MLE step and a fused SignDPO step of model `name` (forward, backward, AdamW),
    each on a batch out of its trainer's DataLoader."""
    from step_speed import timed  # the sibling script; benchmarks/ is on sys.path when run

    batch_size = options.batch_size if name == "small" else options.large_step_batch_size
    dpo = SignDPOTrainer(
        step_model(name, tokenizer),
        args=trainer_args(SignDPOConfig, output_dir, options, 0, per_device_train_batch_size=batch_size),
        train_dataset=train_dataset,
        processing_class=tokenizer,
    )
    sft = SignSFTTrainer(
        dpo.model,
        args=trainer_args(SignSFTConfig, output_dir, options, 0, per_device_train_batch_size=batch_size),
        train_dataset=train_dataset,
        processing_class=tokenizer,
    )
    in_step = SignDPOTrainer(
        dpo.model,
        args=trainer_args(
            SignDPOConfig, output_dir, options, 0, per_device_train_batch_size=batch_size, pose_levels_in_step=True
        ),
        train_dataset=train_dataset,
        processing_class=tokenizer,
    )
    mle_inputs = next(iter(sft.get_train_dataloader()))
    signdpo_inputs = next(iter(dpo.get_train_dataloader()))
    in_step_inputs = next(iter(in_step.get_train_dataloader()))
    model = dpo.model
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def optimizer_step(loss):
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def mle_step():
        optimizer_step(model(**mle_inputs).loss)

    def signdpo_step():
        optimizer_step(dpo.compute_loss(model, signdpo_inputs))

    def signdpo_in_step_step():
        optimizer_step(in_step.compute_loss(model, in_step_inputs))

    cpu = torch.device("cpu")
    return {
        "params_M": round(sum(parameter.numel() for parameter in model.parameters()) / 1e6, 1),
        "batch_size": batch_size,
        "mle_clips_s": batch_size / timed(mle_step, options.step_repeats, 1, cpu),
        "signdpo_clips_s": batch_size / timed(signdpo_step, options.step_repeats, 1, cpu),
        # The pose levels built in the step (`pose_levels_in_step`): here on the CPU, where they cost what they cost
        # the collator.
        "signdpo_pose_levels_in_step_clips_s": batch_size / timed(signdpo_in_step_step, options.step_repeats, 1, cpu),
    }


def collate_rate(collator, batches: list[list[dict]]) -> float:
    """Clips per second of `collator` alone over batches of rows already fetched."""
    collator(batches[0])
    start = time.perf_counter()
    for rows in batches:
        collator(rows)
    return sum(len(rows) for rows in batches) / (time.perf_counter() - start)


def measure_training_input_path(options) -> dict:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        # Saved and reloaded: memory-mapped Arrow with float16 keypoints, as `load_corpus` keeps a corpus.
        generate_synthsign(SynthSignConfig(num_clips=options.training_clips, seed=0)).save_to_disk(f"{tmp}/corpus")
        train = load_from_disk(f"{tmp}/corpus")["train"]
        tokenizer = build_tokenizer(train["text"], vocab_size=1000, language="en")
        model = step_model("small", tokenizer)
        fetched, input_path, in_process = {}, {"mle": {}, "signdpo": {}}, {}
        for num_workers in options.workers:
            # Persistent workers as the GPU configs set them: the first batch pays for starting them, as in training.
            extra = {"dataloader_persistent_workers": num_workers > 0}
            dpo = SignDPOTrainer(
                model,
                args=trainer_args(SignDPOConfig, tmp, options, num_workers, **extra),
                train_dataset=train,
                processing_class=tokenizer,
            )
            sft = SignSFTTrainer(
                model,
                args=trainer_args(SignSFTConfig, tmp, options, num_workers, **extra),
                train_dataset=train,
                processing_class=tokenizer,
            )
            input_path["mle"][num_workers], taken = loader_rate(sft.get_train_dataloader(), options.batches)
            input_path["signdpo"][num_workers], _ = loader_rate(dpo.get_train_dataloader(), options.batches)
            collators = {"mle": sft.data_collator, "signdpo": dpo.data_collator}
            if num_workers == 0:
                # The collator when the pose levels are built in the training step (`pose_levels_in_step`).
                collators[IN_STEP] = SignDPOTrainer(
                    model,
                    args=trainer_args(SignDPOConfig, tmp, options, 0, pose_levels_in_step=True),
                    train_dataset=train,
                    processing_class=tokenizer,
                ).data_collator
            dpo.data_collator = returned_rows
            fetched[num_workers], _ = loader_rate(dpo.get_train_dataloader(), options.batches)
            if num_workers == 0:
                rows = dpo.get_train_dataloader()
                batches = [batch for batch, _ in zip(rows, range(options.batches))]
                frames = np.mean([min(len(row["keypoints"]), options.frames) for batch in batches for row in batch])
                in_process = {level: collate_rate(collator, batches) for level, collator in collators.items()}
        steps = {name: step_rates(name, tokenizer, train, options, tmp) for name in options.step_models}
        levels = list(dpo.args.levels)
    results = {
        "config": {
            "command": "python benchmarks/data_throughput.py --training",
            "training_clips": options.training_clips,
            "train_rows": len(train),
            "batch_size": options.batch_size,
            "large_step_batch_size": options.large_step_batch_size,
            "max_frames": options.frames,
            "mean_frames_per_collated_clip": round(float(frames), 1),
            "batches_timed": taken,
            "step_repeats": options.step_repeats,
            "torch_threads_per_process": 1,
            "gpu_clips_per_second": options.gpu_clips_per_second,
            "levels": levels,
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "load_average": round(os.getloadavg()[0], 2),
            "torch": torch.__version__,
        },
        "fetched_rows_s": fetched,
        "input_path_clips_s": input_path,
        "collated_in_process_clips_s": in_process,
        "steps": steps,
    }
    return json.loads(json.dumps(results))  # worker counts as the file keeps them (strings)


def input_path_lines(results: dict) -> list[str]:
    """The README block: the measurements of `results` and what they imply for a GPU, all read from the file."""
    config = results["config"]
    workers = sorted(results["fetched_rows_s"], key=int)
    fetched, path = results["fetched_rows_s"], results["input_path_clips_s"]
    in_process = results["collated_in_process_clips_s"]
    columns = " / ".join(f"{w} workers" for w in workers)
    header = " | ".join(f"{w} workers" for w in workers)
    lines = [
        f"Training input path (`{config['command']}`; SynthSign, {config['train_rows']:,} training rows saved as "
        f"float16 Arrow, batches of {config['batch_size']} clips of at most {config['max_frames']} frames, "
        f"{config['mean_frames_per_collated_clip']} on average; one torch thread per process; {config['cpu_count']} "
        f"cores, load average {config['load_average']} at the end):",
        "",
        f"| input path, as the Trainer's DataLoader runs it | {header} | collator alone, in the process |",
        "|---|" + "---:|" * len(workers) + "---:|",
    ]
    rows = [
        ("rows fetched / s", fetched, None),
        ("MLE: clips collated / s (`SignTranslationCollator`)", path["mle"], in_process["mle"]),
        (
            "SignDPO: clips collated / s, all levels (`SignPreferenceCollator`)",
            path["signdpo"],
            in_process["signdpo"],
        ),
    ]
    if IN_STEP in in_process:
        rows.append(("SignDPO, pose levels built in the step (`pose_levels_in_step`)", None, in_process[IN_STEP]))
    for label, values, alone in rows:
        cells = " | ".join("-" if values is None else f"{values[w]:,.0f}" for w in workers)
        lines.append(f"| {label} | {cells} | {'-' if alone is None else f'{alone:,.0f}'} |")
    lines += [
        "",
        f"| model | parameters | step batch | MLE step: clips / s | input path / MLE step ({columns}) | "
        f"SignDPO step: clips / s | input path / SignDPO step ({columns}) | "
        "SignDPO step, pose levels in it: clips / s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, step in results["steps"].items():
        mle = " / ".join(f"{path['mle'][w] / step['mle_clips_s']:,.0f}x" for w in workers)
        signdpo = " / ".join(f"{path['signdpo'][w] / step['signdpo_clips_s']:,.0f}x" for w in workers)
        in_step = step.get(f"{IN_STEP}_clips_s")
        lines.append(
            f"| {name} | {step['params_M']} M | {step['batch_size']} | {step['mle_clips_s']:,.2f} | {mle} | "
            f"{step['signdpo_clips_s']:,.2f} | {signdpo} | {'-' if in_step is None else f'{in_step:,.2f}'} |"
        )
    target = config["gpu_clips_per_second"]
    # Without workers one core fetches and collates: the rate a worker with a core of its own delivers.
    per_core = {level: path[level][workers[0]] for level in ("mle", "signdpo")}
    more = workers[-1]
    lines += [
        "",
        f"On this CPU the step is the slow side by far. On a GPU it is the other way round: a process whose GPU "
        f"consumes {target:,} clips / s (the order of an MLE step of mT5-base; not measured here, there is no GPU) "
        f"needs its input path to deliver as much. With no worker, one core fetches and collates "
        f"{per_core['mle']:,.0f} clips / s for MLE and {per_core['signdpo']:,.0f} for SignDPO (all levels), so such a "
        f"process needs about {math.ceil(target / per_core['mle'])} (MLE) and "
        f"{math.ceil(target / per_core['signdpo'])} (SignDPO) DataLoader workers, each on a core of its own; the GPU "
        "configs set 4 (a faster server core needs fewer). "
        f"{more} workers {'raise' if path['signdpo'][more] > per_core['signdpo'] else 'do not raise'} the rate "
        f"here ({path['mle'][more]:,.0f} and {path['signdpo'][more]:,.0f} clips / s) on {config['cpu_count']} cores "
        "that the training process, the workers and other jobs share, every batch crossing from a worker to the "
        "training process.",
    ]
    if IN_STEP in in_process:
        lines += [
            "",
            "With `pose_levels_in_step=True` the collator only samples frames, pads, tokenises and writes the "
            f"language level's texts: {in_process[IN_STEP]:,.0f} clips / s in the process, against "
            f"{in_process['signdpo']:,.0f} "
            "when it builds every level. The spatial and temporal operators and the normalisation of their rejected "
            "poses then run in the training step as tensor code on the accelerator (on this CPU they run on the CPU, "
            "and the step pays what the collator saved: the last column).",
        ]
    # Prose wrapped as the README is; tables as they are.
    return [line if line.startswith("|") else textwrap.fill(line, width=119) for line in lines]


def training_main(options) -> None:
    if options.from_json:
        results = json.loads(Path(options.output).read_text())
    else:
        transformers_logging.set_verbosity_error()
        warnings.filterwarnings("ignore")
        results = measure_training_input_path(options)
        Path(options.output).parent.mkdir(parents=True, exist_ok=True)
        Path(options.output).write_text(json.dumps(results, indent=2) + "\n")
    lines = input_path_lines(results)
    if options.readme is not None:
        from signdpo_study import replace_readme_block  # the sibling script; benchmarks/ is on sys.path when run

        replace_readme_block(options.readme, "data_throughput", lines)
    print("\n".join(lines))
    for key in ("signdpo", IN_STEP):
        collated = results["collated_in_process_clips_s"].get(key)
        if collated is not None:
            print(
                f"\n{key} collation in the process, one thread: {collated:,.0f} clips/s (target >= 1,500: "
                f"{'met' if collated >= 1500 else 'NOT met'})"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-clips", type=int, default=1000, help="Clips per reading and building measurement.")
    parser.add_argument("--num-proc", type=int, nargs="+", default=[1, 2], help="Process counts for the build.")
    parser.add_argument("--synth-clips", type=int, default=10_000, help="SynthSign clips to generate.")
    training = parser.add_argument_group("the training input path (--training)")
    training.add_argument("--training", action="store_true", help="Measure the training input path only.")
    training.add_argument("--training-clips", type=int, default=2500, help="SynthSign clips generated for it.")
    training.add_argument("--batch-size", type=int, default=32, help="Clips per batch (and per small-model step).")
    training.add_argument("--large-step-batch-size", type=int, default=8, help="Clips per mT5-small-sized step.")
    training.add_argument("--frames", type=int, default=64, help="max_frames of the collators.")
    training.add_argument("--batches", type=int, default=30, help="Batches timed per DataLoader.")
    training.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader worker counts.")
    training.add_argument("--step-repeats", type=int, default=3, help="Timed steps per model and method.")
    training.add_argument(
        "--gpu-clips-per-second", type=int, default=500, help="A GPU's consumption, for the README's sentence."
    )
    training.add_argument("--step-models", nargs="+", default=list(STEP_MODELS), choices=STEP_MODELS)
    training.add_argument("--output", default=str(RESULTS), help="JSON file of the measurements.")
    training.add_argument("--readme", default=None, help="Regenerate this README's data_throughput block.")
    training.add_argument("--from-json", action="store_true", help="Read --output instead of measuring.")
    args = parser.parse_args()
    disable_progress_bar()
    if args.training or args.from_json:
        training_main(args)
        return

    lines = ["| stage | clips | seconds | clips/s | frames/s |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources = {stage: FIXTURES / name for stage, name in FIXTURE_CLIPS.items()}
        sources[".pkl, Uni-Sign COCO-WholeBody-133"] = write_unisign_pickle(work / "unisign.pkl", num_frames=170)
        all_paths = []
        for i, (stage, source) in enumerate(sources.items()):
            paths = copies(source, work / f"kind{i}", args.num_clips)
            seconds, frames = measure_reading(paths)
            lines.append(row(f"read + canonicalise: {stage}", len(paths), seconds, frames))
            all_paths.extend(paths)

        # A manifest mixing the three kinds, as many clips as one reading measurement.
        mixed = write_manifest(all_paths[:: len(sources)][: args.num_clips], work / "mixed.jsonl")
        synthsign = write_synthsign(SynthSignConfig(num_clips=args.num_clips), work / "synthsign", format="pose")
        for name, manifest in (("real-file mix", mixed), ("SynthSign .pose", synthsign)):
            for num_proc in args.num_proc:
                seconds, frames = measure_building(manifest, work / f"cache-{name}-{num_proc}", num_proc)
                lines.append(row(f"build_pose_dataset ({name}), num_proc={num_proc}", args.num_clips, seconds, frames))

    if args.synth_clips:
        start = time.perf_counter()
        corpus = generate_synthsign(SynthSignConfig(num_clips=args.synth_clips))
        lines.append(row("generate_synthsign", args.synth_clips, time.perf_counter() - start, num_frames(corpus)))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
