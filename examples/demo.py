"""The whole SignDPO pipeline on the bundled SynthSign corpus, ending in one web page: what `make demo` runs.

1. generate SynthSign;
2. train the pose-to-text model by maximum likelihood (`recipes/sft_synthsign.py`);
3. probe the perturbation operators on the MLE model (`signdpo probe`): do the rejected poses carry semantic damage?
4. tune the learned language-level corrupter on the MLE model's own errors (`recipes/corrupter_synthsign.py`);
5. align the MLE model with SignDPO at the shipped defaults, every level including the learned corrupter's
   (`recipes/dpo_synthsign.py`), scoring the test split before and after;
6. draw a clip, its perturbations and the model's salience, the training curves, a few translations before and
   after, and write `index.html`.

    python examples/demo.py                      # `make demo`: a 3,000-clip corpus and short runs (2 cores: ~11 min)
    python examples/demo.py --size full          # `make demo-full`: the recipes' own sizes, as the study (~1 h)

Every stage is the real recipe or command a user would run; the demo only chains them, times them and draws. The
figures it prints are what this run measured: on a corpus and runs this small SignDPO's effect is within the noise of
one seed (see the README's SignDPO study for the 3-seed comparison with continued MLE).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from datasets import load_from_disk
from transformers import AutoTokenizer

from signdpo_trl import SignTranslationModel, Translator
from signdpo_trl.metrics import BEFORE_AFTER_METRICS
from signdpo_trl.perturbations import build_operator
from signdpo_trl.trainer import PoseCollator
from signdpo_trl.visualization import (
    plot_pose_comparison,
    plot_salience,
    plot_skeleton_frames,
    plot_training_curves,
    save_skeleton_gif,
)


ROOT = Path(__file__).resolve().parents[1]
# SynthSign keypoints are fractions of a 1280 x 720 frame.
ASPECT = 720 / 1280
# The operators drawn for the page, one per pose level of the shipped defaults.
SHOWN_OPERATORS = ("handshape_change", "hand_relocation", "segment_shuffle", "face_freeze")
NUM_SHOWN_TRANSLATIONS = 8
RESULTS_DIR = ROOT / "benchmarks" / "results" / "demo"


@dataclass(frozen=True)
class DemoSize:
    """Command-line overrides of each stage's shipped config; an empty list runs the config as shipped."""

    num_clips: int
    sft: list[str] = field(default_factory=list)
    probe: list[str] = field(default_factory=list)
    corrupter: list[str] = field(default_factory=list)
    dpo: list[str] = field(default_factory=list)


SIZES = {
    # `make demo`: under 12 minutes on 2 CPU cores.
    "quick": DemoSize(
        num_clips=3000,
        sft="--num_train_epochs 4 --max_eval_samples 100".split(),
        probe="--max-samples 32 --strengths 0.5".split(),
        corrupter="--mining_num_beams 2 --mining_num_candidates 2 --max_steps 60 --num_candidates 2".split(),
        dpo="--max_steps 60 --eval_steps 30 --max_eval_samples 100".split(),
    ),
    # `make demo-full`: the recipes' own sizes, the MLE base and SignDPO arm of the study.
    "full": DemoSize(num_clips=10_000, probe="--max-samples 256 --strengths 0.3 1.0".split()),
    # The test suite's end-to-end run: a few steps of a tiny model.
    "smoke": DemoSize(
        num_clips=120,
        sft=(
            "--num_train_epochs 1 --max_eval_samples 8 --vocab_size 300 --d_model 32 --d_ff 64 --d_kv 8 "
            "--num_layers 1 --num_decoder_layers 1 --num_heads 2"
        ).split(),
        probe="--max-samples 4 --strengths 1.0".split(),
        corrupter="--max_steps 2 --num_candidates 1 --mining_num_beams 2 --mining_num_candidates 2".split(),
        dpo="--max_steps 2 --eval_steps 2 --max_eval_samples 8".split(),
    ),
}


class Stages:
    """Runs the demo's stages in order, announcing each with what it does and reporting how long it took."""

    def __init__(self, total: int):
        self.total = total
        self.timings: list[dict] = []

    def run(self, name: str, what: str, command: list[str] | None = None, function=None) -> None:
        number = len(self.timings) + 1
        print(f"\n[{number}/{self.total}] {name}: {what}", flush=True)
        start = time.perf_counter()
        if command is not None:
            print("$", " ".join(command), flush=True)
            subprocess.run(command, check=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        if function is not None:
            function()
        seconds = time.perf_counter() - start
        self.timings.append({"stage": name, "what": what, "seconds": round(seconds, 1), "command": command})
        print(f"[{number}/{self.total}] {name} done in {_duration(seconds)}", flush=True)

    @property
    def seconds(self) -> float:
        return sum(timing["seconds"] for timing in self.timings)


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def draw(output_dir: Path, corpus_dir: Path, sft_dir: Path, dpo_dir: Path) -> dict:
    """The page's pictures and translations; returns what `write_page` shows besides the metrics."""
    test = load_from_disk(str(corpus_dir))["test"]
    row = test[0]
    plot_skeleton_frames(
        (row["keypoints"], row["confidence"]), frames=6, path=output_dir / "clip.png", title=row["text"], aspect=ASPECT
    )

    model = SignTranslationModel.from_pretrained(sft_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(sft_dir)
    collator = PoseCollator.for_model(model, max_frames=model.config.max_frames)  # as the recipe trained it
    batch = collator.pad([row])
    chosen = (batch.keypoints[0].numpy(), batch.mask[0].float().numpy())
    generator = torch.Generator().manual_seed(0)
    rejected = {}
    for name in SHOWN_OPERATORS:
        perturbed = build_operator(name, strength=0.5)(
            batch.keypoints, batch.mask, batch.lengths, generator=generator, confidence=batch.confidence
        )
        rejected[name] = (perturbed.keypoints[0].numpy(), perturbed.mask[0].float().numpy())
        plot_pose_comparison(
            chosen, rejected[name], frames=6, labels=("chosen", f"rejected: {name}"),
            path=output_dir / f"perturbation_{name}.png", title=row["text"], aspect=ASPECT,
        )  # fmt: skip
    save_skeleton_gif(
        [chosen, *rejected.values()], output_dir / "perturbations.gif", fps=12, aspect=ASPECT, title=row["text"],
        labels=["chosen", *rejected],
    )  # fmt: skip

    inputs = collator.encode(batch)
    labels = tokenizer([row["text"]], return_tensors="pt")["input_ids"]
    salience = model.salience(inputs["pose"], inputs["pose_mask"], labels)[0]
    plot_salience(salience.numpy(), path=output_dir / "salience.png", title=f"MLE model's salience: {row['text']}")

    for name, directory, keys in (
        ("sft", sft_dir, ["loss", "eval_bleu4", "eval_minimal_pair_accuracy"]),
        ("dpo", dpo_dir, ["loss", "rewards/*/margins", "rewards/*/accuracies", "eval_rewards/*/margins"]),
    ):
        states = sorted(directory.glob("**/trainer_state.json"), key=lambda path: path.stat().st_mtime)
        if states:
            history = json.loads(states[-1].read_text())["log_history"]
            plot_training_curves(history, keys, path=output_dir / f"curves_{name}.png", title=name.upper())

    shown = test.select(range(min(NUM_SHOWN_TRANSLATIONS, len(test))))
    # As `signdpo translate` and the recipes' evaluation decode: beam 4, the frames each model was trained on.
    before, after = (
        Translator.from_pretrained(directory, device="cpu").translate(list(shown), num_beams=4, max_new_tokens=64)
        for directory in (sft_dir, dpo_dir)
    )
    return {
        "clip_text": row["text"],
        "translations": [
            {"reference": reference, "before": b, "after": a} for reference, b, a in zip(shown["text"], before, after)
        ],
    }


def metrics_table(metrics: dict) -> list[dict]:
    return [
        {"metric": key, "before": metrics["before"][f"before_{key}"], "after": metrics["after"][f"after_{key}"]}
        for key in BEFORE_AFTER_METRICS
        if f"before_{key}" in metrics["before"] and f"after_{key}" in metrics["after"]
    ]


def write_page(output_dir: Path, summary: dict) -> Path:
    """`index.html`: the before/after table, the pictures, the translations and the stage timings, one page."""

    def image(name: str, caption: str) -> str:
        if not (output_dir / name).exists():
            return ""
        caption = html.escape(caption)
        return f'<figure><img src="{name}" alt="{caption}"><figcaption>{caption}</figcaption></figure>'

    rows = "".join(
        f"<tr><td>{html.escape(r['metric'])}</td><td>{r['before']:.2f}</td><td>{r['after']:.2f}</td>"
        f"<td>{r['after'] - r['before']:+.2f}</td></tr>"
        for r in summary["table"]
    )
    translations = "".join(
        f"<tr><td>{html.escape(t['reference'])}</td><td>{html.escape(t['before'])}</td><td>{html.escape(t['after'])}</td></tr>"
        for t in summary["translations"]
    )
    timings = "".join(
        f"<tr><td>{html.escape(t['stage'])}</td><td>{html.escape(t['what'])}</td><td>{_duration(t['seconds'])}</td></tr>"
        for t in summary["timings"]
    )
    probe = (output_dir / "probe" / "probe.md").read_text() if (output_dir / "probe" / "probe.md").exists() else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SignDPO demo</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 4px 10px; }}
td:nth-child(n+2) {{ text-align: right; }} .text td {{ text-align: left; }}
img {{ max-width: 100%; }} figure {{ margin: 1.5em 0; }} figcaption {{ color: #555; font-size: 0.9em; }}
code, pre {{ background: #f4f4f4; }} pre {{ padding: 0.8em; overflow-x: auto; }}
</style></head><body>
<h1>SignDPO on SynthSign</h1>
<p>Size <code>{summary["size"]}</code>: {summary["num_clips"]:,} clips; the MLE model, then SignDPO at the shipped
defaults (every level, the language level from the learned corrupter). Test split, beam 4, before and after SignDPO.
Whole run: {_duration(summary["seconds"])} on {html.escape(summary["machine"])}.
These are one seed's figures: differences of a point or two are within seed noise at this size.</p>
<table><tr><th>metric</th><th>MLE</th><th>SignDPO</th><th>change</th></tr>{rows}</table>
<p><small>{html.escape(summary["signature"])}</small></p>
<h2>Translations before and after</h2>
<table class="text"><tr><th>reference</th><th>MLE</th><th>SignDPO</th></tr>{translations}</table>
<h2>Training</h2>
{image("curves_sft.png", "MLE training: loss, validation BLEU-4 and minimal-pair accuracy")}
{image("curves_dpo.png", "SignDPO training: loss, and the reward margin and accuracy of every level")}
<h2>A clip, its perturbations and the model's salience</h2>
{image("clip.png", "A test clip: " + summary["clip_text"])}
{image("perturbations.gif", "The clip (chosen) and rejected versions from one operator of each pose level")}
{image("salience.png", "Where the MLE model's decoder looks while reading the reference (cross-attention)")}
<h2>Probe: do the perturbations damage meaning?</h2>
{image("probe/probe.png", "Probe of the operators on the MLE model")}
<pre>{html.escape(probe)}</pre>
<h2>Stages</h2>
<table class="text"><tr><th>stage</th><th>what it does</th><th>time</th></tr>{timings}</table>
</body></html>
"""
    path = output_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def readme_lines(summary: dict) -> list[str]:
    """The README's `demo` block: the run's size, machine, stage times and before/after table, from its summary."""
    stages = ", ".join(f"{t['stage']} {_duration(t['seconds'])}" for t in summary["timings"])
    lines = [
        f"Measured by `python examples/demo.py --size {summary['size']}` ({summary['num_clips']:,} SynthSign clips) "
        f"on {summary['machine']}: **{_duration(summary['seconds'])}** in all ({stages}). One seed; the result file "
        f"is `{RESULTS_DIR.relative_to(ROOT)}/{summary['size']}.json`.",
        "",
        "| test metric | MLE | SignDPO | change |",
        "|---|---:|---:|---:|",
        *(
            f"| {row['metric']} | {row['before']:.2f} | {row['after']:.2f} | {row['after'] - row['before']:+.2f} |"
            for row in summary["table"]
        ),
        "",
        f"Signature: `{summary['signature']}`",
    ]
    return lines


def record(summary: dict, readme: Path) -> None:
    """Keeps the run's summary under `benchmarks/results/demo/` and regenerates the README's `demo` block from it."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from signdpo_study import replace_readme_block

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{summary['size']}.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    replace_readme_block(readme, "demo", readme_lines(summary))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/demo"))
    parser.add_argument("--size", choices=sorted(SIZES), default="quick", help="quick (make demo), full, or smoke.")
    parser.add_argument(
        "--readme", type=Path, help="Also keep the summary in benchmarks/results/demo/ and fill README's demo block."
    )
    parser.add_argument(
        "--summary-only", action="store_true", help="Run nothing: refill --readme from the recorded result file."
    )
    args = parser.parse_args(argv)
    if args.summary_only:
        if args.readme is None:
            parser.error("--summary-only needs --readme README.md.")
        result = RESULTS_DIR / f"{args.size}.json"
        if not result.exists():
            parser.error(f"{result} does not exist: run `python examples/demo.py --size {args.size} --readme ...`.")
        record(json.loads(result.read_text()), args.readme)
        return
    size = SIZES[args.size]
    output_dir = args.output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    corpus_dir, sft_dir, corrupter_dir, dpo_dir = (
        output_dir / name for name in ("synthsign", "sft", "corrupter", "dpo")
    )
    python, cli = sys.executable, [sys.executable, "-m", "signdpo_trl.cli"]
    corpus = ["--synthsign_cache", str(corpus_dir), "--synthsign_num_clips", str(size.num_clips)]
    stages = Stages(total=6)

    if not (corpus_dir / "dataset_dict.json").exists():
        synthsign = [*cli, "synthsign", "--num-clips", str(size.num_clips), "--output", str(corpus_dir)]
    else:
        synthsign = None
    stages.run("corpus", f"generates SynthSign, {size.num_clips:,} clips in train/validation/test", synthsign)
    stages.run(
        "MLE", "trains the pose-to-text model by maximum likelihood (recipes/sft_synthsign.py)",
        [python, "recipes/sft_synthsign.py", *corpus, "--output_dir", str(sft_dir), *size.sft],
    )  # fmt: skip
    stages.run(
        "probe", "checks that each perturbation operator damages what the MLE model reads (signdpo probe)",
        [*cli, "probe", "--model", str(sft_dir), "--dataset", str(corpus_dir), "--split", "validation",
         "--output", str(output_dir / "probe"), *size.probe],
    )  # fmt: skip
    stages.run(
        "corrupter",
        "mines the MLE model's errors, LoRA-tunes the language-level corrupter on them and samples rejected texts "
        "(recipes/corrupter_synthsign.py)",
        [python, "recipes/corrupter_synthsign.py", *corpus, "--model_name_or_path", str(sft_dir),
         "--output_dir", str(corrupter_dir), *size.corrupter],
    )  # fmt: skip
    stages.run(
        "SignDPO",
        "aligns the MLE model with SignDPO at the shipped defaults and scores test before and after "
        "(recipes/dpo_synthsign.py)",
        [python, "recipes/dpo_synthsign.py", *corpus, "--model_name_or_path", str(sft_dir),
         "--rejected_texts_path", str(corrupter_dir / "rejected_texts"), "--output_dir", str(dpo_dir), *size.dpo],
    )  # fmt: skip
    shown: dict = {}
    stages.run(
        "report",
        "draws the clip, its perturbations, salience and training curves and translates a few test clips",
        function=lambda: shown.update(draw(output_dir, corpus_dir, sft_dir, dpo_dir)),
    )

    metrics = json.loads((dpo_dir / "test_metrics.json").read_text())
    summary = {
        "size": args.size,
        "num_clips": size.num_clips,
        "overrides": {name: getattr(size, name) for name in ("sft", "probe", "corrupter", "dpo")},
        "machine": f"{os.cpu_count()} CPU cores ({platform.machine()}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        "seconds": round(stages.seconds, 1),
        "timings": stages.timings,
        "table": metrics_table(metrics),
        "signature": metrics["before"].get("before_signature", ""),
        **shown,
    }
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    page = write_page(output_dir, summary)

    print(f"\nSynthSign test set, MLE -> SignDPO (one seed, size {args.size}):")
    for row in summary["table"]:
        change = row["after"] - row["before"]
        print(f"  {row['metric']:>22}: {row['before']:6.2f} -> {row['after']:6.2f} ({change:+.2f})")
    print(f"  {summary['signature']}")
    print("\nStages:")
    for timing in stages.timings:
        print(f"  {timing['stage']:>10}: {_duration(timing['seconds'])}")
    print(f"  {'total':>10}: {_duration(stages.seconds)}")
    if args.readme is not None:
        record(summary, args.readme)
    print(f"\nOpen {page} in a browser.")


if __name__ == "__main__":
    main()
