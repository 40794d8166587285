"""Mining the translation model's own errors: n-best hypotheses that are wrong in meaning become rejected texts.

Before SignDPO training, the MLE reference model translates the training clips with beam search. Its n-best
hypotheses that say something else than the reference are the errors this very model makes, so they are the most
informative rejected side for the language preference level (`LanguageHook` reads them from the `rejected_texts`
column) and the training pairs of a learned corrupter.

A hypothesis counts as an error when it differs from the reference in more than case, punctuation and whitespace
*and* its sentence-level chrF against the reference is below a threshold (see [`is_meaning_change`]); near-copies
above the threshold are more likely paraphrases or inflection slips than meaning changes.

Example:

```python
>>> from signdpo_trl.corrupter import mine_translation_errors
>>> train, report = mine_translation_errors(
...     model, tokenizer, train, num_beams=5, num_candidates=4, cache_dir="outputs/mined", return_report=True
... )
>>> report.mean_errors_per_row
1.7
```
"""

from __future__ import annotations

import functools
import logging
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from datasets import Dataset
from sacrebleu.metrics import CHRF
from tqdm.auto import tqdm

from ..data.collation import PoseCollator
from ..metrics.slt import _is_chinese
from ._cache import ColumnCache, with_text_column


logger = logging.getLogger(__name__)

__all__ = ["MiningReport", "is_meaning_change", "mine_translation_errors"]

# Bumped whenever the selection or the cache layout changes, so that stale caches are recomputed.
_FORMAT_VERSION = 2
_CONFIG_FILE = "mining_config.json"
_POSE_COLUMNS = ("keypoints", "confidence")

# Verdicts of `_judge`, in the order they are tested.
_EMPTY, _SAME, _TOO_CLOSE, _ERROR = "empty", "same", "too_close", "error"


@dataclass
class MiningReport:
    """What `mine_translation_errors` found.

    Args:
        num_rows (`int`): Rows of the dataset.
        num_rows_with_errors (`int`): Rows with at least one mined error.
        num_errors (`int`): Mined errors over all rows (after deduplication).
        num_hypotheses (`int`): Hypotheses decoded (`num_rows * num_candidates`).
        num_too_close (`int`): Hypotheses that differ from their reference in wording but were left out because their
            chrF reached `chrf_threshold`; many of them suggest lowering the threshold.
        chrf_threshold (`float`): The chrF threshold used.
        from_cache (`bool`, defaults to `False`): Whether the result was loaded from `cache_dir` instead of decoded.
    """

    num_rows: int
    num_rows_with_errors: int
    num_errors: int
    num_hypotheses: int
    num_too_close: int
    chrf_threshold: float
    from_cache: bool = False

    @property
    def mean_errors_per_row(self) -> float:
        """Mined errors per row, rows without any included (0 for an empty dataset)."""
        return self.num_errors / self.num_rows if self.num_rows else 0.0

    @property
    def fraction_rows_with_errors(self) -> float:
        """Share of the rows with at least one mined error (0 for an empty dataset)."""
        return self.num_rows_with_errors / self.num_rows if self.num_rows else 0.0


def _normalize(text: str, language: str) -> str:
    """The form two translations are compared in: NFKC, case-folded, without punctuation, whitespace collapsed.

    NFKC maps full-width forms (`，`, `？`, full-width letters) to their ASCII counterparts first. Punctuation is
    deleted rather than replaced by a space, so that "don't" and "dont" compare equal. Chinese keeps no whitespace at
    all: it is compared character by character, and spaces between characters carry no meaning there.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(char for char in text if not unicodedata.category(char).startswith("P"))
    return "".join(text.split()) if _is_chinese(language) else " ".join(text.split())


@functools.cache
def _chrf() -> CHRF:
    # chrF2 on character 6-grams, as the corpus chrF of `compute_slt_metrics`; whitespace is ignored, which is also
    # the character-level comparison Chinese needs.
    return CHRF()


def _check_threshold(chrf_threshold: float):
    if not 0.0 <= chrf_threshold <= 100.0:
        raise ValueError(
            f"chrf_threshold is a chrF score between 0 and 100, got {chrf_threshold}; the default 90.0 keeps "
            "hypotheses whose chrF against the reference is below 90."
        )


def _judge(hypothesis: str, normalized_reference: str, chrf_threshold: float, language: str) -> tuple[str, str]:
    """The verdict on one hypothesis (`_EMPTY`, `_SAME`, `_TOO_CLOSE` or `_ERROR`) and its normalised form."""
    normalized = _normalize(hypothesis, language)
    if not normalized:
        return _EMPTY, normalized
    if normalized == normalized_reference:
        return _SAME, normalized
    # Scored on the normalised forms: case and punctuation, which do not change the meaning, must not lower the score
    # of a hypothesis that is otherwise a near-copy.
    score = _chrf().sentence_score(normalized, [normalized_reference]).score
    return (_ERROR if score < chrf_threshold else _TOO_CLOSE), normalized


def is_meaning_change(hypothesis: str, reference: str, *, chrf_threshold: float = 90.0, language: str = "en") -> bool:
    """Whether a hypothesis says something else than its reference translation.

    Both texts are normalised (NFKC, case-folded, punctuation removed, CJK punctuation included, whitespace collapsed;
    for Chinese all whitespace removed, so the characters are compared). The hypothesis is a meaning change when its
    normalised form differs from the reference's *and* its sentence-level chrF (sacrebleu's chrF2, computed on the
    normalised forms) is below `chrf_threshold`. An empty hypothesis (or one made only of punctuation) is never a
    meaning change: it is not a fluent translation.

    Args:
        hypothesis (`str`): A candidate translation.
        reference (`str`): The reference translation; must not be empty.
        chrf_threshold (`float`, *optional*, defaults to `90.0`): Hypotheses with a chrF at or above it (0-100) count
            as near-copies, not as meaning changes.
        language (`str`, *optional*, defaults to `"en"`): Target language; `"zh"` compares characters, any other
            language words.

    Returns:
        `bool`: True when the hypothesis is a fluent candidate that differs from the reference in meaning.

    Raises:
        `TypeError`: If a text is not a string.
        `ValueError`: If the reference is empty or `chrf_threshold` is outside 0-100.
    """
    for name, text in (("hypothesis", hypothesis), ("reference", reference)):
        if not isinstance(text, str):
            raise TypeError(
                f"`{name}` must be a string, got {type(text).__name__}; decode token ids with "
                "`tokenizer.batch_decode(..., skip_special_tokens=True)` first."
            )
    _check_threshold(chrf_threshold)
    normalized_reference = _normalize(reference, language)
    if not normalized_reference:
        raise ValueError(
            f"The reference {reference!r} is empty once punctuation and whitespace are removed: a meaning change "
            "needs a reference meaning. Drop rows without a reference translation."
        )
    return _judge(hypothesis, normalized_reference, chrf_threshold, language)[0] == _ERROR


def _decode(tokenizer, token_ids: torch.Tensor) -> list[str]:
    token_ids = token_ids.cpu()
    token_ids = token_ids.masked_fill(token_ids < 0, tokenizer.pad_token_id)
    return [text.strip() for text in tokenizer.batch_decode(token_ids, skip_special_tokens=True)]


def _validate(
    dataset: Dataset,
    text_column: str,
    num_beams: int,
    num_candidates: int,
    batch_size: int,
    chrf_threshold: float,
    language: str,
) -> list[str]:
    """Checks the arguments before any decoding and returns the references."""
    if not isinstance(dataset, Dataset):
        raise TypeError(
            f"mine_translation_errors needs a `datasets.Dataset`, got {type(dataset).__name__}; pick a split of a "
            "DatasetDict (`dataset_dict['train']`)."
        )
    if num_candidates < 1:
        raise ValueError(f"num_candidates must be at least 1, got {num_candidates}.")
    if num_beams < num_candidates:
        raise ValueError(
            f"Beam search returns at most num_beams hypotheses, so num_candidates ({num_candidates}) cannot exceed "
            f"num_beams ({num_beams}); raise num_beams to at least {num_candidates} or lower num_candidates."
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    _check_threshold(chrf_threshold)
    missing = [column for column in (text_column, *_POSE_COLUMNS) if column not in dataset.column_names]
    if missing:
        raise ValueError(
            f"The dataset lacks the column(s) {missing} (it has {dataset.column_names}); mining needs pose rows "
            f"(`keypoints`, `confidence`) and their reference translation (text_column={text_column!r})."
        )
    references = list(dataset[text_column])
    check_references(references, text_column, language, "errors are judged against it")
    return references


def check_references(references: Sequence, text_column: str, language: str, why: str) -> None:
    """Refuses rows whose reference translation is missing or empty once punctuation and whitespace are removed,
    naming how many and the first rows; `why` says what the reference is needed for."""
    empty = [i for i, text in enumerate(references) if not isinstance(text, str) or not _normalize(text, language)]
    if empty:
        raise ValueError(
            f"{len(empty)} row(s) have no reference translation in {text_column!r} (first: {empty[:10]}), and {why}. "
            "Drop them first, e.g. `dataset.filter(lambda row: row[text_column].strip())`."
        )


def _select_errors(
    hypotheses: Sequence[str], reference: str, chrf_threshold: float, language: str, counts: dict[str, int]
) -> list[str]:
    """The meaning changes among a row's n-best hypotheses, in n-best order, one per normalised form."""
    normalized_reference = _normalize(reference, language)
    errors, seen = [], set()
    for hypothesis in hypotheses:
        verdict, normalized = _judge(hypothesis, normalized_reference, chrf_threshold, language)
        counts[verdict] += 1
        # Variants of one wrong sentence that differ only in case or punctuation are one error, not several.
        if verdict == _ERROR and normalized not in seen:
            seen.add(normalized)
            errors.append(hypothesis)
    return errors


def mine_translation_errors(
    model: torch.nn.Module,
    tokenizer,
    dataset: Dataset,
    *,
    num_beams: int = 4,
    num_candidates: int = 4,
    chrf_threshold: float = 90.0,
    batch_size: int = 32,
    max_frames: int = 256,
    max_new_tokens: int = 64,
    confidence_threshold: float = 0.3,
    text_column: str = "text",
    output_column: str = "rejected_texts",
    language: str = "en",
    cache_dir: str | os.PathLike | None = None,
    show_progress: bool = True,
    return_report: bool = False,
) -> Dataset | tuple[Dataset, MiningReport]:
    """Translates every clip with beam search and keeps the n-best hypotheses that are wrong in meaning.

    The model decodes the dataset in order, in eval mode and without gradients, on its own device (its training mode
    is restored afterwards). Frames are sampled uniformly, as in evaluation, so the result is deterministic. For each
    row, the `num_candidates` best hypotheses of beam search are kept when [`is_meaning_change`] holds against the
    row's reference, in n-best order and deduplicated by their normalised form; rows without any get `[]`.

    With `cache_dir`, the mined column is saved there (`Dataset.save_to_disk`, the pose columns are not copied) with a
    `mining_config.json` that records the mining parameters, the dataset's fingerprint and fingerprints of the model's
    weights, generation config and tokenizer; a later call with the same inputs loads it instead of decoding again,
    any difference mines again and replaces the cache. `batch_size` and `show_progress` do not change the result and
    are not part of the key.

    Args:
        model ([`SignTranslationModel`] or `peft.PeftModel`): The MLE reference model whose errors are mined.
        tokenizer: Its tokenizer, to decode the hypotheses.
        dataset (`datasets.Dataset`): Pose rows with `keypoints`, `confidence` and the reference in `text_column`.
        num_beams (`int`, *optional*, defaults to `4`): Beam width; at least `num_candidates`.
        num_candidates (`int`, *optional*, defaults to `4`): Hypotheses examined per row (`num_return_sequences`).
        chrf_threshold (`float`, *optional*, defaults to `90.0`): See [`is_meaning_change`].
        batch_size (`int`, *optional*, defaults to `32`): Clips decoded together.
        max_frames (`int`, *optional*, defaults to `256`): Longer clips are sub-sampled (uniformly) to this many
            frames; use the value the model was trained with.
        max_new_tokens (`int`, *optional*, defaults to `64`): Longest hypothesis, in tokens.
        confidence_threshold (`float`, *optional*, defaults to `0.3`): Points at or below this confidence are masked,
            as in training.
        text_column (`str`, *optional*, defaults to `"text"`): Column of the reference translations.
        output_column (`str`, *optional*, defaults to `"rejected_texts"`): Column written with the mined errors (a list
            of strings per row); replaced if the dataset has it already.
        language (`str`, *optional*, defaults to `"en"`): Target language; `"zh"` compares characters.
        cache_dir (`str` or `os.PathLike`, *optional*): Directory of the cached result; it must be new, empty or an
            earlier cache, since its contents are replaced.
        show_progress (`bool`, *optional*, defaults to `True`): Show a progress bar while decoding.
        return_report (`bool`, *optional*, defaults to `False`): Also return a [`MiningReport`].

    Returns:
        `datasets.Dataset`: The dataset, same rows in the same order, with `output_column` added; or
        `(dataset, MiningReport)` with `return_report=True`.

    Raises:
        `TypeError`: If `dataset` is not a `datasets.Dataset`.
        `ValueError`: If `num_candidates > num_beams`, a column is missing, a reference is empty, or `cache_dir` is
            not a directory this function may replace.
    """
    references = _validate(dataset, text_column, num_beams, num_candidates, batch_size, chrf_threshold, language)
    parameters = {
        "num_beams": num_beams,
        "num_candidates": num_candidates,
        "chrf_threshold": float(chrf_threshold),
        "max_frames": max_frames,
        "max_new_tokens": max_new_tokens,
        "confidence_threshold": float(confidence_threshold),
        "text_column": text_column,
        "output_column": output_column,
        "language": language,
    }
    cache = ColumnCache(cache_dir, _CONFIG_FILE, "mine_translation_errors", _FORMAT_VERSION)
    cached = cache.lookup(dataset, model, tokenizer, parameters, output_column)
    if cached is not None:
        mined, stored_report = cached
        report = MiningReport(**stored_report, from_cache=True)
        return (mined, report) if return_report else mined

    collator = PoseCollator.for_model(
        model, max_frames=max_frames, confidence_threshold=confidence_threshold, frame_sampling="uniform"
    )
    # Only the pose columns, as numpy arrays, one batch at a time: pose data is never turned into Python lists.
    poses = dataset.with_format("numpy", columns=list(_POSE_COLUMNS))
    first_parameter = next(model.parameters())
    # `PreTrainedModel.dtype` is that of the first floating-point weight, the one the pose encoder computes in.
    device, dtype = first_parameter.device, getattr(model, "dtype", first_parameter.dtype)
    counts = dict.fromkeys((_EMPTY, _SAME, _TOO_CLOSE, _ERROR), 0)
    mined_texts: list[list[str]] = []
    was_training = model.training
    model.eval()
    try:
        progress = tqdm(total=len(dataset), desc="Mining translation errors", unit="clip", disable=not show_progress)
        with torch.no_grad(), progress:
            for start in range(0, len(dataset), batch_size):
                rows = poses[start : start + batch_size]
                examples = [
                    {"id": start + offset, "keypoints": keypoints, "confidence": confidence}
                    for offset, (keypoints, confidence) in enumerate(zip(rows["keypoints"], rows["confidence"]))
                ]
                inputs = collator(examples)
                generated = model.generate(
                    pose=inputs["pose"].to(device=device, dtype=dtype),
                    pose_mask=inputs["pose_mask"].to(device),
                    num_beams=num_beams,
                    num_return_sequences=num_candidates,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    return_dict_in_generate=False,
                )
                if generated.shape[0] != len(examples) * num_candidates:
                    raise RuntimeError(
                        f"generate returned {generated.shape[0]} sequences for {len(examples)} clips and "
                        f"num_return_sequences={num_candidates}; expected {len(examples) * num_candidates}."
                    )
                hypotheses = _decode(tokenizer, generated)
                for offset in range(len(examples)):
                    row_hypotheses = hypotheses[offset * num_candidates : (offset + 1) * num_candidates]
                    mined_texts.append(
                        _select_errors(row_hypotheses, references[start + offset], chrf_threshold, language, counts)
                    )
                progress.update(len(examples))
    finally:
        model.train(was_training)

    report = MiningReport(
        num_rows=len(dataset),
        num_rows_with_errors=sum(1 for texts in mined_texts if texts),
        num_errors=sum(len(texts) for texts in mined_texts),
        num_hypotheses=sum(counts.values()),
        num_too_close=counts[_TOO_CLOSE],
        chrf_threshold=float(chrf_threshold),
    )
    mined = with_text_column(dataset, output_column, mined_texts)
    cache.save(mined, output_column, report)
    logger.info(
        f"Mined {report.num_errors} translation errors for {report.num_rows_with_errors} of {report.num_rows} rows "
        f"(chrF < {chrf_threshold})."
    )
    return (mined, report) if return_report else mined
