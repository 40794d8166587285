"""The perturbation probe: how much each operator damages what the reference model reads from a clip.

A perturbed pose is a valid rejected sample only if it changes what the signing *means*, not just how it looks. The
probe measures this on the model SignDPO starts from: for each operator and strength, how far the reference model's
log-likelihood of the reference translation, log p(y | x~), and its BLEU-4 fall below their values on the clean input.

Probe inputs are built exactly as the trainer builds rejected poses, in the model's input convention
(`PoseCollator.for_model`): `PoseCollator.pad` (uniform frame sampling), the operator on the source-space batch, then
`PoseCollator.encode`; the attention-guided operator gets the model's salience on the clean clip, as the training
step gives it the reference model's.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..data.collation import PoseBatch, PoseCollator, tokenize_targets
from .registry import IN_STEP_LEVELS, LEVELS, ConfiguredOperator, build_operator, check_strength, list_operators


# The attention level's defaults in the trainer (`SignDPOConfig.attention_top_k`), so that the probe measures the
# rejected samples training will see.
ATTENTION_TOP_K = 8
DEFAULT_STRENGTHS = (0.1, 0.3, 0.5, 1.0)
# One colour per level in the plot; operators of a level differ by marker.
LEVEL_COLORS = {
    "spatial_global": "#1f77b4",
    "spatial_local": "#2ca02c",
    "temporal_global": "#d62728",
    "temporal_local": "#ff7f0e",
    "attention": "#9467bd",
}
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


@dataclass(frozen=True)
class ProbeRow:
    """The damage one operator does at one strength, averaged over the probe set.

    Args:
        operator (`str`): Registered operator name.
        level (`str`): Its preference level.
        strength (`float`): The strength it ran at.
        logp_drop (`float`): Mean over clips of log p(y|x) - log p(y|x~), in nats per clip.
        logp_drop_per_token (`float`): The summed drop divided by the number of reference tokens, in nats per token.
        fraction_logp_fell (`float`): Fraction of clips whose log p(y|x~) is strictly below log p(y|x).
        bleu4 (`float`, *optional*): Corpus BLEU-4 of the translations of the perturbed clips (`None` when BLEU was
            not computed).
        bleu4_drop (`float`, *optional*): Clean BLEU-4 minus `bleu4`.
    """

    operator: str
    level: str
    strength: float
    logp_drop: float
    logp_drop_per_token: float
    fraction_logp_fell: float
    bleu4: float | None = None
    bleu4_drop: float | None = None


@dataclass
class ProbeReport:
    """What `probe` measured: the clean baseline and one `ProbeRow` per operator and strength.

    Args:
        rows (`list[ProbeRow]`): Operators in the order they were probed, strengths in the order given.
        clean_logp (`float`): Mean log p(y|x) per clip on the clean inputs.
        clean_logp_per_token (`float`): Summed clean log p divided by the number of reference tokens.
        clean_bleu4 (`float`, *optional*): Corpus BLEU-4 on the clean inputs (`None` when BLEU was not computed).
        num_samples (`int`): Clips probed.
        num_tokens (`int`): Reference tokens over those clips (end-of-sequence tokens included).
        settings (`dict`): How the probe ran (seed, decoding, frames, language, BLEU signature, operator options).
    """

    rows: list[ProbeRow]
    clean_logp: float
    clean_logp_per_token: float
    clean_bleu4: float | None
    num_samples: int
    num_tokens: int
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-serialisable data."""
        return {
            "clean": {
                "logp": self.clean_logp,
                "logp_per_token": self.clean_logp_per_token,
                "bleu4": self.clean_bleu4,
                "num_samples": self.num_samples,
                "num_tokens": self.num_tokens,
            },
            "settings": self.settings,
            "rows": [asdict(row) for row in self.rows],
        }

    def to_json(self, path: str | os.PathLike) -> Path:
        """Writes `to_dict()` to `path` as JSON and returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    def to_markdown(self) -> str:
        """The clean baseline and a table with one line per operator and strength."""
        clean_bleu = "not computed" if self.clean_bleu4 is None else f"{self.clean_bleu4:.2f}"
        lines = [
            f"Clean input ({self.num_samples} clips, {self.num_tokens} reference tokens): "
            f"log p(y|x) = {self.clean_logp:.3f} per clip ({self.clean_logp_per_token:.4f} per token), "
            f"BLEU-4 = {clean_bleu}.",
            "",
            "| operator | level | strength | log p drop / clip | log p drop / token | clips whose log p fell "
            "| BLEU-4 | BLEU-4 drop |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in self.rows:
            bleu = "-" if row.bleu4 is None else f"{row.bleu4:.2f}"
            bleu_drop = "-" if row.bleu4_drop is None else f"{row.bleu4_drop:.2f}"
            lines.append(
                f"| {row.operator} | {row.level} | {row.strength:g} | {row.logp_drop:.3f} | "
                f"{row.logp_drop_per_token:.4f} | {row.fraction_logp_fell:.0%} | {bleu} | {bleu_drop} |"
            )
        signature = self.settings.get("bleu_signature")
        if signature:
            lines += ["", f"BLEU: {signature}"]
        return "\n".join(lines) + "\n"

    def plot(self, path: str | os.PathLike) -> Path:
        """Draws the log p drop and the BLEU-4 drop against strength, one line per operator coloured by its level,
        saves the figure to `path` (any format matplotlib writes, e.g. `.png`) and returns the path."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(13, 4.8), layout="constrained")
        logp_axis, bleu_axis = figure.subplots(1, 2)
        markers_used: dict[str, int] = {}
        for operator in dict.fromkeys(row.operator for row in self.rows):
            rows = sorted((row for row in self.rows if row.operator == operator), key=lambda row: row.strength)
            level = rows[0].level
            marker = MARKERS[markers_used.get(level, 0) % len(MARKERS)]
            markers_used[level] = markers_used.get(level, 0) + 1
            style = {"color": LEVEL_COLORS.get(level, "#7f7f7f"), "marker": marker, "label": f"{operator} ({level})"}
            strengths = [row.strength for row in rows]
            logp_axis.plot(strengths, [row.logp_drop for row in rows], **style)
            if self.clean_bleu4 is not None:
                bleu_axis.plot(strengths, [row.bleu4_drop for row in rows], **style)
        logp_axis.set(xlabel="strength", ylabel="log p(y|x) - log p(y|x~)  [nats per clip]", title="log p drop")
        bleu_axis.set(xlabel="strength", ylabel="BLEU-4 (clean) - BLEU-4 (perturbed)", title="BLEU-4 drop")
        if self.clean_bleu4 is None:
            bleu_axis.text(0.5, 0.5, "BLEU not computed", ha="center", va="center", transform=bleu_axis.transAxes)
        for axis in (logp_axis, bleu_axis):
            axis.axhline(0.0, color="black", linewidth=0.8)
            axis.grid(alpha=0.3)
        handles, labels = logp_axis.get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside right center", fontsize="small")
        path = Path(path)
        figure.savefig(path, dpi=120)
        return path


def probe(
    model,
    tokenizer,
    dataset,
    operators: Sequence[str] | None = None,
    strengths: Sequence[float] = DEFAULT_STRENGTHS,
    *,
    batch_size: int = 16,
    max_samples: int | None = None,
    num_beams: int = 1,
    max_new_tokens: int = 64,
    language: str = "en",
    seed: int = 0,
    max_frames: int = 256,
    confidence_threshold: float = 0.3,
    text_column: str = "text",
    max_target_length: int | None = 128,
    operator_options: Mapping[str, Mapping[str, Any]] | None = None,
    compute_bleu: bool = True,
    device: str | torch.device | None = None,
    show_progress: bool = True,
) -> ProbeReport:
    """Measure how much each perturbation operator damages the reference model's reading of a clip.

    For every operator and strength the clips are perturbed as the trainer perturbs rejected poses, and the report
    gives the fall of log p(y|x~) below log p(y|x) (per clip and per token, and the fraction of clips where it fell)
    and of corpus BLEU-4 (greedy or beam translations scored with `compute_slt_metrics`). The clean baseline is
    computed once.

    How to read it: a rejected sample teaches DPO something only if the reference model finds the reference text
    less likely given it. An operator whose log p drop is about 0 (or that lowers log p on about half the clips
    only) produces pairs with no signal: the model cannot tell chosen from rejected and the pair adds noise. A large
    drop that also costs BLEU means the operator destroys what the model reads the translation from: semantic
    damage, which is what rejected samples should carry. A huge drop already at the smallest strength points to
    damage that is trivially detectable (an impossible skeleton, a frozen clip) rather than a subtle change of
    meaning: DPO learns that distinction quickly and it may not transfer to real semantic drift; prefer strengths
    where the drop is clear but still grows with strength. Compare levels, too: local operators (one hand, one window)
    should cost less than global ones but still clearly more than zero.

    Args:
        model (`SignTranslationModel`): The reference model (e.g. the MLE checkpoint). Run in evaluation mode
            without gradients; its training mode is restored afterwards.
        tokenizer: Its tokenizer (appends the end-of-sequence token, as in training).
        dataset (`datasets.Dataset` or sequence of dicts): Pose rows with `keypoints` (T x 69 x C, source space),
            `confidence` (T x 69) and the reference text in `text_column`.
        operators (`Sequence[str]`, *optional*): Registered operator names. Defaults to every registered operator of
            the four collator levels, plus those of the attention-guided level when the model exposes its salience
            (`model.salience(pose, pose_mask, labels)`, computed on the clean clip).
        strengths (`Sequence[float]`, defaults to `(0.1, 0.3, 0.5, 1.0)`): Strengths in `[0, 1]`. Operators that
            ignore strength (`hand_swap`, `sequence_reversal`, `face_freeze`) give the same row at every strength.
        batch_size (`int`, defaults to 16): Clips per forward pass.
        max_samples (`int`, *optional*): Probe only the first `max_samples` rows.
        num_beams (`int`, defaults to 1): Beams of the translations scored by BLEU (1: greedy).
        max_new_tokens (`int`, defaults to 64): Longest translation generated.
        language (`str`, defaults to `"en"`): Target language for BLEU (`"zh"` scores characters).
        seed (`int`, defaults to 0): Seed of the operators' random draws. Every operator and strength gets its own
            `torch.Generator` seeded with it, so a row does not depend on which other operators were probed, and
            the same seed gives the same report.
        max_frames (`int`, defaults to 256): Frames kept per clip (uniform sampling, as at evaluation).
        confidence_threshold (`float`, defaults to 0.3): Points at or below this confidence are masked.
        text_column (`str`, defaults to `"text"`): Column of the reference translation.
        max_target_length (`int`, *optional*, defaults to 128): Reference tokens scored per clip (as the collator
            truncates in training); `None` scores the whole reference.
        operator_options (`Mapping[str, Mapping]`, *optional*): Options per operator name, e.g.
            `{"segment_shuffle": {"max_segments": 4}}`. The attention-guided operator defaults to `top_k=8`, the
            trainer's `attention_top_k`.
        compute_bleu (`bool`, defaults to `True`): Generate translations and score BLEU-4; `False` measures log p
            only (much faster).
        device (`str` or `torch.device`, *optional*): Where the model runs; defaults to the model's device.
        show_progress (`bool`, defaults to `True`): Show a tqdm progress bar.

    Returns:
        `ProbeReport`: Rows per operator and strength, with `.to_markdown()`, `.to_json(path)` and `.plot(path)`.

    Raises:
        `KeyError`: if an operator name is not registered.
        `ValueError`: if a strength is outside `[0, 1]`, the dataset is empty or lacks a column, or the model cannot
            give the salience an attention-guided operator needs.
    """
    from ..metrics import compute_slt_metrics

    has_salience = callable(getattr(model, "salience", None))
    configured = _configured_operators(operators, operator_options, has_salience)
    strengths = [check_strength(strength) for strength in strengths]
    if not strengths:
        raise ValueError("`strengths` is empty: give at least one strength in [0, 1].")
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be at least 1, got {batch_size}.")
    rows_of = _row_reader(dataset, text_column, max_samples)
    num_samples = _num_rows(dataset, max_samples)
    needs_salience = any(operator.requires_salience for operator in configured)

    collator = PoseCollator.for_model(
        model, max_frames=max_frames, confidence_threshold=confidence_threshold, frame_sampling="uniform"
    )
    device = torch.device(device) if device is not None else next(model.parameters()).device
    combos = [(operator, strength) for operator in configured for strength in strengths]
    generators = [torch.Generator().manual_seed(seed) for _ in combos]
    generate_kwargs = {"num_beams": num_beams, "max_new_tokens": max_new_tokens, "do_sample": False}

    clean_logps, token_counts, references, clean_predictions = [], [], [], []
    perturbed_logps: list[list[torch.Tensor]] = [[] for _ in combos]
    perturbed_predictions: list[list[str]] = [[] for _ in combos]

    def score(pose: torch.Tensor, pose_mask: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
        # One encoder pass serves both the teacher-forced scoring and generation.
        inputs_embeds, attention_mask = model.encode(pose, pose_mask)
        encoded = model.get_encoder()(inputs_embeds=inputs_embeds, attention_mask=attention_mask, return_dict=True)
        logits = model(encoder_outputs=encoded, attention_mask=attention_mask, labels=labels).logits
        logps = _sequence_log_probs(logits, labels).cpu()
        predictions = []
        if compute_bleu:
            # Last use of `encoded`: beam search expands it in place.
            generated = model.generate(encoder_outputs=encoded, attention_mask=attention_mask, **generate_kwargs)
            predictions = [text.strip() for text in tokenizer.batch_decode(generated, skip_special_tokens=True)]
        return logps, predictions

    was_training = model.training
    model.eval()
    num_batches = math.ceil(num_samples / batch_size)
    progress = tqdm(total=num_batches * (1 + len(combos)), desc="probe", unit="pass", disable=not show_progress)
    try:
        with torch.no_grad():
            for start in range(0, num_samples, batch_size):
                examples = rows_of(start, min(start + batch_size, num_samples))
                texts = [example[text_column] for example in examples]
                labels = tokenize_targets(tokenizer, texts, max_target_length).to(device)
                source = collator.pad(examples)
                clean = {name: value.to(device) for name, value in collator.encode(source).items()}
                logps, predictions = score(clean["pose"], clean["pose_mask"], labels)
                # Salience comes from a pass of its own: it needs eager attention, whose rounding differs from the
                # kernel the log-likelihoods are computed with, and a clean/perturbed comparison must use one kernel.
                salience = model.salience(clean["pose"], clean["pose_mask"], labels).cpu() if needs_salience else None
                clean_logps.append(logps)
                token_counts.append((labels != -100).sum(-1).cpu())
                references.extend(texts)
                clean_predictions.extend(predictions)
                progress.update()

                for index, (operator, strength) in enumerate(combos):
                    extra = {"salience": salience} if operator.requires_salience else {}
                    perturbed = operator(
                        source.keypoints,
                        source.mask,
                        source.lengths,
                        generators[index],
                        confidence=source.confidence,
                        strength=strength,
                        **extra,
                    )
                    inputs = collator.encode(
                        PoseBatch(perturbed.keypoints, perturbed.mask, source.lengths, perturbed.confidence)
                    )
                    logps, predictions = score(inputs["pose"].to(device), inputs["pose_mask"].to(device), labels)
                    perturbed_logps[index].append(logps)
                    perturbed_predictions[index].extend(predictions)
                    progress.update()
    finally:
        progress.close()
        model.train(was_training)

    clean_logp = torch.cat(clean_logps).double()
    num_tokens = int(torch.cat(token_counts).sum())
    clean_bleu4, signature = None, None
    if compute_bleu:
        clean_scores = compute_slt_metrics(clean_predictions, references, language=language)
        clean_bleu4, signature = float(clean_scores["bleu4"]), str(clean_scores["signature"])

    rows = []
    for index, (operator, strength) in enumerate(combos):
        drop = clean_logp - torch.cat(perturbed_logps[index]).double()
        bleu4 = bleu4_drop = None
        if compute_bleu:
            bleu4 = float(compute_slt_metrics(perturbed_predictions[index], references, language=language)["bleu4"])
            bleu4_drop = clean_bleu4 - bleu4
        rows.append(
            ProbeRow(
                operator=operator.name,
                level=operator.level,
                strength=strength,
                logp_drop=float(drop.mean()),
                logp_drop_per_token=float(drop.sum() / max(num_tokens, 1)),
                fraction_logp_fell=float((drop > 0).double().mean()),
                bleu4=bleu4,
                bleu4_drop=bleu4_drop,
            )
        )
    settings = {
        "seed": seed,
        "num_beams": num_beams,
        "max_new_tokens": max_new_tokens,
        "max_frames": max_frames,
        "confidence_threshold": confidence_threshold,
        "pose_normalization": collator.normalization,
        "max_target_length": max_target_length,
        "language": language,
        "operator_options": {operator.name: dict(operator.options) for operator in configured if operator.options},
        "bleu_signature": signature,
    }
    return ProbeReport(
        rows=rows,
        clean_logp=float(clean_logp.mean()),
        clean_logp_per_token=float(clean_logp.sum() / max(num_tokens, 1)),
        clean_bleu4=clean_bleu4,
        num_samples=num_samples,
        num_tokens=num_tokens,
        settings=settings,
    )


def _configured_operators(
    operators: Sequence[str] | None, operator_options: Mapping[str, Mapping[str, Any]] | None, has_salience: bool
) -> list[ConfiguredOperator]:
    """The operators to probe, with their options fixed (and checked)."""
    if operators is None:
        levels = [level for level in LEVELS if level not in IN_STEP_LEVELS or has_salience]
        operators = [name for level in levels for name in list_operators(level)]
    elif isinstance(operators, str):
        operators = [operators]
    operators = list(dict.fromkeys(operators))
    if not operators:
        raise ValueError("`operators` is empty: name at least one registered operator (see `list_operators()`).")
    options = {name: dict(value) for name, value in (operator_options or {}).items()}
    unused = [name for name in options if name not in operators]
    if unused:
        raise ValueError(f"`operator_options` names operators that are not probed: {', '.join(unused)}.")
    configured = []
    for name in operators:
        defaults = {"top_k": ATTENTION_TOP_K} if name == "attention_guided" else {}
        operator = build_operator(name, **{**defaults, **options.get(name, {})})
        if operator.requires_salience and not has_salience:
            raise ValueError(
                f"Operator {name!r} needs the model's cross-attention salience, but the model "
                "has no `salience` method (use a SignTranslationModel, or leave this operator out)."
            )
        configured.append(operator)
    return configured


def _num_rows(dataset, max_samples: int | None) -> int:
    num_rows = len(dataset)
    if max_samples is not None:
        if max_samples < 1:
            raise ValueError(f"`max_samples` must be at least 1, got {max_samples}.")
        num_rows = min(num_rows, max_samples)
    if num_rows == 0:
        raise ValueError("The probe dataset is empty: give it pose rows with `keypoints`, `confidence` and text.")
    return num_rows


def _row_reader(dataset, text_column: str, max_samples: int | None):
    """A function `(start, end) -> list of row dicts` over the dataset, reading only the columns the probe needs."""
    columns = ["keypoints", "confidence", text_column]
    column_names = getattr(dataset, "column_names", None)
    if column_names is not None:
        missing = [name for name in columns if name not in column_names]
        if missing:
            raise ValueError(
                f"The probe dataset lacks column(s) {', '.join(missing)}; it has {', '.join(column_names)}. "
                "Pass `text_column` if the reference text lives elsewhere."
            )
        # Numpy format hands the arrays over without building nested Python lists.
        table = dataset.select_columns(columns).with_format("numpy")

        def read(start: int, end: int) -> list[dict[str, Any]]:
            batch = table[start:end]
            return [
                {
                    "keypoints": batch["keypoints"][i],
                    "confidence": batch["confidence"][i],
                    text_column: str(batch[text_column][i]),
                }
                for i in range(end - start)
            ]

        return read

    def read_rows(start: int, end: int) -> list[dict[str, Any]]:
        rows = [dataset[i] for i in range(start, end)]
        for index, row in enumerate(rows, start=start):
            missing = [name for name in columns if name not in row]
            if missing:
                raise ValueError(f"Probe dataset row {index} lacks {', '.join(missing)}.")
        return rows

    return read_rows


def _sequence_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum of the label tokens' log-probabilities per row (`-100` labels left out), in float32."""
    label_mask = labels != -100
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    per_token = log_probs.gather(-1, labels.masked_fill(~label_mask, 0)[..., None])[..., 0]
    return (per_token * label_mask).sum(-1)


__all__ = ["ATTENTION_TOP_K", "DEFAULT_STRENGTHS", "ProbeReport", "ProbeRow", "probe"]
