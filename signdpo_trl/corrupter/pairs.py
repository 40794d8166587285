"""The corrupter's training pairs: the translation model's mined errors, topped up with rule-based corruptions."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from datasets import Dataset, Features, Value

from .mining import _normalize, check_references
from .rules import corrupt_text


__all__ = ["CorrupterPairsReport", "corrupter_pairs"]


@dataclass
class CorrupterPairsReport:
    """The mix of [`corrupter_pairs`].

    Args:
        num_rows (`int`): Rows of the mined dataset.
        num_pairs (`int`): Pairs written (after removing duplicates).
        num_mined (`int`): Pairs whose wrong side is a mined error of the translation model.
        num_rules (`int`): Pairs whose wrong side is a rule-based corruption (the top-up).
        num_rows_topped_up (`int`): Rows with fewer than `min_pairs_per_row` mined errors, topped up by the rules.
        num_duplicates (`int`): Pairs dropped because an identical (reference, wrong) pair was already written (rows
            that share a reference).
    """

    num_rows: int
    num_pairs: int
    num_mined: int
    num_rules: int
    num_rows_topped_up: int
    num_duplicates: int

    @property
    def fraction_mined(self) -> float:
        """Share of the pairs that are the model's own errors (0 without pairs)."""
        return self.num_mined / self.num_pairs if self.num_pairs else 0.0


def corrupter_pairs(
    mined: Dataset,
    *,
    text_column: str = "text",
    rejected_texts_column: str = "rejected_texts",
    min_pairs_per_row: int = 1,
    max_pairs_per_row: int | None = None,
    language: str = "en",
    seed: int = 0,
    reference_column: str = "reference",
    corrupted_column: str = "corrupted",
) -> tuple[Dataset, CorrupterPairsReport]:
    """(reference, wrong translation) pairs for [`CorrupterTrainer`] from a dataset of mined errors.

    Every mined error of a row (the output of [`mine_translation_errors`]: a list of strings per row in
    `rejected_texts_column`) becomes a pair with the row's reference, at most `max_pairs_per_row` per row in n-best
    order. A row with fewer than `min_pairs_per_row` errors (a model that got it right) is topped up with
    rule-based corruptions ([`corrupt_text`], substitutes drawn from the other references), so the corrupter also
    learns on sentences the model translates well. Identical pairs are written once, and a wrong side that equals its
    reference up to case and punctuation never is.

    Args:
        mined (`datasets.Dataset`): Rows with `text_column` and `rejected_texts_column` (only these are read).
        text_column (`str`, *optional*, defaults to `"text"`), rejected_texts_column (`str`, *optional*, defaults to
            `"rejected_texts"`): Columns of the references and the mined errors.
        min_pairs_per_row (`int`, *optional*, defaults to `1`): Pairs per row below which the rules top up (0: no
            top-up).
        max_pairs_per_row (`int`, *optional*): Mined pairs kept per row (default: all).
        language (`str`, *optional*, defaults to `"en"`): `"en"` or `"zh"`, for the rules and the comparison.
        seed (`int`, *optional*, defaults to `0`): Seed of the rule-based corruptions.
        reference_column (`str`, *optional*, defaults to `"reference"`), corrupted_column (`str`, *optional*,
            defaults to `"corrupted"`): Columns of the pairs (those [`CorrupterConfig`] reads by default).

    Returns:
        `(datasets.Dataset, CorrupterPairsReport)`: The pairs, with a `source` column (`"mined"` or `"rules"`), and
        the mix.
    """
    if min_pairs_per_row < 0:
        raise ValueError(f"min_pairs_per_row must be 0 or more, got {min_pairs_per_row}.")
    if max_pairs_per_row is not None and max_pairs_per_row < 1:
        raise ValueError(f"max_pairs_per_row must be at least 1 (or None for all), got {max_pairs_per_row}.")
    missing = [column for column in (text_column, rejected_texts_column) if column not in mined.column_names]
    if missing:
        raise ValueError(
            f"The mined dataset lacks the column(s) {missing} (it has {mined.column_names}); mine the model's errors "
            "first with `mine_translation_errors(model, tokenizer, train)`."
        )
    references = list(mined[text_column])
    errors = list(mined[rejected_texts_column])
    check_references(references, text_column, language, "a pair is built on its reference")
    generator = torch.Generator().manual_seed(seed)
    columns = {reference_column: [], corrupted_column: [], "source": []}
    written: set[tuple[str, str]] = set()
    num_duplicates = num_topped_up = 0
    for row, (reference, row_errors) in enumerate(zip(references, errors)):
        normalized_reference = _normalize(reference, language)
        mined_here = [
            text for text in (row_errors or []) if _normalize(text, language) not in ("", normalized_reference)
        ]
        if max_pairs_per_row is not None:
            mined_here = mined_here[:max_pairs_per_row]
        row_pairs = [(text, "mined") for text in mined_here]
        if len(row_pairs) < min_pairs_per_row:
            num_topped_up += 1
            pool = references[max(0, row - 32) : row] + references[row + 1 : row + 33]
            seen = {_normalize(text, language) for text, _ in row_pairs}
            # A few more draws than needed: two rules can write the same sentence.
            for _ in range(4 * min_pairs_per_row):
                if len(row_pairs) >= min_pairs_per_row:
                    break
                corrupted = corrupt_text(reference, pool=pool, generator=generator, language=language)
                normalized = _normalize(corrupted, language)
                if normalized not in seen and normalized != normalized_reference:
                    seen.add(normalized)
                    row_pairs.append((corrupted, "rules"))
        for corrupted, source in row_pairs:
            pair = (reference, corrupted)
            if pair in written:
                num_duplicates += 1
                continue
            written.add(pair)
            columns[reference_column].append(reference)
            columns[corrupted_column].append(corrupted)
            columns["source"].append(source)
    # Explicit features: with no pair at all, the inferred types would be nulls.
    pairs = Dataset.from_dict(columns, features=Features({name: Value("string") for name in columns}))
    report = CorrupterPairsReport(
        num_rows=len(mined),
        num_pairs=len(pairs),
        num_mined=columns["source"].count("mined"),
        num_rules=columns["source"].count("rules"),
        num_rows_topped_up=num_topped_up,
        num_duplicates=num_duplicates,
    )
    return pairs, report
