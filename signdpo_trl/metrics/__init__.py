"""Evaluation for sign language translation: SLT-literature scores and SynthSign probe accuracy."""

from pathlib import Path

from signdpo_trl.metrics.probes import PROBE_KINDS, probe_accuracy, probe_passes
from signdpo_trl.metrics.slt import MAX_BLEU_ORDER, compute_slt_metrics


SLT_METRIC_PATH = str(Path(__file__).resolve().parent / "slt_metric")
"""Directory of the `evaluate` module; `evaluate.load(SLT_METRIC_PATH)` works offline."""

REPORTED_METRICS = ("bleu1", "bleu4", "rouge_l", "chrf", *(f"{kind}_accuracy" for kind in PROBE_KINDS))
"""The scores a study reports, as their keys in the metric dicts (without prefix)."""

BEFORE_AFTER_METRICS = (
    *(f"bleu{order}" for order in range(1, MAX_BLEU_ORDER + 1)),
    *REPORTED_METRICS[REPORTED_METRICS.index("rouge_l") :],
)
"""The scores of a before/after table (the demo's, a model card's): BLEU-1..4, ROUGE-L, chrF and the probes."""

__all__ = [
    "BEFORE_AFTER_METRICS",
    "PROBE_KINDS",
    "REPORTED_METRICS",
    "SLT_METRIC_PATH",
    "compute_slt_metrics",
    "probe_accuracy",
    "probe_passes",
]
