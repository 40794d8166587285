"""What the language level's three sources of wrong translations write on SynthSign, side by side.

    python benchmarks/corrupter_examples.py --seed 0

Reads, for one seed of the SignDPO study (`benchmarks/signdpo_study.py`), the reference's mined errors
(`<work_dir>/seed<k>/mined`) and the learned corrupter's samples (`<work_dir>/seed<k>/corrupter_rejected`), both
written by the study's `signdpo_language_learned` arm, and writes the rule-based corruptions of the same references.
For each source it counts the kinds of error (`signdpo_trl.corrupter.count_error_kinds`, with SynthSign's minimal-pair
table) and writes `benchmarks/results/corrupter/seed<k>.json`, a Markdown table of examples (reference, mined error,
corrupter output, rule output) in `seed<k>.md`, and the error-kind shares as a bar chart in `seed<k>.png`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from datasets import load_from_disk

from signdpo_trl.corrupter import corrupt_text, count_error_kinds
from signdpo_trl.corrupter.error_kinds import ERROR_KINDS
from signdpo_trl.data.synthetic import SynthSignConfig, minimal_pair_words
from signdpo_trl.data.synthetic.lexicon import build_lexicon


PROJECT_ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("mined", "learned", "rules")


def column_of(path: Path, column: str = "rejected_texts") -> list[list[str]]:
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path} does not exist: run `python benchmarks/signdpo_study.py --arms signdpo_language_learned` for "
            "this seed first (it mines the errors and trains the corrupter)."
        )
    return load_from_disk(str(path))[column]


def rule_corruptions(references: list[str], seed: int) -> list[list[str]]:
    generator = torch.Generator().manual_seed(seed)
    return [
        [
            corrupt_text(
                reference,
                pool=references[max(0, row - 32) : row] + references[row + 1 : row + 33],
                generator=generator,
            )
        ]
        for row, reference in enumerate(references)
    ]


def plot(shares: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(10, 3.8))
    width = 0.8 / len(shares)
    for index, (source, kinds) in enumerate(shares.items()):
        positions = [position + index * width for position in range(len(ERROR_KINDS))]
        axis.bar(positions, [100 * kinds[kind] for kind in ERROR_KINDS], width, label=source)
    axis.set_xticks([position + 0.4 - width / 2 for position in range(len(ERROR_KINDS))], ERROR_KINDS, rotation=20)
    axis.set_ylabel("share of wrong translations (%)")
    axis.set_title("Kinds of error in the language level's rejected texts (SynthSign training split)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", type=Path, default=PROJECT_ROOT / "outputs" / "signdpo_study")
    parser.add_argument("--corpus-cache", type=Path, default=PROJECT_ROOT / "outputs" / "synthsign")
    parser.add_argument("--results-dir", type=Path, default=PROJECT_ROOT / "benchmarks" / "results" / "corrupter")
    parser.add_argument("--examples", type=int, default=12, help="rows of the example table")
    parser.add_argument("--readme", type=Path, default=None, help="also write the tables into this README")
    options = parser.parse_args()

    seed_dir = options.work_dir / f"seed{options.seed}"
    references = load_from_disk(str(options.corpus_cache))["train"]["text"]
    texts = {
        "mined": column_of(seed_dir / "mined"),
        "learned": column_of(seed_dir / "corrupter_rejected"),
        "rules": rule_corruptions(references, options.seed),
    }
    for source, rows in texts.items():
        if len(rows) != len(references):
            raise ValueError(f"{source}: {len(rows)} rows for {len(references)} training references.")
    config = SynthSignConfig()
    words = minimal_pair_words(build_lexicon(config.lexicon_seed, config.minimal_pair_rate))

    counts = {source: count_error_kinds(references, rows, minimal_pair_words=words) for source, rows in texts.items()}
    shares = {
        source: {kind: n / max(1, sum(kinds.values())) for kind, n in kinds.items()}
        for source, kinds in counts.items()
    }
    coverage = {source: sum(1 for row in rows if row) / len(rows) for source, rows in texts.items()}
    per_row = {source: sum(len(row) for row in rows) / len(rows) for source, rows in texts.items()}
    # Clips where every source has something to show, in corpus order (no cherry-picking).
    shown = [row for row in range(len(references)) if all(texts[source][row] for source in SOURCES)][
        : options.examples
    ]
    examples = [
        {"reference": references[row], **{source: texts[source][row][0] for source in SOURCES}} for row in shown
    ]

    options.results_dir.mkdir(parents=True, exist_ok=True)
    stem = options.results_dir / f"seed{options.seed}"
    payload = {
        "seed": options.seed,
        "num_references": len(references),
        "sources": {
            "mined": f"{seed_dir / 'mined'}: the MLE reference's wrong n-best outputs (beam 4, chrF < 90)",
            "learned": f"{seed_dir / 'corrupter_rejected'}: the LoRA corrupter's samples (meaning-change filtered)",
            "rules": "signdpo_trl.corrupter.corrupt_text, one per reference",
        },
        "error_kinds": counts,
        "error_kind_shares": shares,
        "rows_with_texts": coverage,
        "texts_per_row": per_row,
        "examples": examples,
    }
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        f"# Rejected texts of the language level, SynthSign, study seed {options.seed}",
        "",
        "Generated by `benchmarks/corrupter_examples.py`. The first training clips for which every source has a text.",
        "",
        "| reference | mined error (MLE model) | learned corrupter | rules |",
        "|---|---|---|---|",
        *(f"| {row['reference']} | {row['mined']} | {row['learned']} | {row['rules']} |" for row in examples),
        "",
        "## Kinds of error (share of the wrong translations, %)",
        "",
        "| source | texts per clip | " + " | ".join(ERROR_KINDS) + " |",
        "|---|---:|" + "---:|" * len(ERROR_KINDS),
        *(
            f"| {source} | {per_row[source]:.2f} | "
            + " | ".join(f"{100 * shares[source][kind]:.1f}" for kind in ERROR_KINDS)
            + " |"
            for source in SOURCES
        ),
    ]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    plot(shares, stem.with_suffix(".png"))
    if options.readme is not None:
        from signdpo_study import replace_readme_block  # the sibling script; benchmarks/ is on sys.path when run

        block = [line.replace("# ", "#### ", 1) if line.startswith("# ") else line for line in lines]
        replace_readme_block(options.readme, "corrupter_examples", [line.replace("## ", "#### ", 1) for line in block])
    print("\n".join(lines))


if __name__ == "__main__":
    main()
