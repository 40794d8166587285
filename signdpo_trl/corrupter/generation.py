"""Sampling the learned corrupter's wrong translations into the `rejected_texts` column, once, before SignDPO.

The language level of SignDPO draws one of a row's `rejected_texts` at every step ([`LanguageHook`]); rows without
any fall back to a rule-based corruption. Writing the column beforehand, cached on disk, keeps the corrupter out of
the DPO step: the step costs the same with a learned corrupter as with the rules.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
from datasets import Dataset
from tqdm.auto import tqdm

from ._cache import ColumnCache, with_text_column
from .corrupter_config import CAUSAL_PROMPT_TEMPLATE, SEQ2SEQ_PROMPT_TEMPLATE
from .corrupter_trainer import corrupter_inputs
from .mining import _EMPTY, _ERROR, _SAME, _TOO_CLOSE, _check_threshold, _select_errors, check_references


logger = logging.getLogger(__name__)

__all__ = ["GenerationReport", "generate_rejected_texts"]

_FORMAT_VERSION = 2
_CONFIG_FILE = "corrupter_generation.json"


@dataclass
class GenerationReport:
    """What [`generate_rejected_texts`] wrote.

    Args:
        num_rows (`int`): Rows of the dataset.
        num_references (`int`): Distinct references decoded (rows sharing a reference share its candidates).
        num_rows_with_candidates (`int`): Rows with at least one kept candidate; the others fall back to the rules
            in SignDPO's language level.
        num_kept (`int`): Candidates kept over all rows.
        num_sampled (`int`): Candidates sampled (`num_references * num_candidates`).
        num_same (`int`), num_too_close (`int`), num_empty (`int`): Sampled candidates dropped because they equal the
            reference up to case and punctuation, are near-copies (chrF at or above the threshold) or are empty.
        from_cache (`bool`, defaults to `False`): Whether the result was loaded from `cache_dir`.
    """

    num_rows: int
    num_references: int
    num_rows_with_candidates: int
    num_kept: int
    num_sampled: int
    num_same: int
    num_too_close: int
    num_empty: int
    from_cache: bool = False

    @property
    def fraction_rows_with_candidates(self) -> float:
        """Share of the rows that got at least one learned rejected text (0 for an empty dataset)."""
        return self.num_rows_with_candidates / self.num_rows if self.num_rows else 0.0


def generate_rejected_texts(
    model: torch.nn.Module,
    tokenizer,
    dataset: Dataset,
    *,
    text_column: str = "text",
    output_column: str = "rejected_texts",
    num_candidates: int = 8,
    temperature: float = 1.0,
    top_p: float = 0.95,
    max_new_tokens: int = 64,
    chrf_threshold: float = 90.0,
    prompt_template: str | None = None,
    max_length: int = 64,
    language: str = "en",
    batch_size: int = 64,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    show_progress: bool = True,
    return_report: bool = False,
) -> Dataset | tuple[Dataset, GenerationReport]:
    """Samples `num_candidates` wrong translations of every row's reference and keeps those that change its meaning.

    The references are decoded in batches, on the model's device, in eval mode and without gradients; each distinct
    reference once (rows with the same reference get the same candidates). Sampling is seeded (`seed`), so a call is
    reproducible; torch's global random state is left as it was. The candidates of a reference are deduplicated by
    their normalised form and filtered with the rule of [`is_meaning_change`]: never the reference itself, never a
    case, punctuation or whitespace variant of it, never a near-copy above `chrf_threshold`.

    With `cache_dir`, the column is saved there (`Dataset.save_to_disk`) with a `corrupter_generation.json` holding
    the parameters and fingerprints of the dataset, the model's weights and the tokenizer; a later call with the same
    inputs loads it instead of decoding again, any difference recomputes and replaces it.

    Args:
        model (`PreTrainedModel` or `peft.PeftModel`): The corrupter (see [`CorrupterTrainer`], [`load_corrupter`]).
        tokenizer: Its tokenizer.
        dataset (`datasets.Dataset`): Rows with their reference translation in `text_column` (pose rows included;
            only the text column is read).
        text_column (`str`, *optional*, defaults to `"text"`): Column of the references.
        output_column (`str`, *optional*, defaults to `"rejected_texts"`): Column written, a list of strings per row
            (replaced if present), the one SignDPO's language level reads.
        num_candidates (`int`, *optional*, defaults to `8`): Candidates sampled per reference.
        temperature (`float`, *optional*, defaults to `1.0`), top_p (`float`, *optional*, defaults to `0.95`):
            Sampling settings.
        max_new_tokens (`int`, *optional*, defaults to `64`): Longest candidate.
        chrf_threshold (`float`, *optional*, defaults to `90.0`): See [`is_meaning_change`].
        prompt_template (`str`, *optional*): The corrupter's input (`{reference}`); default: the one it was trained
            with by default for its architecture (`CorrupterTrainer.prompt_template`).
        max_length (`int`, *optional*, defaults to `64`): Longest reference, in tokens.
        language (`str`, *optional*, defaults to `"en"`): `"zh"` compares characters.
        batch_size (`int`, *optional*, defaults to `64`): References decoded together.
        seed (`int`, *optional*, defaults to `0`): Seed of the sampling.
        cache_dir (`str` or `os.PathLike`, *optional*): Directory of the cached result (new, empty or an earlier
            cache: its contents are replaced).
        show_progress (`bool`, *optional*, defaults to `True`): Show a progress bar.
        return_report (`bool`, *optional*, defaults to `False`): Also return a [`GenerationReport`].

    Returns:
        `datasets.Dataset`: The dataset, same rows in the same order, with `output_column`; or
        `(dataset, GenerationReport)` with `return_report=True`.
    """
    _check_threshold(chrf_threshold)
    for name, value in (
        ("num_candidates", num_candidates),
        ("batch_size", batch_size),
        ("max_new_tokens", max_new_tokens),
    ):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")
    if not isinstance(dataset, Dataset):
        raise TypeError(f"generate_rejected_texts needs a `datasets.Dataset`, got {type(dataset).__name__}.")
    if text_column not in dataset.column_names:
        raise ValueError(f"The dataset has no column {text_column!r} (it has {dataset.column_names}).")
    references = list(dataset[text_column])
    check_references(references, text_column, language, "a wrong translation is written from a reference")
    is_encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    if prompt_template is None:
        prompt_template = SEQ2SEQ_PROMPT_TEMPLATE if is_encoder_decoder else CAUSAL_PROMPT_TEMPLATE
    parameters = {
        "num_candidates": num_candidates,
        "temperature": float(temperature),
        "top_p": float(top_p),
        "max_new_tokens": max_new_tokens,
        "chrf_threshold": float(chrf_threshold),
        "prompt_template": prompt_template,
        "max_length": max_length,
        "language": language,
        "seed": seed,
        "text_column": text_column,
        "output_column": output_column,
        # The batch changes the random stream the candidates are drawn from, so it is part of the key.
        "batch_size": batch_size,
    }
    cache = ColumnCache(cache_dir, _CONFIG_FILE, "generate_rejected_texts", _FORMAT_VERSION)
    cached = cache.lookup(dataset, model, tokenizer, parameters, output_column)
    if cached is not None:
        generated, stored_report = cached
        report = GenerationReport(**stored_report, from_cache=True)
        return (generated, report) if return_report else generated

    distinct = list(dict.fromkeys(references))
    counts = dict.fromkeys((_EMPTY, _SAME, _TOO_CLOSE, _ERROR), 0)
    candidates_of: dict[str, list[str]] = {}
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    devices = [device] if device.type == "cuda" else []
    try:
        progress = tqdm(
            total=len(distinct), desc="Sampling wrong translations", unit="text", disable=not show_progress
        )
        with torch.random.fork_rng(devices=devices), torch.no_grad(), progress:
            torch.manual_seed(seed)
            for start in range(0, len(distinct), batch_size):
                batch_references = distinct[start : start + batch_size]
                inputs = corrupter_inputs(tokenizer, batch_references, prompt_template, is_encoder_decoder, max_length)
                inputs = {name: tensor.to(device) for name, tensor in inputs.items()}
                generated = model.generate(
                    **inputs,
                    do_sample=True,
                    temperature=temperature,
                    top_p=top_p,
                    num_return_sequences=num_candidates,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                )
                if not is_encoder_decoder:
                    generated = generated[:, inputs["input_ids"].shape[1] :]  # the continuation only
                texts = [text.strip() for text in tokenizer.batch_decode(generated.cpu(), skip_special_tokens=True)]
                for offset, reference in enumerate(batch_references):
                    sampled = texts[offset * num_candidates : (offset + 1) * num_candidates]
                    candidates_of[reference] = _select_errors(sampled, reference, chrf_threshold, language, counts)
                progress.update(len(batch_references))
    finally:
        model.train(was_training)

    rejected = [candidates_of[reference] for reference in references]
    report = GenerationReport(
        num_rows=len(dataset),
        num_references=len(distinct),
        num_rows_with_candidates=sum(1 for texts in rejected if texts),
        num_kept=sum(len(texts) for texts in rejected),
        num_sampled=sum(counts.values()),
        num_same=counts[_SAME],
        num_too_close=counts[_TOO_CLOSE],
        num_empty=counts[_EMPTY],
    )
    generated = with_text_column(dataset, output_column, rejected)
    cache.save(generated, output_column, report)
    logger.info(
        f"Kept {report.num_kept} of {report.num_sampled} sampled wrong translations; "
        f"{report.num_rows_with_candidates} of {report.num_rows} rows have at least one."
    )
    return (generated, report) if return_report else generated
