"""A resumable study on SynthSign: training arms x seeds, each arm started from the same MLE reference per seed.

    python benchmarks/signdpo_study.py --arms mle_continued signdpo_first_guess --seeds 0 1 2
    python benchmarks/signdpo_study.py --list-arms
    python benchmarks/signdpo_study.py --summary-only --readme README.md   # tables into the README from the JSON
    python benchmarks/signdpo_study.py --seeds 3 --steps 2 --set logging_steps=1 -- --vocab_size 300  # after `--`:
                                                                # extra arguments of the reference recipe

For every seed k:

1. the MLE reference is `recipes/sft_synthsign.py --seed k --num_train_epochs <reference_epochs>`, run in a
   subprocess into `<work_dir>/seed<k>/reference` (skipped when its `test_metrics.json` exists; a recipe already
   running into that folder, e.g. started by hand, is waited for instead of being started twice). Arguments after
   `--` on the command line are appended to the recipe's command line (a tiny model or corpus in the tests);
2. the reference is scored once, greedily, on the test split and on the first `--validation-samples` validation
   clips (cached in `<work_dir>/seed<k>/reference_eval.json`, written to `<results_dir>/reference/seed<k>.json`).
   The recipe selected its checkpoint on the first `max_eval_samples` (200) of those validation clips, so validation
   scores are for choosing settings, never for claims;
3. every arm of `ARMS` starts from that reference with seed k and trains for the same optimizer steps, batch size,
   learning rate and schedule (`StudySettings`), in this process; then it is scored as the reference was, and
   `<results_dir>/<arm>/seed<k>.json` is written. A run whose file exists is skipped, so an interrupted study resumes.

Finally `<results_dir>/summary.md` and `summary.png` are written from the JSON files alone: per arm, the mean over
seeds and a 95% t-interval of every test metric, the paired difference to `mle_continued` (same seeds only) and the
validation BLEU-4 (for choosing settings on validation rather than on test).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from signdpo_trl.metrics import REPORTED_METRICS as METRICS
from signdpo_trl.trainer.levels import SIGNDPO_LEVELS as LEVELS


PROJECT_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_RECIPE = PROJECT_ROOT / "recipes" / "sft_synthsign.py"
DEFAULT_WORK_DIR = PROJECT_ROOT / "outputs" / "signdpo_study"
DEFAULT_RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results" / "signdpo_study"

# The objective of recipes/configs/dpo_synthsign.yaml, the starting point of the study.
FIRST_GUESS = {
    "levels": list(LEVELS),
    "beta": 0.1,
    "loss_type": ["sigmoid", "sft"],
    "loss_weights": [1.0, 0.2],
    "attention_top_k": 6,
}

# The first guess with the chosen side held: the level losses averaged (so that a weight means the same with any
# number of levels), the NLL anchor per sequence at weight 1 (the scale of the per-sequence preference terms), and
# mDPO's anchor on the chosen reward.
ANCHORED = {
    **FIRST_GUESS,
    "loss_weights": [1.0, 1.0],
    "level_reduction": "mean",
    "nll_normalization": "per_sequence",
    "chosen_anchor_weight": 1.0,
}

# The shipped default: the search arm with the best validation BLEU-4 (seed 0), signdpo_band (see the README's study
# section): the anchored objective with input pairs the reference already separates by more than 4 nats dropped.
SIGNDPO = {**ANCHORED, "reference_margin_max": [4.0] * 5 + [math.inf]}
SIGNDPO_NEEDS_MINED = False
# The learned corrupter of the `signdpo_language_learned` arm: LoRA on the reference's own language model, trained on
# up to two mined errors per training clip (rows without any topped up by the rules), then four samples per reference.
LEARNED_CORRUPTER = {
    "pairs": {"max_pairs_per_row": 2, "min_pairs_per_row": 1},
    "training": {"max_steps": 400, "per_device_train_batch_size": 32, "learning_rate": 1e-3, "lora_r": 16},
    "generation": {"num_candidates": 4, "temperature": 1.0, "top_p": 0.95, "max_new_tokens": 32},
}
# Fields holding one value per level, in the order of `levels`.
PER_LEVEL_FIELDS = ("level_weights", "level_betas", "reference_margin_min", "reference_margin_max")


def without_level(config: dict[str, Any], level: str) -> dict[str, Any]:
    """An objective without one level: the level and its entries in the per-level lists removed."""
    index = config["levels"].index(level)
    reduced = {**config, "levels": [other for other in config["levels"] if other != level]}
    for field in PER_LEVEL_FIELDS:
        if config.get(field) is not None:
            reduced[field] = [value for position, value in enumerate(config[field]) if position != index]
    if "decoded_levels" in config:
        reduced["decoded_levels"] = [other for other in config["decoded_levels"] if other != level]
    return reduced


# One entry per arm, data only: `trainer` is "mle" (SignSFTTrainer / SignSFTConfig) or "signdpo" (SignDPOTrainer /
# SignDPOConfig); `config` overrides fields of that config (the study-wide settings of `StudySettings.trainer_kwargs`
# may not be overridden: they are what keeps the arms comparable); `needs_mined_negatives` trains on the reference's
# own mined translation errors (`signdpo_trl.corrupter.mine_translation_errors`), whose keyword arguments an
# optional `mining` dict overrides.
ARMS: dict[str, dict[str, Any]] = {
    "mle_continued": {
        "trainer": "mle",
        "description": "Continued maximum likelihood on the training split: the control every arm is paired with.",
        # The reference (recipes/configs/sft_synthsign.yaml) was trained with label smoothing 0.1; continuing it with
        # the same loss keeps this arm "more of the same training", not a change of objective.
        "config": {"label_smoothing_factor": 0.1},
        "needs_mined_negatives": False,
    },
    "signdpo_first_guess": {
        "trainer": "signdpo",
        "description": "The first guess (dpo_synthsign.yaml before the study): six levels summed, sigmoid + 0.2 x NLL "
        "per token, beta 0.1.",
        "config": FIRST_GUESS,
        "needs_mined_negatives": False,
    },
    # The search (seed 0, selected on validation): one change at a time from the first guess.
    "signdpo_anchored": {
        "trainer": "signdpo",
        "description": "First-guess levels; levels averaged, NLL per sequence at weight 1 (the preference terms' "
        "scale), mDPO anchor on the chosen reward.",
        "config": ANCHORED,
        "needs_mined_negatives": False,
    },
    "signdpo_anchored_dpop": {
        "trainer": "signdpo",
        "description": "signdpo_anchored with the DPOP penalty (lambda 5) instead of the mDPO anchor.",
        "config": {**ANCHORED, "chosen_anchor_weight": 0.0, "dpop_lambda": 5.0},
        "needs_mined_negatives": False,
    },
    "signdpo_band": {
        "trainer": "signdpo",
        "description": "signdpo_anchored with a reference-margin band: input pairs the reference already separates by "
        "more than 4 nats are dropped.",
        "config": SIGNDPO,
        "needs_mined_negatives": False,
    },
    "signdpo_decoded": {
        "trainer": "signdpo",
        "description": "signdpo_anchored with decoded local pairs: (x, y) over (x, decode(ref, x~)) for the "
        "spatial-local, temporal-local and attention levels.",
        "config": {**ANCHORED, "decoded_levels": ["spatial_local", "temporal_local", "attention"]},
        "needs_mined_negatives": False,
    },
    "signdpo_mined": {
        "trainer": "signdpo",
        "description": "signdpo_anchored with the language level drawing the reference's own mined errors.",
        "config": ANCHORED,
        "needs_mined_negatives": True,
    },
    "signdpo_language_mined": {
        "trainer": "signdpo",
        "description": "Language level only, rejected = the reference's own mined errors; NLL per sequence, weight 1.",
        "config": {**ANCHORED, "levels": ["language"], "chosen_anchor_weight": 0.0},
        "needs_mined_negatives": True,
    },
    # The shipped default (recipes/configs/dpo_synthsign.yaml), its attention control and its per-level ablations.
    "signdpo": {
        "trainer": "signdpo",
        "description": "The shipped default, recipes/configs/dpo_synthsign.yaml (chosen on validation in the search).",
        "config": SIGNDPO,
        "needs_mined_negatives": SIGNDPO_NEEDS_MINED,
    },
    "signdpo_random_placement": {
        "trainer": "signdpo",
        "description": "signdpo with the attention level's operators at random frames instead of salient ones.",
        "config": {**SIGNDPO, "attention_placement": "random"},
        "needs_mined_negatives": SIGNDPO_NEEDS_MINED,
    },
    **{
        f"signdpo_without_{level}": {
            "trainer": "signdpo",
            "description": f"signdpo without the {level} level.",
            "config": without_level(SIGNDPO, level),
            "needs_mined_negatives": SIGNDPO_NEEDS_MINED and level != "language",
        }
        for level in LEVELS
    },
    "signdpo_rpo": {
        "trainer": "signdpo",
        "description": "First-guess levels averaged, NLL per token at weight 1 (TRL's RPO scale: about a tenth of the "
        "per-sequence NLL here), mDPO anchor: preference terms with more say than in signdpo_anchored.",
        "config": {**ANCHORED, "nll_normalization": "per_token"},
        "needs_mined_negatives": False,
    },
    "signdpo_nll_only": {
        "trainer": "signdpo",
        "description": "Diagnostic: the SignDPO trainer with every preference weight at 0, i.e. only its NLL term (no "
        "label smoothing, uniform frames, frozen pose statistics): what the trainer itself does against the control.",
        "config": {**ANCHORED, "levels": ["language"], "level_weights": [0.0], "chosen_anchor_weight": 0.0},
        "needs_mined_negatives": False,
    },
    "signdpo_nll_only_smoothed": {
        "trainer": "signdpo",
        "description": "Diagnostic: signdpo_nll_only with the NLL label-smoothed at 0.1, as the reference and the "
        "control are trained.",
        "config": {
            **ANCHORED,
            "levels": ["language"],
            "level_weights": [0.0],
            "chosen_anchor_weight": 0.0,
            "nll_label_smoothing": 0.1,
        },
        "needs_mined_negatives": False,
    },
    "signdpo_smoothed": {
        "trainer": "signdpo",
        "description": "signdpo with its NLL anchor label-smoothed at 0.1 (the reference's and control's MLE loss).",
        "config": {**SIGNDPO, "nll_label_smoothing": 0.1},
        "needs_mined_negatives": False,
    },
    # The language level's source of rejected texts (the learned corrupter's issue): the shipped default's
    # rule-based corruptions, the LoRA corrupter trained on the reference's own mined errors, and no language level.
    "signdpo_language_rules": {
        "trainer": "signdpo",
        "description": "signdpo itself: its language level writes rule-based corruptions (the rows of signdpo).",
        "config": SIGNDPO,
        "needs_mined_negatives": False,
        "same_as": "signdpo",
    },
    "signdpo_language_learned": {
        "trainer": "signdpo",
        "description": "signdpo with the language level drawing from the learned LoRA corrupter's samples (trained on "
        "the reference's mined errors, rule top-up).",
        "config": SIGNDPO,
        "needs_mined_negatives": True,
        "corrupter": LEARNED_CORRUPTER,
    },
    "signdpo_anchored_beta05": {
        "trainer": "signdpo",
        "description": "signdpo_anchored at beta 0.5.",
        "config": {**ANCHORED, "beta": 0.5},
        "needs_mined_negatives": False,
    },
}

BASELINE = "mle_continued"
# The shipped default, and the arms that change one thing of it: their paired difference to it is the ablation.
DEFAULT_ARM = "signdpo"
ABLATED_ARMS = (
    *(f"signdpo_without_{level}" for level in LEVELS),
    "signdpo_random_placement",
    "signdpo_language_learned",
    "signdpo_smoothed",
)
REFERENCE = "reference"
# Settings whose difference between result files makes their comparison meaningless; the summary warns about it.
COMPARED_SETTINGS = (
    "steps",
    "per_device_train_batch_size",
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "weight_decay",
    "max_frames",
    "max_target_length",
    "reference_epochs",
    "synthsign_num_clips",
    "synthsign_seed",
    "validation_samples",
    "eval_num_beams",
    "eval_max_new_tokens",
)
# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (scipy is not a dependency).
T_975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip


@dataclasses.dataclass
class StudySettings:
    """Study-wide settings, the same for every arm and seed; each result file records the values it ran with.

    Args:
        reference_epochs (`int`): Epochs of the MLE reference recipe.
        steps (`int`): Optimizer steps of every arm.
        per_device_train_batch_size (`int`), learning_rate (`float`), lr_scheduler_type (`str`), warmup_steps
            (`int`), weight_decay (`float`): The optimisation shared by all arms.
        max_frames (`int`), max_target_length (`int`): Clip and target lengths in training (and `max_frames` in
            evaluation).
        logging_steps (`int`): Training log interval; the last logged values end up in the result files.
        use_cpu (`bool`): Train and evaluate on the CPU.
        validation_samples (`int`): Validation clips scored (the first ones of the split).
        eval_num_beams (`int`), eval_max_new_tokens (`int`), per_device_eval_batch_size (`int`): Decoding of the
            evaluation (greedy by default), the same for the reference and every arm.
        synthsign_num_clips (`int`), synthsign_seed (`int`), synthsign_cache (`str`): The corpus, as the recipe
            configs generate it.
        language (`str`): Transcript language.
    """

    reference_epochs: int = 4
    steps: int = 150
    per_device_train_batch_size: int = 16
    learning_rate: float = 5e-5
    lr_scheduler_type: str = "cosine"
    warmup_steps: int = 10
    weight_decay: float = 0.0
    max_frames: int = 48
    max_target_length: int = 32
    logging_steps: int = 10
    use_cpu: bool = True
    validation_samples: int = 500
    eval_num_beams: int = 1
    eval_max_new_tokens: int = 64
    per_device_eval_batch_size: int = 64
    synthsign_num_clips: int = 10_000
    synthsign_seed: int = 0
    synthsign_cache: str = str(PROJECT_ROOT / "outputs" / "synthsign")
    language: str = "en"

    def trainer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by the `SignSFTConfig` and the `SignDPOConfig` of every arm."""
        return {
            "max_steps": self.steps,
            "per_device_train_batch_size": self.per_device_train_batch_size,
            "per_device_eval_batch_size": self.per_device_eval_batch_size,
            "learning_rate": self.learning_rate,
            "lr_scheduler_type": self.lr_scheduler_type,
            "warmup_steps": self.warmup_steps,
            "weight_decay": self.weight_decay,
            "max_frames": self.max_frames,
            "max_target_length": self.max_target_length,
            "logging_steps": self.logging_steps,
            "use_cpu": self.use_cpu,
            "language": self.language,
            "eval_strategy": "no",
            "save_strategy": "no",
            "report_to": "none",
            "dataloader_num_workers": 0,
            # The Trainer then prints its log lines instead of redrawing a progress bar in the study's log.
            "disable_tqdm": True,
        }

    def corpus_arguments(self) -> list[str]:
        """The corpus fields of the reference recipe's command line."""
        return [
            "--synthsign_num_clips", str(self.synthsign_num_clips), "--synthsign_seed", str(self.synthsign_seed),
            "--synthsign_cache", self.synthsign_cache,
        ]  # fmt: skip


# -- small helpers --------------------------------------------------------------------------------------------------


class Clock:
    """Prints one line per finished stage, with the time since the study started and the stage's own duration."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def stage(self, message: str, seconds: float | None = None) -> None:
        elapsed = time.perf_counter() - self.start
        took = f" ({seconds:.1f} s)" if seconds is not None else ""
        print(f"[{elapsed:8.1f} s] {message}{took}", flush=True)


def clean_json(value: Any) -> Any:
    """`value` with NaN and infinite floats as None: strict JSON (a probe kind with no probes scores NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(item) for item in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # enums, paths, dtypes of resolved training arguments


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Writes `payload` atomically: a study killed mid-write must not leave a file that counts as a finished run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(clean_json(payload), indent=2, sort_keys=False) + "\n")
    os.replace(temporary, path)


def validate_arms(names: Iterable[str], settings: StudySettings) -> None:
    """Fails before any training when an arm is unknown, malformed or overrides a study-wide setting."""
    from signdpo_trl import SignDPOConfig, SignSFTConfig

    reserved = set(settings.trainer_kwargs()) | {"seed", "output_dir"}
    for name in names:
        if name == REFERENCE or name not in ARMS:
            raise ValueError(f"Unknown arm {name!r}; the arms are {sorted(ARMS)}.")
        arm = ARMS[name]
        missing = {"trainer", "description", "config", "needs_mined_negatives"} - set(arm)
        if missing:
            raise ValueError(f"Arm {name!r} lacks {sorted(missing)}.")
        if arm["trainer"] not in ("mle", "signdpo"):
            raise ValueError(f"Arm {name!r}: trainer must be 'mle' or 'signdpo', got {arm['trainer']!r}.")
        if arm.get("same_as") is not None and arm["same_as"] not in ARMS:
            raise ValueError(f"Arm {name!r} is the same as {arm['same_as']!r}, which is not an arm.")
        if arm.get("corrupter") is not None and not arm["needs_mined_negatives"]:
            raise ValueError(
                f"Arm {name!r}: the learned corrupter trains on mined negatives; set needs_mined_negatives."
            )
        if arm["trainer"] == "mle" and arm["needs_mined_negatives"]:
            raise ValueError(f"Arm {name!r}: mined negatives are rejected texts, which MLE training has no use for.")
        config_class = SignSFTConfig if arm["trainer"] == "mle" else SignDPOConfig
        known = {field.name for field in dataclasses.fields(config_class)}
        unknown = sorted(set(arm["config"]) - known)
        if unknown:
            raise ValueError(f"Arm {name!r} sets {unknown}, which {config_class.__name__} does not have.")
        clashing = sorted(set(arm["config"]) & reserved)
        if clashing:
            raise ValueError(
                f"Arm {name!r} overrides the study-wide {clashing}; every arm trains with the same steps, batch and "
                "schedule (change them for the whole study with --steps, --lr or --set)."
            )


def parse_value(text: str, annotation: Any) -> Any:
    """`text` converted to a `StudySettings` field's type (annotations are strings under postponed evaluation)."""
    kind = str(annotation)
    if kind == "bool":
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text.lower() in ("true", "1")
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    return text


def corpus_overrides(arguments: Sequence[str]) -> dict[str, Any]:
    """Corpus fields set in the reference recipe's extra arguments: the study must load the corpus it trains on."""
    found: dict[str, Any] = {}
    kinds = {"synthsign_num_clips": int, "synthsign_seed": int, "synthsign_cache": str}
    for index, argument in enumerate(arguments):
        name, _, inline = argument.removeprefix("--").partition("=")
        if not argument.startswith("--"):
            continue
        if name in ("dataset_path", "benchmark", "train_split", "eval_split", "test_split"):
            raise ValueError(f"--{name} in the reference arguments: the study runs on the generated SynthSign corpus.")
        if name in ("seed", "output_dir"):
            raise ValueError(f"--{name} in the reference arguments: the study sets it per seed.")
        if name in kinds:
            value = inline or (arguments[index + 1] if index + 1 < len(arguments) else "")
            found[name] = kinds[name](value)
    return found


# -- the corpus, the reference and the evaluation -------------------------------------------------------------------


class Corpus:
    """The SynthSign splits of the study, loaded on first use (a fully resumed study never loads them)."""

    def __init__(self, settings: StudySettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._splits = None

    def splits(self):
        """`(train, validation, test)`; validation is cut to the first `validation_samples` clips."""
        if self._splits is None:
            from signdpo_trl.script_utils import SignDataArguments, load_corpus

            start = time.perf_counter()
            corpus = load_corpus(
                SignDataArguments(
                    synthsign_num_clips=self.settings.synthsign_num_clips,
                    synthsign_seed=self.settings.synthsign_seed,
                    synthsign_cache=self.settings.synthsign_cache,
                )
            )
            size = sum(len(split) for split in corpus.values())
            if size != self.settings.synthsign_num_clips:
                # A cache is reloaded whatever the requested size, so a stale one would silently change the corpus.
                raise ValueError(
                    f"{self.settings.synthsign_cache} holds {size} clips, not synthsign_num_clips="
                    f"{self.settings.synthsign_num_clips}; point --corpus-cache elsewhere."
                )
            validation = corpus["validation"]
            validation = validation.select(range(min(self.settings.validation_samples, len(validation))))
            self._splits = (corpus["train"], validation, corpus["test"])
            self.clock.stage(
                f"corpus: {len(corpus['train'])} training, {len(validation)} of {len(corpus['validation'])} "
                f"validation and {len(corpus['test'])} test clips from {self.settings.synthsign_cache}",
                time.perf_counter() - start,
            )
        return self._splits


def running_recipes_into(output_dir: Path) -> list[int]:
    """Ids of live processes whose command line has `--output_dir` naming `output_dir` (Linux; [] elsewhere).

    The study's first references were started by hand; starting a second training into the same folder would make
    both write the same checkpoints.
    """
    target = output_dir.resolve()
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            arguments = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if int(entry.name) == os.getpid() or "--output_dir" not in " ".join(arguments):
                continue
            cwd = Path(os.readlink(entry / "cwd"))
        except (OSError, ValueError):
            continue  # the process ended or belongs to someone else
        for index, argument in enumerate(arguments):
            value = None
            if argument == "--output_dir" and index + 1 < len(arguments):
                value = arguments[index + 1]
            elif argument.startswith("--output_dir="):
                value = argument.partition("=")[2]
            if value is not None and (cwd / value).resolve() == target:
                pids.append(int(entry.name))
    return pids


def ensure_reference(
    seed: int,
    settings: StudySettings,
    corpus: Corpus,
    work_dir: Path,
    extra_arguments: Sequence[str],
    threads: int,
    clock: Clock,
) -> Path:
    """The MLE reference of `seed`: trained by the recipe in a subprocess unless its test metrics already exist."""
    reference_dir = work_dir / f"seed{seed}" / "reference"
    done = reference_dir / "test_metrics.json"
    waited = False
    while not done.exists() and (pids := running_recipes_into(reference_dir)):
        if not waited:
            clock.stage(f"seed {seed} reference: already being trained by pid {pids}; waiting for it")
            waited = True
        time.sleep(30)
    if done.exists():
        clock.stage(f"seed {seed} reference: skipped, {done} exists")
        return reference_dir
    # Loaded (and checked, and cached) first, so the recipe reloads this very corpus instead of generating its own.
    corpus.splits()
    command = [
        sys.executable, str(REFERENCE_RECIPE), "--seed", str(seed),
        "--num_train_epochs", str(settings.reference_epochs), "--output_dir", str(reference_dir),
        *settings.corpus_arguments(), *extra_arguments,
    ]  # fmt: skip
    reference_dir.parent.mkdir(parents=True, exist_ok=True)
    log_path = reference_dir.parent / "reference.log"
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    with log_path.open("w") as log:
        log.write(shlex.join(command) + "\n")
        log.flush()
        result = subprocess.run(command, cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0 or not done.exists():
        tail = log_path.read_text()[-4000:]
        raise RuntimeError(f"The reference recipe failed (exit {result.returncode}); end of {log_path}:\n{tail}")
    clock.stage(f"seed {seed} reference: trained by {REFERENCE_RECIPE.name}", time.perf_counter() - start)
    return reference_dir


def progress_callback(clock: Clock, label: str):
    """A callback printing one short line per training log (the Trainer's own lines hold every reward statistic)."""
    from transformers import TrainerCallback

    shown = ("loss", "nll", "rewards/accuracies", "rewards/margins", "learning_rate")

    class StudyProgress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                values = " ".join(f"{key} {logs[key]:.4g}" for key in shown if isinstance(logs.get(key), float))
                clock.stage(f"{label}: step {state.global_step}/{state.max_steps} {values}")

    return StudyProgress()


def load_reference(reference_dir: Path):
    """A fresh copy of the reference model and its tokenizer (every arm trains its own copy)."""
    from signdpo_trl.script_utils import SignModelArguments, build_model, load_tokenizer

    model_args = SignModelArguments(model_name_or_path=str(reference_dir))
    tokenizer = load_tokenizer(model_args, texts=None)
    return build_model(model_args, tokenizer), tokenizer


def evaluation_settings(settings: StudySettings) -> dict[str, Any]:
    """What the scores of a model depend on besides the model: compared before reusing a cached evaluation."""
    return {
        "num_beams": settings.eval_num_beams,
        "max_new_tokens": settings.eval_max_new_tokens,
        "max_frames": settings.max_frames,
        "validation_samples": settings.validation_samples,
        "synthsign_num_clips": settings.synthsign_num_clips,
        "synthsign_seed": settings.synthsign_seed,
        "language": settings.language,
    }


def extract_metrics(metrics: dict[str, Any], prefix: str) -> dict[str, float | None]:
    """The study's metrics out of `evaluate_translation`'s prefixed dict (None where a metric is missing)."""
    return {name: metrics.get(f"{prefix}_{name}") for name in METRICS}


def evaluate(model, tokenizer, corpus: Corpus, settings: StudySettings, seed: int, work_dir: Path) -> dict[str, Any]:
    """Greedy (by default) scores on the full test split and the first validation clips, identical for all models."""
    from signdpo_trl import SignSFTConfig
    from signdpo_trl.trainer import evaluate_translation

    _, validation, test = corpus.splits()
    args = SignSFTConfig(
        output_dir=str(work_dir / f"seed{seed}" / "eval"),
        per_device_eval_batch_size=settings.per_device_eval_batch_size,
        use_cpu=settings.use_cpu,
        bf16=False if settings.use_cpu else None,
        max_frames=settings.max_frames,
        language=settings.language,
        dataloader_num_workers=0,
        report_to="none",
        seed=seed,
    )
    result: dict[str, Any] = {}
    for split, dataset in (("test", test), ("validation", validation)):
        metrics, _ = evaluate_translation(
            model,
            tokenizer,
            dataset,
            args,
            num_beams=settings.eval_num_beams,
            max_new_tokens=settings.eval_max_new_tokens,
            language=settings.language,
            metric_key_prefix=split,
        )
        result[split] = extract_metrics(metrics, split)
        result[f"{split}_signature"] = metrics.get(f"{split}_signature")
    result["signature"] = result.pop("test_signature")
    result.pop("validation_signature")  # the same sacrebleu set-up as the test's
    return result


def reference_evaluation(
    seed: int,
    reference_dir: Path,
    corpus: Corpus,
    settings: StudySettings,
    work_dir: Path,
    results_dir: Path,
    clock: Clock,
) -> dict[str, Any]:
    """The reference's scores, computed once per seed and evaluation set-up, and its result file."""
    cache = work_dir / f"seed{seed}" / "reference_eval.json"
    wanted = evaluation_settings(settings)
    # A retrained reference (its folder deleted and the recipe rerun) must not inherit the old one's scores.
    weights = [str(path.stat().st_mtime_ns) for path in sorted(reference_dir.glob("*.safetensors"))]
    cached = json.loads(cache.read_text()) if cache.exists() else None
    result_path = results_dir / REFERENCE / f"seed{seed}.json"
    fresh = not (
        cached is not None and cached.get("evaluation") == wanted and cached.get("weights_mtime_ns") == weights
    )
    if not fresh:
        clock.stage(f"seed {seed} reference: evaluation cached in {cache}")
        evaluation = cached
    else:
        start = time.perf_counter()
        model, tokenizer = load_reference(reference_dir)
        evaluation = evaluate(model, tokenizer, corpus, settings, seed, work_dir)
        evaluation["evaluation"] = wanted
        evaluation["weights_mtime_ns"] = weights
        evaluation["wall_seconds"] = time.perf_counter() - start
        write_json(cache, evaluation)
        del model
        clock.stage(f"seed {seed} reference: evaluated", evaluation["wall_seconds"])
    if fresh or not result_path.exists():
        recipe_metrics = reference_dir / "test_metrics.json"
        log_path = reference_dir.parent / "reference.log"
        write_json(
            result_path,
            {
                "arm": REFERENCE,
                "seed": seed,
                "config": {
                    "trainer": "mle",
                    "recipe": str(REFERENCE_RECIPE.relative_to(PROJECT_ROOT)),
                    # The command line that trained it, when this harness did (its log starts with it); None
                    # for a reference trained by hand (seeds 0 and 1: `--seed k --num_train_epochs 4` only).
                    "command": log_path.read_text().partition("\n")[0] if log_path.exists() else None,
                    "reference_dir": str(reference_dir),
                    "evaluation": wanted,
                },
                "wall_seconds": evaluation.get("wall_seconds"),
                "test": evaluation["test"],
                "validation": evaluation["validation"],
                "signature": evaluation["signature"],
                # The recipe's own scores (its decoding settings), for cross-checking against the study's.
                "recipe_test_metrics": json.loads(recipe_metrics.read_text()) if recipe_metrics.exists() else None,
            },
        )
    return evaluation


# -- one arm --------------------------------------------------------------------------------------------------------


def final_log_summary(log_history: list[dict[str, Any]]) -> dict[str, Any]:
    """The last logged value of the loss, the NLL anchor and every level's reward accuracy and margin."""
    summary: dict[str, Any] = {}
    for entry in log_history:
        for key, value in entry.items():
            wanted = key in ("loss", "nll", "train_loss") or (
                key.startswith("rewards/") and key.endswith(("/accuracies", "/margins"))
            )
            if wanted:
                summary[key] = value
    return summary


def mined_training_set(arm: dict[str, Any], model, tokenizer, train, settings: StudySettings, seed_dir: Path):
    """The training split with the reference's own translation errors as rejected texts (cached per seed)."""
    # Imported here: the miner is newer than this harness and only the arms that need it should depend on it.
    from signdpo_trl.corrupter import mine_translation_errors

    options = {"max_frames": settings.max_frames, "language": settings.language, **arm.get("mining", {})}
    return mine_translation_errors(model, tokenizer, train, cache_dir=str(seed_dir / "mined"), **options)


def learned_training_set(
    arm: dict[str, Any], mined, train, reference_dir: Path, settings: StudySettings, seed: int, seed_dir: Path, clock
):
    """The training split with the learned corrupter's samples as rejected texts, and what it took.

    The corrupter (LoRA on the reference's language model) trains on `corrupter_pairs(mined)` into
    `<seed_dir>/corrupter` (reused when its adapter is there); its samples for every training reference are cached in
    `<seed_dir>/corrupter_rejected`.
    """
    from signdpo_trl.corrupter import (
        CorrupterConfig,
        CorrupterTrainer,
        corrupter_pairs,
        generate_rejected_texts,
        load_corrupter,
    )

    options = arm["corrupter"]
    pairs, pairs_report = corrupter_pairs(mined, language=settings.language, seed=seed, **options.get("pairs", {}))
    corrupter_dir = seed_dir / "corrupter"
    start = time.perf_counter()
    trained_here = not (corrupter_dir / "adapter_config.json").is_file()
    if trained_here:
        args = CorrupterConfig(
            output_dir=str(corrupter_dir),
            seed=seed,
            use_cpu=settings.use_cpu,
            language=settings.language,
            report_to="none",
            save_strategy="no",
            logging_steps=50,
            disable_tqdm=True,
            lr_scheduler_type="cosine",
            **options.get("training", {}),
        )
        trainer = CorrupterTrainer(str(reference_dir), args=args, train_dataset=pairs.shuffle(seed=seed))
        trainer.train()
        trainer.save_model()
        corrupter_loss = trainer.state.log_history[-1].get("train_loss")
        model, tokenizer = trainer.model, trainer.processing_class
        del trainer
    else:
        model, tokenizer = load_corrupter(corrupter_dir)
        corrupter_loss = None
    train_seconds = time.perf_counter() - start
    clock.stage(
        f"seed {seed}: corrupter {'trained' if trained_here else 'loaded'} ({len(pairs)} pairs)", train_seconds
    )
    start = time.perf_counter()
    train, generation_report = generate_rejected_texts(
        model,
        tokenizer,
        train,
        language=settings.language,
        seed=seed,
        cache_dir=str(seed_dir / "corrupter_rejected"),
        return_report=True,
        **options.get("generation", {}),
    )
    generation_seconds = time.perf_counter() - start
    clock.stage(f"seed {seed}: corrupter samples ready ({generation_report.num_kept} kept)", generation_seconds)
    info = {
        "pairs": dataclasses.asdict(pairs_report),
        "generation": {
            name: value for name, value in dataclasses.asdict(generation_report).items() if name != "from_cache"
        },
        "corrupter_train_seconds": train_seconds if trained_here else None,
        "corrupter_train_loss": corrupter_loss,
        "generation_seconds": generation_seconds if not generation_report.from_cache else None,
    }
    return train, info


def run_arm(
    name: str,
    seed: int,
    reference_dir: Path,
    reference: dict[str, Any],
    corpus: Corpus,
    settings: StudySettings,
    work_dir: Path,
    clock: Clock,
) -> dict[str, Any]:
    """Trains arm `name` from the reference of `seed`, scores it and returns its result record."""
    import torch
    from transformers.trainer_callback import PrinterCallback

    from signdpo_trl import SignDPOConfig, SignDPOTrainer, SignSFTConfig, SignSFTTrainer

    arm = ARMS[name]
    seed_dir = work_dir / f"seed{seed}"
    train, _, _ = corpus.splits()
    model, tokenizer = load_reference(reference_dir)
    mining_seconds = corrupter = None
    if arm["needs_mined_negatives"]:
        start = time.perf_counter()
        mined = mined_training_set(arm, model, tokenizer, train, settings, seed_dir)
        mining_seconds = time.perf_counter() - start
        clock.stage(f"seed {seed} {name}: mined negatives ready", mining_seconds)
        if arm.get("corrupter") is not None:
            train, corrupter = learned_training_set(arm, mined, train, reference_dir, settings, seed, seed_dir, clock)
        else:
            train = mined

    start = time.perf_counter()
    # A copy: the arms share lists (FIRST_GUESS), which a config must not be able to change for the next arm.
    arm_config = copy.deepcopy(arm["config"])
    kwargs = {**settings.trainer_kwargs(), **arm_config, "seed": seed, "output_dir": str(seed_dir / name)}
    torch.manual_seed(seed)  # same generator state at construction whatever loading or mining drew
    if arm["trainer"] == "signdpo":
        trainer = SignDPOTrainer(
            model=model, args=SignDPOConfig(**kwargs), train_dataset=train, processing_class=tokenizer
        )
    else:
        # No evaluation during training, so no generation and no best-checkpoint metric (which needs generation).
        kwargs = {"predict_with_generate": False, "metric_for_best_model": None, **kwargs}
        trainer = SignSFTTrainer(
            model=model, args=SignSFTConfig(**kwargs), train_dataset=train, processing_class=tokenizer
        )
    trainer.remove_callback(PrinterCallback)  # replaced by one short line per log
    trainer.add_callback(progress_callback(clock, f"seed {seed} {name}"))
    trainer.train()
    train_seconds = time.perf_counter() - start
    clock.stage(f"seed {seed} {name}: trained {trainer.state.global_step} steps", train_seconds)

    eval_start = time.perf_counter()
    scores = evaluate(trainer.model, tokenizer, corpus, settings, seed, work_dir)
    eval_seconds = time.perf_counter() - eval_start
    clock.stage(f"seed {seed} {name}: evaluated", eval_seconds)
    record = {
        "arm": name,
        "seed": seed,
        "config": {
            "trainer": arm["trainer"],
            "description": arm["description"],
            "needs_mined_negatives": arm["needs_mined_negatives"],
            "arm": arm["config"],
            "mining": arm.get("mining", {}) if arm["needs_mined_negatives"] else None,
            "corrupter": arm.get("corrupter"),
            "study": dataclasses.asdict(settings),
            # Everything the trainer ran with, defaults included: config defaults change as the library evolves.
            "resolved_args": trainer.args.to_dict(),
        },
        "steps": trainer.state.global_step,
        "train_rows": len(train),
        "wall_seconds": train_seconds + eval_seconds,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "mining_seconds": mining_seconds,
        "corrupter": corrupter,
        "reference_test": reference["test"],
        "test": scores["test"],
        "validation": scores["validation"],
        "reference_validation": reference["validation"],
        "signature": scores["signature"],
        "final_log": final_log_summary(trainer.state.log_history),
    }
    del trainer, model
    gc.collect()
    return record


def run_study(
    arms: Sequence[str],
    seeds: Sequence[int],
    settings: StudySettings,
    work_dir: Path,
    results_dir: Path,
    reference_arguments: Sequence[str] = (),
    threads: int = 1,
) -> None:
    """Runs every (seed, arm) whose result file is missing, then writes the summary."""
    clock = Clock()
    validate_arms(arms, settings)
    corpus = Corpus(settings, clock)
    for seed in seeds:
        reference_dir = ensure_reference(seed, settings, corpus, work_dir, reference_arguments, threads, clock)
        reference = reference_evaluation(seed, reference_dir, corpus, settings, work_dir, results_dir, clock)
        for name in arms:
            if ARMS[name].get("same_as") is not None:
                clock.stage(f"seed {seed} {name}: the same run as {ARMS[name]['same_as']}, not trained again")
                continue
            path = results_dir / name / f"seed{seed}.json"
            if path.exists():
                clock.stage(f"seed {seed} {name}: skipped, {path} exists")
                continue
            record = run_arm(name, seed, reference_dir, reference, corpus, settings, work_dir, clock)
            write_json(path, record)
            test = record["test"]
            clock.stage(
                f"seed {seed} {name}: wrote {path} (test BLEU-4 {test['bleu4']:.2f}, "
                f"reference {reference['test']['bleu4']:.2f})"
            )
    write_summary(results_dir)
    clock.stage(f"summary: wrote {results_dir / 'summary.md'}")


# -- the summary ----------------------------------------------------------------------------------------------------


def t_quantile_975(degrees_of_freedom: int) -> float:
    """Two-sided 95% quantile of Student's t: the table up to 30, a Cornish-Fisher expansion beyond."""
    if degrees_of_freedom < 1:
        raise ValueError("a t-interval needs at least 2 values.")
    if degrees_of_freedom <= len(T_975):
        return T_975[degrees_of_freedom - 1]
    z = statistics.NormalDist().inv_cdf(0.975)
    nu = degrees_of_freedom
    return z + (z**3 + z) / (4 * nu) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * nu**2)


def mean_interval(values: Iterable[float | None]) -> dict[str, Any] | None:
    """Mean and 95% t-interval of the finite values (half-width None with fewer than two); None without values."""
    finite = [float(value) for value in values if value is not None and math.isfinite(value)]
    if not finite:
        return None
    mean = statistics.fmean(finite)
    if len(finite) < 2:
        return {"n": 1, "mean": mean, "half_width": None, "low": None, "high": None}
    half_width = t_quantile_975(len(finite) - 1) * statistics.stdev(finite) / math.sqrt(len(finite))
    return {
        "n": len(finite),
        "mean": mean,
        "half_width": half_width,
        "low": mean - half_width,
        "high": mean + half_width,
    }


def load_results(results_dir: Path) -> dict[str, dict[int, dict[str, Any]]]:
    """Result records by arm then seed, from `<results_dir>/<arm>/seed<k>.json`."""
    results: dict[str, dict[int, dict[str, Any]]] = {}
    for path in sorted(Path(results_dir).glob("*/seed*.json")):
        record = json.loads(path.read_text())
        results.setdefault(path.parent.name, {})[int(record["seed"])] = record
    # An arm that is the same run as another (same config, same seeds) shows that arm's results under its own name.
    for name, arm in ARMS.items():
        if arm.get("same_as") in results and name not in results:
            results[name] = results[arm["same_as"]]
    return results


def _arm_order(name: str) -> tuple[int, int, str]:
    # The reference first, then the table's order, then arms no longer in the table.
    if name == REFERENCE:
        return (0, 0, name)
    names = list(ARMS)
    return (1, names.index(name), name) if name in names else (2, 0, name)


def summary_rows(results_dir: str | Path) -> list[dict[str, Any]]:
    """One row per arm with result files (the reference first), from the JSON files alone.

    Each row: `arm`, `description`, `seeds` (sorted), `n_seeds`, `test` (metric -> `mean_interval` dict or None),
    `validation_bleu4` (mean or None), `paired_seeds` (seeds shared with `mle_continued`) and `paired` (metric ->
    `mean_interval` of the per-seed differences arm - mle_continued, or None for the baseline itself and when no seed
    is shared).
    """
    results = load_results(Path(results_dir))
    baseline = results.get(BASELINE, {})
    rows = []
    for name in sorted(results, key=_arm_order):
        records = results[name]
        seeds = sorted(records)
        paired_seeds, paired = paired_differences(records, baseline) if name != BASELINE else ([], None)
        default = results.get(DEFAULT_ARM, {})
        to_default = paired_differences(records, default)[1] if name in ABLATED_ARMS else None
        validation = mean_interval(records[seed].get("validation", {}).get("bleu4") for seed in seeds)
        description = ARMS.get(name, {}).get("description") or records[seeds[0]].get("config", {}).get(
            "description", "MLE reference (recipes/sft_synthsign.py), the starting point of every arm."
        )
        rows.append(
            {
                "arm": name,
                "description": description,
                "seeds": seeds,
                "n_seeds": len(seeds),
                "test": {
                    metric: mean_interval(records[seed]["test"].get(metric) for seed in seeds) for metric in METRICS
                },
                "validation_bleu4": validation["mean"] if validation else None,
                "paired_seeds": paired_seeds,
                "paired": paired,
                "paired_to_default": to_default,
            }
        )
    return rows


def paired_differences(records: dict[int, dict[str, Any]], other: dict[int, dict[str, Any]]):
    """`(seeds both have, metric -> mean_interval of the per-seed differences records - other)`; None without a
    shared seed."""
    shared = [seed for seed in sorted(records) if seed in other]
    if not shared:
        return shared, None
    paired = {}
    for metric in METRICS:
        differences = []
        for seed in shared:
            value, base = records[seed]["test"].get(metric), other[seed]["test"].get(metric)
            if value is not None and base is not None:
                differences.append(value - base)
        paired[metric] = mean_interval(differences)
    return shared, paired


def _format(interval: dict[str, Any] | None, signed: bool = False) -> str:
    if interval is None:
        return "–"
    mean = f"{interval['mean']:+.2f}" if signed else f"{interval['mean']:.2f}"
    if interval["half_width"] is None:
        return f"{mean} (n=1)"
    return f"{mean} ± {interval['half_width']:.2f}"


def _settings_note(results: dict[str, dict[int, dict[str, Any]]]) -> list[str]:
    combinations: dict[str, list[str]] = {}
    for name, records in results.items():
        for seed, record in records.items():
            study = record.get("config", {}).get("study")
            if study is None:  # the reference records no training settings
                continue
            key = json.dumps([[field, study[field]] for field in COMPARED_SETTINGS if field in study])
            combinations.setdefault(key, []).append(f"{name}/seed{seed}")
    lines = []
    for index, (key, runs) in enumerate(combinations.items()):
        settings = ", ".join(f"{field}={value}" for field, value in json.loads(key))
        lines.append(f"- settings{f' {index + 1}' if len(combinations) > 1 else ''}: {settings}")
        if len(combinations) > 1:
            lines.append(f"  ({len(runs)} runs: {', '.join(sorted(runs))})")
    if len(combinations) > 1:
        lines.insert(0, "- **WARNING: the result files were produced with different settings; do not compare them.**")
    return lines


def summary_tables(rows: list[dict[str, Any]]) -> list[str]:
    """The test table and the paired-difference table as Markdown lines (in `summary.md` and in the README)."""
    header = " | ".join(METRICS)
    lines = [
        "## Test metrics",
        "",
        f"| arm | seeds | {header} | validation bleu4 |",
        "|---|---:|" + "---:|" * len(METRICS) + "---:|",
    ]
    for row in rows:
        cells = " | ".join(_format(row["test"][metric]) for metric in METRICS)
        validation = f"{row['validation_bleu4']:.2f}" if row["validation_bleu4"] is not None else "–"
        lines.append(f"| {row['arm']} | {row['n_seeds']} | {cells} | {validation} |")
    lines += [
        "",
        f"## Paired difference to {BASELINE} (arm − {BASELINE}, per seed, seeds both have)",
        "",
        f"| arm | paired seeds | {header} |",
        "|---|---:|" + "---:|" * len(METRICS),
    ]
    paired_rows = [row for row in rows if row["paired"] is not None]
    for row in paired_rows:
        cells = " | ".join(_format(row["paired"][metric], signed=True) for metric in METRICS)
        lines.append(f"| {row['arm']} | {len(row['paired_seeds'])} | {cells} |")
    if not paired_rows:
        lines.append(f"| (no arm shares a seed with {BASELINE} yet) | | " + " | ".join("" for _ in METRICS) + " |")
    ablation_rows = [row for row in rows if row.get("paired_to_default") is not None]
    if ablation_rows:
        lines += [
            "",
            f"## Paired difference to {DEFAULT_ARM} (arms that change one thing of it: arm − {DEFAULT_ARM}, per seed)",
            "",
            f"| arm | paired seeds | {header} |",
            "|---|---:|" + "---:|" * len(METRICS),
        ]
        for row in ablation_rows:
            cells = " | ".join(_format(row["paired_to_default"][metric], signed=True) for metric in METRICS)
            lines.append(f"| {row['arm']} | {row['paired_to_default']['bleu4']['n']} | {cells} |")
    return lines


def replace_readme_block(readme: str | Path, name: str, lines: Sequence[str]) -> None:
    """Replaces the README's block between `<!-- <name>:start -->` and `<!-- <name>:end -->` with `lines`, so the
    README's figures are generated from result files, never typed."""
    readme = Path(readme)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{readme} has no {start} ... {end} block to fill.")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(head + start + "\n" + "\n".join(lines) + "\n" + end + tail)


def update_readme(results_dir: str | Path, readme: str | Path) -> None:
    """Writes the study's tables into the README's `signdpo_study` block."""
    tables = [
        line.replace("## ", "#### ", 1) if line.startswith("## ") else line
        for line in summary_tables(summary_rows(results_dir))
    ]
    replace_readme_block(readme, "signdpo_study", tables)


def write_summary(results_dir: str | Path) -> Path:
    """Writes `summary.md` (and `summary.png` when there are paired differences) from the result files."""
    results_dir = Path(results_dir)
    rows = summary_rows(results_dir)
    results = load_results(results_dir)
    lines = [
        "# SignDPO study on SynthSign",
        "",
        "Generated by `benchmarks/signdpo_study.py` from the JSON files next to this one. Mean over seeds ±",
        "half-width of the 95% t-interval (n=1: a single seed, no interval); decoding as recorded in each file.",
        "",
        *_settings_note(results),
        "",
        *summary_tables(rows),
    ]
    paired_rows = [row for row in rows if row["paired"] is not None]
    lines += ["", "## Arms", ""]
    lines += [f"- `{row['arm']}` (seeds {', '.join(map(str, row['seeds']))}): {row['description']}" for row in rows]
    signatures = sorted(
        {record.get("signature") for records in results.values() for record in records.values()} - {None}
    )
    if signatures:
        lines += ["", "Metric signature: " + "; ".join(f"`{signature}`" for signature in signatures)]
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    plotted = [row for row in paired_rows if row["arm"] != REFERENCE]
    if plotted:
        plot_paired(plotted, results_dir / "summary.png")
    return path


def plot_paired(rows: list[dict[str, Any]], path: Path) -> None:
    """Paired differences to the baseline in test BLEU-4 and minimal-pair accuracy, with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")  # no display: the study runs on servers
    import matplotlib.pyplot as plt

    panels = (("bleu4", "test BLEU-4"), ("minimal_pair_accuracy", "minimal-pair accuracy (%)"))
    figure, axes = plt.subplots(1, len(panels), figsize=(11, 1.2 + 0.45 * len(rows)), sharey=True, squeeze=False)
    positions = list(range(len(rows)))[::-1]  # the table's first arm on top
    for axis, (metric, label) in zip(axes[0], panels):
        means, errors = [], []
        for row in rows:
            interval = row["paired"].get(metric)
            means.append(interval["mean"] if interval else math.nan)
            errors.append(interval["half_width"] if interval and interval["half_width"] is not None else 0.0)
        axis.errorbar(means, positions, xerr=errors, fmt="o", capsize=4, color="tab:blue")
        axis.axvline(0.0, color="black", linewidth=0.8)
        axis.set_xlabel(f"Δ {label} vs {BASELINE}")
        axis.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(positions, [f"{row['arm']} (n={len(row['paired_seeds'])})" for row in rows])
    figure.suptitle(f"Paired difference to {BASELINE}, mean and 95% t-interval over seeds")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


# -- command line ---------------------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str]) -> tuple[argparse.Namespace, StudySettings, list[str]]:
    """The options, the study settings they give, and the reference recipe's extra arguments (after `--`)."""
    argv = list(argv)
    reference_arguments: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, reference_arguments = argv[:split], argv[split + 1 :]
    defaults = StudySettings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), help="arms to run (default: all of ARMS)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=defaults.steps, help="optimizer steps of every arm")
    parser.add_argument("--lr", type=float, default=defaults.learning_rate, help="learning rate of every arm")
    parser.add_argument("--batch-size", type=int, default=defaults.per_device_train_batch_size)
    parser.add_argument("--reference-epochs", type=int, default=defaults.reference_epochs)
    parser.add_argument(
        "--validation-samples", type=int, default=defaults.validation_samples, help="first validation clips scored"
    )
    parser.add_argument("--corpus-cache", default=defaults.synthsign_cache, help="where SynthSign is saved/reloaded")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any other StudySettings field, e.g. --set logging_steps=1 --set eval_max_new_tokens=32",
    )
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="references and mined negatives")
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR, help="one JSON per run, summary")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (and OMP_NUM_THREADS of the reference)")
    parser.add_argument("--summary-only", action="store_true", help="only rewrite summary.md/png from the JSON files")
    parser.add_argument("--list-arms", action="store_true", help="print the arms and exit")
    parser.add_argument(
        "--readme", type=Path, default=None, help="also write the tables into this README's signdpo_study block"
    )
    options = parser.parse_args(argv)

    values = {
        "steps": options.steps,
        "learning_rate": options.lr,
        "per_device_train_batch_size": options.batch_size,
        "reference_epochs": options.reference_epochs,
        "validation_samples": options.validation_samples,
        "synthsign_cache": str(Path(options.corpus_cache).resolve()),
    }
    fields = {field.name: field for field in dataclasses.fields(StudySettings)}
    for assignment in options.set:
        name, equals, text = assignment.partition("=")
        if not equals or name not in fields:
            parser.error(f"--set {assignment!r}: expected FIELD=VALUE with FIELD among {sorted(fields)}.")
        try:
            values[name] = parse_value(text, fields[name].type)
        except ValueError as error:
            parser.error(f"--set {assignment!r}: {error}")
    try:
        overrides = corpus_overrides(reference_arguments)
    except ValueError as error:
        parser.error(str(error))
    if "synthsign_cache" in overrides:
        overrides["synthsign_cache"] = str(Path(overrides["synthsign_cache"]).resolve())
    # The reference trains on the corpus its arguments name; the arms must train and be scored on the same one.
    values.update(overrides)
    return options, StudySettings(**values), reference_arguments


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    options, settings, reference_arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    if options.list_arms:
        for name, arm in ARMS.items():
            print(f"{name:32} {arm['trainer']:8} {arm['description']}")
        return
    results_dir, work_dir = options.results_dir.resolve(), options.work_dir.resolve()
    if options.summary_only:
        print(f"wrote {write_summary(results_dir)}")
        if options.readme is not None:
            update_readme(results_dir, options.readme)
            print(f"updated {options.readme}")
        return

    import torch
    from datasets.utils.logging import disable_progress_bar
    from transformers.utils import logging as transformers_logging

    torch.set_num_threads(options.threads)
    disable_progress_bar()
    transformers_logging.disable_progress_bar()  # "Loading weights" bars, one per arm
    transformers_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=UserWarning)
    run_study(options.arms, options.seeds, settings, work_dir, results_dir, reference_arguments, options.threads)


if __name__ == "__main__":
    main()
