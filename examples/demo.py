"""The whole SignDPO pipeline on the bundled SynthSign corpus, with pictures: what `make demo` runs.

1. generate SynthSign and draw a clip as a skeleton;
2. train the pose-to-text model by maximum likelihood (`recipes/sft_synthsign.py`);
3. probe the perturbation operators on the MLE model (`signdpo probe`): do the rejected samples carry semantic damage?
4. align it with SignDPO (`recipes/dpo_synthsign.py`) and report test metrics before and after;
5. draw a clip's perturbations, the model's salience and the training curves.

    python examples/demo.py --output-dir outputs/demo            # the recipes' own sizes (about 40 min on 2 cores)
    python examples/demo.py --output-dir outputs/demo --quick    # a small corpus and short runs (about 8 min)

Every stage is the real recipe or command a user would run; the demo only chains them and draws the pictures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from datasets import load_from_disk
from transformers import AutoTokenizer

from signdpo_trl import SignTranslationModel
from signdpo_trl.metrics import REPORTED_METRICS
from signdpo_trl.perturbations import build_operator
from signdpo_trl.trainer import PoseCollator
from signdpo_trl.visualization import plot_pose_comparison, plot_salience, plot_skeleton_frames, plot_training_curves


ROOT = Path(__file__).resolve().parents[1]
QUICK = {
    "sft": ["--synthsign_num_clips", "3000", "--num_train_epochs", "4", "--max_eval_samples", "100"],
    "dpo": ["--synthsign_num_clips", "3000", "--max_steps", "60", "--eval_steps", "30", "--max_eval_samples", "100"],
    "probe": ["--max-samples", "64", "--strengths", "0.3", "1.0"],
}


def run(command: list[str]) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def draw(output_dir: Path, corpus_dir: Path, sft_dir: Path, dpo_dir: Path) -> None:
    test = load_from_disk(str(corpus_dir))["test"]
    row = test[0]
    keypoints, confidence = row["keypoints"], row["confidence"]
    aspect = 720 / 1280  # SynthSign keypoints are fractions of a 1280 x 720 frame
    plot_skeleton_frames(
        (keypoints, confidence), frames=6, path=output_dir / "clip.png", title=row["text"], aspect=aspect
    )

    model = SignTranslationModel.from_pretrained(sft_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(sft_dir)
    collator = PoseCollator.for_model(model, max_frames=48)
    batch = collator.pad([row])
    generator = torch.Generator().manual_seed(0)
    for name in ("handshape_change", "hand_relocation", "face_freeze", "segment_shuffle"):
        rejected = build_operator(name, strength=0.5)(
            batch.keypoints, batch.mask, batch.lengths, generator=generator, confidence=batch.confidence
        )
        plot_pose_comparison(
            (batch.keypoints[0].numpy(), batch.mask[0].float().numpy()),
            (rejected.keypoints[0].numpy(), rejected.mask[0].float().numpy()),
            frames=6,
            labels=("chosen", f"rejected: {name}"),
            path=output_dir / f"perturbation_{name}.png",
            title=row["text"],
            aspect=aspect,
        )

    inputs = collator.encode(batch)
    labels = tokenizer([row["text"]], return_tensors="pt")["input_ids"]
    salience = model.salience(inputs["pose"], inputs["pose_mask"], labels)[0]
    plot_salience(salience.numpy(), path=output_dir / "salience.png", title=f"MLE model's salience: {row['text']}")

    for name, directory, keys in (
        ("sft", sft_dir, ["loss", "eval_bleu4", "eval_minimal_pair_accuracy"]),
        ("dpo", dpo_dir, ["loss", "rewards/*/margins", "rewards/*/accuracies"]),
    ):
        states = sorted(directory.glob("**/trainer_state.json"))
        if states:
            history = json.loads(states[-1].read_text())["log_history"]
            plot_training_curves(history, keys, path=output_dir / f"curves_{name}.png", title=name.upper())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/demo"))
    parser.add_argument("--quick", action="store_true", help="A small corpus and short runs.")
    args = parser.parse_args()
    output_dir = args.output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    corpus_dir, sft_dir, dpo_dir = output_dir / "synthsign", output_dir / "sft", output_dir / "dpo"
    corpus = ["--synthsign_cache", str(corpus_dir)]
    quick = (
        QUICK if args.quick else {"sft": [], "dpo": [], "probe": ["--max-samples", "256", "--strengths", "0.3", "1.0"]}
    )

    python = sys.executable
    run([python, "recipes/sft_synthsign.py", *corpus, "--output_dir", str(sft_dir), *quick["sft"]])
    run(
        [python, "-m", "signdpo_trl.cli", "probe", "--model", str(sft_dir), "--dataset", str(corpus_dir),
         "--split", "validation", "--output", str(output_dir / "probe"), *quick["probe"]]
    )  # fmt: skip
    run(
        [python, "recipes/dpo_synthsign.py", *corpus, "--model_name_or_path", str(sft_dir),
         "--output_dir", str(dpo_dir), *quick["dpo"]]
    )  # fmt: skip
    draw(output_dir, corpus_dir, sft_dir, dpo_dir)

    metrics = json.loads((dpo_dir / "test_metrics.json").read_text())
    print(f"\nSynthSign test set, before -> after SignDPO (pictures and probe table in {output_dir}):")
    for key in REPORTED_METRICS:
        before, after = metrics["before"].get(f"before_{key}"), metrics["after"].get(f"after_{key}")
        if before is not None and after is not None:
            print(f"  {key:>22}: {before:6.2f} -> {after:6.2f}")


if __name__ == "__main__":
    main()
