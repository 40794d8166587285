"""Cost of one SignDPO training step against an MLE step, a naive (unfused) SignDPO step and the collator's hooks.

    python benchmarks/step_speed.py                            # tiny config, CPU
    python benchmarks/step_speed.py --config small --batch-size 8 --frames 64 --repeats 5
    python benchmarks/step_speed.py --config small --device cuda

One run, one model, one batch of SynthSign rows (every clip resampled to `--frames` frames, the second half of the
batch to three quarters of that, so the batch has padding):

- (a) MLE step: forward with labels, backward, AdamW step (what `SignSFTTrainer` does per step);
- (b) fused SignDPO step, all six levels on: `SignDPOTrainer.compute_loss` of a real trainer, backward, AdamW step;
- (c) naive SignDPO step: every level is its own TRL-style pair, the policy and the reference each run on
  [chosen; rejected] with the pose encoder run for every row (the chosen pair recomputed per level); the attention
  level takes its salience from a reference pass over the chosen pair with attention weights, which also gives that
  level's chosen reference log-probabilities. Same losses, same pairs, no sharing; its loss is checked against (b);
- (d) the collator's hooks: `SignPreferenceCollator` against a plain `SignTranslationCollator` on the same rows; their
  difference is the time the input-level hooks add to a step (the attention level runs inside the step and is
  counted in (b)).

Times are medians over `--repeats` timed calls after `--warmup` untimed ones; torch keeps its default thread count
unless `--threads` is given (on a CPU shared with other jobs, `--threads 1` avoids OpenMP oversubscription, which
can slow small kernels tenfold and more).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from datasets import Dataset
from datasets.utils.logging import disable_progress_bar
from transformers.utils import logging as transformers_logging

from signdpo_trl.data.synthetic import SynthSignConfig, generate_synthsign
from signdpo_trl.models import build_tokenizer
from signdpo_trl.script_utils import SignModelArguments, build_model
from signdpo_trl.trainer import (
    PoseBatch,
    SignDPOConfig,
    SignDPOTrainer,
    SignTranslationCollator,
)
from signdpo_trl.trainer.losses import pad_labels, sequence_log_probs


CONFIGS = {
    # A few-second smoke size.
    "tiny": SignModelArguments(
        vocab_size=512,
        d_model=64,
        d_ff=128,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        d_kv=16,
        pose_embed_dim=32,
        spatial_channels=[32, 64],
        temporal_channels=[64],
        temporal_kernel_size=3,
    ),
    # The recipe's model built from a config: T5 d_model 256, 3 + 3 layers, the default pose encoder of the recipes.
    "small": SignModelArguments(),
}


def make_rows(batch_size: int, num_frames: int) -> tuple[list[dict], list[str]]:
    """`batch_size` SynthSign rows resampled to `num_frames` frames (3/4 of that for the second half of the batch),
    and the corpus's texts for the tokenizer."""
    corpus = generate_synthsign(SynthSignConfig(num_clips=max(120, 2 * batch_size), seed=0))
    train = corpus["train"].with_format("numpy")
    if len(train) < batch_size:
        raise ValueError(f"--batch-size {batch_size} exceeds the {len(train)} generated training clips.")
    rows = []
    for index in range(batch_size):
        row = train[index]
        length = num_frames if index < batch_size // 2 else max(1, num_frames * 3 // 4)
        frames = np.linspace(0, len(row["keypoints"]) - 1, length).round().astype(int)
        rows.append(
            {
                "id": str(row["id"]),
                "keypoints": row["keypoints"][frames].astype(np.float32),
                "confidence": row["confidence"][frames].astype(np.float32),
                "fps": float(row["fps"]),
                "text": str(row["text"]),
            }
        )
    return rows, list(corpus["train"]["text"])


def timed(fn: Callable[[], object], repeats: int, warmup: int, device: torch.device) -> float:
    """Median wall time of `fn` in seconds over `repeats` calls, after `warmup` untimed calls."""

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):  # the first calls pay for kernel selection and allocator growth
        fn()
    times = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        fn()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def naive_signdpo_loss(trainer: SignDPOTrainer, model: torch.nn.Module, inputs: dict) -> torch.Tensor:
    """SignDPO's loss with every level as a separate TRL-style pair and nothing shared between levels.

    For each level the policy runs on the rows [chosen; rejected] and the reference (without gradients) on the same
    rows, the pose encoder encoding every row; the level's DPO loss is the trainer's `level_loss`, weighted and
    summed as the fused step does. The attention level's rejected pose comes from a reference pass over the chosen
    pair with attention weights (the same salience and random draw as the fused step when torch's global generator
    is in the same state), and that pass also gives the level's chosen reference log-probabilities.
    """
    pose, pose_mask, labels = inputs["pose"], inputs["pose_mask"], inputs["labels"]
    batch_size = pose.shape[0]
    reference = trainer._reference_model()

    def pair_log_probs(network, rejected_pose, rejected_labels):
        pair_labels = pad_labels([labels, rejected_labels])
        outputs = network(pose=torch.cat([pose, rejected_pose]), pose_mask=pose_mask.repeat(2, 1), labels=pair_labels)
        log_probs, token_counts = sequence_log_probs(outputs.logits, pair_labels)
        return log_probs.split(batch_size), token_counts.split(batch_size)

    pairs = {
        level: (inputs[f"rejected_pose_{level}"], labels)
        for level in trainer.args.levels
        if f"rejected_pose_{level}" in inputs
    }
    if trainer.step_pose_hooks and "source_keypoints" in inputs:
        pairs.update((level, (rejected, labels)) for level, rejected in trainer._step_pose_levels(inputs).items())
    loss = torch.zeros((), device=pose.device)
    attention_reference = None
    if trainer.attention_hook is not None and "source_keypoints" in inputs:
        # First, as in the fused step: the random draw of the attention level must see the same generator state.
        with torch.no_grad(), trainer._reference_context():
            chosen_ref = reference(pose=pose, pose_mask=pose_mask, labels=labels, output_attentions=True)
            salience = trainer.accelerator.unwrap_model(reference).salience_from_attentions(
                chosen_ref.cross_attentions, labels, pose_mask
            )
            rejected_pose = trainer._attention_pose(inputs, salience)
            ref_chosen, _ = sequence_log_probs(chosen_ref.logits, labels)
            rejected_ref = reference(pose=rejected_pose, pose_mask=pose_mask, labels=labels)
            ref_rejected, _ = sequence_log_probs(rejected_ref.logits, labels)
        pairs["attention"] = (rejected_pose, labels)
        attention_reference = (ref_chosen, ref_rejected)
    if "rejected_labels_language" in inputs:
        pairs["language"] = (pose, inputs["rejected_labels_language"])

    for level, (rejected_pose, rejected_labels) in pairs.items():
        if level == "attention":
            ref_chosen, ref_rejected = attention_reference
        else:
            with torch.no_grad(), trainer._reference_context():
                (ref_chosen, ref_rejected), _ = pair_log_probs(reference, rejected_pose, rejected_labels)
        (chosen, rejected), (chosen_tokens, rejected_tokens) = pair_log_probs(model, rejected_pose, rejected_labels)
        level_loss = trainer.level_loss(
            level, chosen - ref_chosen, rejected - ref_rejected, chosen_tokens, rejected_tokens
        )
        loss = loss + trainer.level_weights[level] * level_loss
    return loss


def build_trainer(name: str, rows: list[dict], texts: list[str], args, device: torch.device, output_dir: str):
    model_args = CONFIGS[name]
    tokenizer = build_tokenizer(texts, vocab_size=model_args.vocab_size, language="en")
    torch.manual_seed(0)
    model = build_model(model_args, tokenizer)
    config = SignDPOConfig(
        output_dir=output_dir,
        report_to="none",
        use_cpu=device.type == "cpu",
        bf16=False,
        per_device_train_batch_size=args.batch_size,
        max_frames=args.frames,
    )
    return SignDPOTrainer(model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)


def benchmark(args) -> None:
    device = torch.device(args.device)
    rows, texts = make_rows(args.batch_size, args.frames)
    with tempfile.TemporaryDirectory() as output_dir:
        trainer = build_trainer(args.config, rows, texts, args, device, output_dir)
    model = trainer.model
    model.train()
    collator = trainer.data_collator
    plain_collator = SignTranslationCollator(
        tokenizer=trainer.processing_class,
        max_target_length=collator.max_target_length,
        max_frames=collator.max_frames,
        confidence_threshold=collator.confidence_threshold,
        frame_sampling=collator.frame_sampling,
        normalization=collator.normalization,
    )
    torch.manual_seed(args.seed)  # the same rejected pairs for the fused and the naive step
    inputs = trainer._prepare_inputs(collator(rows))
    optimizer = torch.optim.AdamW(model.parameters(), lr=trainer.args.learning_rate)

    # Fairness check: the naive step computes the fused step's loss, on the same pairs and weights.
    torch.manual_seed(args.seed + 1)
    fused_loss = trainer.compute_loss(model, inputs)
    torch.manual_seed(args.seed + 1)
    naive_loss = naive_signdpo_loss(trainer, model, inputs)
    difference = (fused_loss - naive_loss).abs().item()
    if difference > 1e-5 * max(1.0, fused_loss.abs().item()):
        raise RuntimeError(f"naive loss {naive_loss.item():.8f} != fused loss {fused_loss.item():.8f}")
    del fused_loss, naive_loss

    def optimizer_step(loss):
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def mle_step():
        optimizer_step(model(pose=inputs["pose"], pose_mask=inputs["pose_mask"], labels=inputs["labels"]).loss)

    def fused_step():
        optimizer_step(trainer.compute_loss(model, inputs))

    def naive_step():
        optimizer_step(naive_signdpo_loss(trainer, model, inputs))

    seconds = {}
    for label, step in (("mle", mle_step), ("fused", fused_step), ("naive", naive_step)):
        seconds[label] = timed(step, args.repeats, args.warmup, device)
    # The collators are timed in alternation, many times (they are cheap), so that a change of machine load between
    # them does not show up as hook time; the hook time is the median of the paired differences.
    collate_repeats = max(args.repeats, 30)
    plain_times, hook_times = [], []
    for _ in range(args.warmup):
        plain_collator(rows)
        collator(rows)
    for _ in range(collate_repeats):
        start = time.perf_counter()
        plain_collator(rows)
        middle = time.perf_counter()
        collator(rows)
        plain_times.append(middle - start)
        hook_times.append(time.perf_counter() - middle)
    seconds["collate_plain"] = statistics.median(plain_times)
    seconds["collate_hooks"] = statistics.median(hook_times)
    hooks = max(0.0, statistics.median(with_hooks - plain for plain, with_hooks in zip(plain_times, hook_times)))

    # Where the hooks' time goes: each input-level hook on the padded batch, plus encoding its output.
    batch = collator.pad(rows)
    generator = torch.Generator().manual_seed(args.seed)
    per_hook = {}
    for hook in collator.hooks:
        if hook.in_step:
            continue

        def run_hook(hook=hook):
            rejected = hook(batch, rows, generator)
            if isinstance(rejected, PoseBatch):
                collator.encode(rejected)

        per_hook[hook.level] = timed(run_hook, collate_repeats, args.warmup, device)

    num_levels = len(trainer.args.levels)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"config={args.config} device={device} threads={torch.get_num_threads()} (load average {load:.1f} on "
        f"{os.cpu_count()} cores) torch={torch.__version__} "
        f"batch={args.batch_size} clips x {args.frames} frames (half at {args.frames * 3 // 4}), "
        f"{inputs['labels'].shape[1]} label tokens, {num_levels} levels, "
        f"params={sum(p.numel() for p in model.parameters()) / 1e6:.2f}M, repeats={args.repeats} (median)"
    )
    print(f"loss check: fused {trainer.compute_loss(model, inputs).item():.6f}, |fused - naive| = {difference:.2e}")
    print()
    print("| step | ms | x MLE |")
    print("|---|---:|---:|")
    names = {
        "mle": "(a) MLE step",
        "fused": "(b) fused SignDPO step",
        "naive": "(c) naive SignDPO step",
        "collate_plain": "collate, plain (SignTranslationCollator)",
        "collate_hooks": "collate, with hooks (SignPreferenceCollator)",
    }
    for key, label in names.items():
        print(f"| {label} | {seconds[key] * 1e3:.1f} | {seconds[key] / seconds['mle']:.2f} |")
    print(f"| (d) hooks (with - plain) | {hooks * 1e3:.1f} | {hooks / seconds['mle']:.2f} |")
    print()
    print("| hook (on the padded batch, + encode) | ms |")
    print("|---|---:|")
    for level, value in per_hook.items():
        print(f"| {level} | {value * 1e3:.1f} |")
    print()
    share = hooks / (hooks + seconds["fused"])
    naive_ratio = seconds["naive"] / seconds["fused"]
    print(f"fused / MLE  = {seconds['fused'] / seconds['mle']:.2f}")
    print(f"naive / fused = {naive_ratio:.2f}  (target >= 1.5: {'met' if naive_ratio >= 1.5 else 'NOT met'})")
    verdict = "met" if share < 0.05 else "NOT met"
    print(f"hook share = hooks / (hooks + fused step) = {share:.2%}  (target < 5%: {verdict})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="tiny", choices=list(CONFIGS))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own choice, left alone)"
    )
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda requested but CUDA is not available.")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    disable_progress_bar()
    transformers_logging.set_verbosity_error()
    warnings.filterwarnings("ignore")
    benchmark(args)


if __name__ == "__main__":
    main()
