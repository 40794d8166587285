"""The loss maths of SignDPO, as pure functions of log-probabilities (no model, no trainer state).

Used by the trainer's fused step, the perturbation probe and the benchmarks alike, in the spirit of torchtune's
`rlhf/loss/dpo.py`: each loss returns per-sequence losses together with the chosen and rejected rewards, and the
caller decides how to weight and reduce them.

Conventions. For a pair (chosen c, rejected r), `chosen_logratios = log pi(c) - log pi_ref(c)` and
`rejected_logratios = log pi(r) - log pi_ref(r)`, each a sum over the sequence's tokens. The DPO margin is
`h = beta * (chosen_logratios - rejected_logratios)`; DPOP subtracts `lambda * max(0, -chosen_logratios)` inside it.
Every preference loss is per sequence (a function of summed log-ratios); the NLL anchor is either per token (TRL's
`"sft"` term, a mean over tokens) or per sequence (a sum over each sequence's tokens, on the scale of the
preference terms).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from trl.trainer.utils import selective_log_softmax


PREFERENCE_LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust")
NLL_LOSS_TYPE = "sft"
NLL_NORMALIZATIONS = ("per_token", "per_sequence")
LEVEL_REDUCTIONS = ("sum", "mean")


@dataclass
class PreferenceLossOutput:
    """Per-sequence losses of one level and the rewards behind them (all `B`).

    Attributes:
        losses (`torch.Tensor`): Per-pair loss.
        chosen_rewards (`torch.Tensor`): `beta * chosen_logratios`.
        rejected_rewards (`torch.Tensor`): `beta * rejected_logratios`.
    """

    losses: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor


# -- log-probabilities and row layout -------------------------------------------------------------------------------


def sequence_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of the label tokens' log-probabilities per row, and the number of label tokens per row (`-100` = none)."""
    label_mask = labels != -100
    per_token = selective_log_softmax(logits, labels.masked_fill(~label_mask, 0))
    return (per_token * label_mask).sum(-1), label_mask.sum(-1)


def uniform_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per row, the sum over label positions of the mean log-probability over the vocabulary: the label-smoothing
    term of MLE (transformers' `LabelSmoother`), so an NLL anchor can be the very loss the reference was trained on."""
    label_mask = labels != -100
    return (torch.log_softmax(logits.float(), dim=-1).mean(-1) * label_mask).sum(-1)


def pad_labels(label_blocks: list[torch.Tensor]) -> torch.Tensor:
    """Concatenates label blocks of different lengths along the batch, padding with -100."""
    length = max(block.shape[1] for block in label_blocks)
    return torch.cat([F.pad(block, (0, length - block.shape[1]), value=-100) for block in label_blocks])


def fused_rows(
    pose: torch.Tensor,
    pose_mask: torch.Tensor,
    labels: torch.Tensor,
    rejected_poses: list[torch.Tensor],
    rejected_labels: list[torch.Tensor],
    include_chosen: bool,
) -> dict[str, torch.Tensor]:
    """Model inputs for a block of rows, each distinct pose encoded once.

    Rows are: (if `include_chosen`) the chosen pose with the chosen text, each rejected pose with the chosen text,
    then the chosen pose with each rejected text. `encoder_row_index` maps every decoder row to its encoded pose, so
    the text-side rows reuse the chosen pose's encoding instead of encoding it again.
    """
    batch_size = pose.shape[0]
    poses = ([pose] if include_chosen else []) + list(rejected_poses)
    chosen_slot = 0 if include_chosen else None
    if rejected_labels and chosen_slot is None:
        chosen_slot = len(poses)
        poses.append(pose)
    num_text_rows = len(rejected_poses) + int(include_chosen)
    rows = torch.arange(batch_size, device=pose.device)
    encoder_row_index = torch.cat(
        [torch.arange(num_text_rows * batch_size, device=pose.device)]
        + [rows + chosen_slot * batch_size for _ in rejected_labels]
    )
    return {
        "pose": torch.cat(poses),
        "pose_mask": pose_mask.repeat(len(poses), 1),
        "labels": pad_labels([labels] * num_text_rows + list(rejected_labels)),
        "encoder_row_index": encoder_row_index,
    }


def generated_to_labels(sequences: torch.Tensor, eos_token_id: int, pad_token_id: int) -> torch.Tensor:
    """Labels (`-100` past the end) from `generate` output, which starts with the decoder start token.

    Everything after a row's first end-of-sequence token is masked; the end-of-sequence token itself is kept, as in
    the tokenised references.
    """
    tokens = sequences[:, 1:]
    is_eos = tokens == eos_token_id
    after_eos = (is_eos.cumsum(-1) - is_eos.long()) > 0
    return tokens.masked_fill(after_eos | ((tokens == pad_token_id) & ~is_eos), -100)


def same_sequences(labels: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """`B` bool: rows whose label sequences are identical (padding ignored)."""
    length = max(labels.shape[1], other.shape[1])
    labels = F.pad(labels, (0, length - labels.shape[1]), value=-100)
    other = F.pad(other, (0, length - other.shape[1]), value=-100)
    return (labels == other).all(-1)


# -- losses -----------------------------------------------------------------------------------------------------------


def preference_loss(
    chosen_logratios: torch.Tensor,
    rejected_logratios: torch.Tensor,
    *,
    loss_type: str = "sigmoid",
    beta: float | torch.Tensor = 0.1,
    label_smoothing: float = 0.0,
    chosen_tokens: torch.Tensor | None = None,
    rejected_tokens: torch.Tensor | None = None,
    dpop_lambda: float = 0.0,
) -> PreferenceLossOutput:
    """TRL's DPO loss forms of one level's pairs, per sequence.

    Args:
        chosen_logratios, rejected_logratios (`torch.Tensor`): `B` summed log-ratios policy / reference.
        loss_type (`str`, defaults to `"sigmoid"`): `"sigmoid"` (DPO), `"hinge"` (SLiC), `"ipo"` (IPO, on per-token
            averaged log-ratios as TRL computes it; needs the token counts), `"robust"` (rDPO, with
            `label_smoothing` the assumed flip rate).
        beta (`float` or `torch.Tensor`, defaults to `0.1`): Temperature; a `B` tensor gives per-pair temperatures.
        label_smoothing (`float`, defaults to `0.0`): Flip rate of the robust loss (conservative DPO for sigmoid).
        chosen_tokens, rejected_tokens (`torch.Tensor`, *optional*): `B` token counts, for IPO.
        dpop_lambda (`float`, defaults to `0.0`): DPOP (Pal et al., 2024): `lambda * max(0, -chosen_logratios)`
            is subtracted inside the margin, penalising a chosen likelihood that falls below the reference's.
    """
    chosen_term = chosen_logratios - dpop_lambda * torch.relu(-chosen_logratios) if dpop_lambda else chosen_logratios
    delta = chosen_term - rejected_logratios
    if loss_type == "sigmoid":
        losses = -(1 - label_smoothing) * F.logsigmoid(beta * delta) - label_smoothing * F.logsigmoid(-beta * delta)
    elif loss_type == "hinge":
        losses = torch.relu(1 - beta * delta)
    elif loss_type == "ipo":
        if chosen_tokens is None or rejected_tokens is None:
            raise ValueError("The 'ipo' loss averages log-ratios per token: pass chosen_tokens and rejected_tokens.")
        per_token = chosen_term / chosen_tokens.clamp(min=1) - rejected_logratios / rejected_tokens.clamp(min=1)
        losses = (per_token - 1 / (2 * beta)) ** 2
    elif loss_type == "robust":
        clean = -(1 - label_smoothing) * F.logsigmoid(beta * delta)
        flipped = -label_smoothing * F.logsigmoid(-beta * delta)
        losses = (clean - flipped) / (1 - 2 * label_smoothing)
    else:
        raise ValueError(f"Unknown preference loss {loss_type!r}; choose among {list(PREFERENCE_LOSS_TYPES)}.")
    return PreferenceLossOutput(losses, beta * chosen_logratios.detach(), beta * rejected_logratios.detach())


def chosen_anchor_loss(chosen_logratios: torch.Tensor, beta: float | torch.Tensor = 0.1) -> torch.Tensor:
    """mDPO's anchor on the chosen reward, per sequence: `-log sigmoid(beta * (log pi(c) - log pi_ref(c)))`.

    It is smallest when the chosen likelihood rises above the reference's, so the preference terms cannot win by
    pushing both sides down.
    """
    return -F.logsigmoid(beta * chosen_logratios)


def nll_loss(
    chosen_logps: torch.Tensor,
    chosen_tokens: torch.Tensor,
    normalization: str = "per_token",
    label_smoothing: float = 0.0,
    uniform_logps: torch.Tensor | None = None,
) -> torch.Tensor:
    """The NLL anchor on the chosen texts, a scalar.

    Args:
        chosen_logps (`torch.Tensor`): `B` summed log-probabilities of the chosen texts.
        chosen_tokens (`torch.Tensor`): `B` token counts.
        label_smoothing (`float`, defaults to `0.0`): Label smoothing epsilon, as in MLE training: the anchor is then
            `(1 - epsilon) * NLL + epsilon * (cross-entropy to the uniform distribution)`; needs `uniform_logps`.
        uniform_logps (`torch.Tensor`, *optional*): `B` outputs of [`uniform_log_probs`] for the chosen rows.
        normalization (`str`, defaults to `"per_token"`): `"per_token"`: the mean over all tokens of the batch
            (TRL's `"sft"` term, RPO); `"per_sequence"`: the mean over sequences of each sequence's summed NLL, the
            scale of the per-sequence preference terms (their log-ratios are sums over tokens too).
    """
    if label_smoothing:
        if uniform_logps is None:
            raise ValueError("A label-smoothed NLL needs uniform_logps (see uniform_log_probs).")
        chosen_logps = (1 - label_smoothing) * chosen_logps + label_smoothing * uniform_logps
    if normalization == "per_token":
        return -(chosen_logps.sum() / chosen_tokens.sum().clamp(min=1))
    if normalization == "per_sequence":
        return -chosen_logps.mean()
    raise ValueError(f"Unknown NLL normalization {normalization!r}; choose among {list(NLL_NORMALIZATIONS)}.")


def reference_margin(ref_chosen_logps: torch.Tensor, ref_rejected_logps: torch.Tensor) -> torch.Tensor:
    """How far the reference model already separates a pair: `log pi_ref(c) - log pi_ref(r)`, per pair."""
    return ref_chosen_logps - ref_rejected_logps


def band_weights(
    margin: torch.Tensor,
    low: float | None = None,
    high: float | None = None,
    outside_weight: float = 0.0,
) -> torch.Tensor:
    """Per-pair weights of a difficulty band on the reference margin: 1 inside `[low, high]`, `outside_weight`
    outside (0 drops the pair). Pairs above `high` are ones the reference already separates (nothing to learn);
    pairs below `low` are nuisance the reference cannot tell from the clean clip."""
    inside = torch.ones_like(margin, dtype=torch.bool)
    if low is not None:
        inside &= margin >= low
    if high is not None:
        inside &= margin <= high
    return torch.where(inside, 1.0, float(outside_weight)).to(margin.dtype)


def weighted_batch_mean(losses: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """`sum(weights * losses) / B`: a dropped pair (weight 0) adds nothing, and the level's share of the total loss
    shrinks with the share of pairs it keeps (no re-scaling of the few that remain)."""
    if weights is None:
        return losses.mean()
    return (weights * losses).sum() / max(losses.shape[0], 1)


__all__ = [
    "LEVEL_REDUCTIONS",
    "NLL_LOSS_TYPE",
    "NLL_NORMALIZATIONS",
    "PREFERENCE_LOSS_TYPES",
    "PreferenceLossOutput",
    "band_weights",
    "chosen_anchor_loss",
    "fused_rows",
    "generated_to_labels",
    "nll_loss",
    "pad_labels",
    "preference_loss",
    "reference_margin",
    "same_sequences",
    "sequence_log_probs",
    "uniform_log_probs",
    "weighted_batch_mean",
]
