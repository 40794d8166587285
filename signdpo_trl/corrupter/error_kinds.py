"""What kind of meaning error a wrong translation makes relative to its reference.

The miner of the translation model's own errors (`mine_translation_errors`) says *that* a hypothesis is wrong; this
module says *how*, so that a report can show which errors the model makes: on SynthSign, a sign read as its
minimal-pair partner, a lost negation, a question read as a statement, swapped roles. A pair gets the first kind of
`ERROR_KINDS` that applies:

| kind                | the error ...                                                                         |
|---------------------|---------------------------------------------------------------------------------------|
| `negation`          | has more or fewer negation markers than the reference (one is negated, the other not) |
| `question`          | is a question where the reference is a statement, or the other way round              |
| `swapped_roles`     | has the same words in another order ("the cat chases the dog")                        |
| `minimal_pair_sign` | only substitutes single words, at least one by a minimal-pair partner of its sign     |
| `wrong_word`        | substitutes one run of words by another run, in one place                             |
| `missing_words`     | only leaves words out                                                                 |
| `added_words`       | only adds words                                                                       |
| `several_edits`     | anything else                                                                         |

Example:

```python
>>> from signdpo_trl.corrupter import classify_error, count_error_kinds
>>> classify_error("She does not like tea.", "She likes tea.")
'negation'
>>> count_error_kinds(["the dog chases the cat"], [["the cat chases the dog", "the dog chases the bird"]])
{'negation': 0, 'question': 0, 'swapped_roles': 1, 'minimal_pair_sign': 0, 'wrong_word': 1, 'missing_words': 0,
'added_words': 0, 'several_edits': 0}
```
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from ..metrics.slt import _is_chinese


__all__ = ["ERROR_KINDS", "classify_error", "count_error_kinds", "examples_by_kind"]

ERROR_KINDS: tuple[str, ...] = (
    "negation",
    "question",
    "swapped_roles",
    "minimal_pair_sign",
    "wrong_word",
    "missing_words",
    "added_words",
    "several_edits",
)

# A word keeps its inner apostrophes ("don't", "it's"); any other non-space character is a token of its own, so that
# symbols ("$", "%") stay while punctuation is dropped afterwards.
_ENGLISH_TOKEN = re.compile(r"\w+(?:'\w+)*|\S")
# NFKC leaves typographic apostrophes alone; "don’t" must be the same word as "don't".
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'"})
_ENGLISH_NEGATIONS = frozenset({"not", "never", "no", "nobody", "nothing", "none", "cannot"})
# 没有 counts once, through 没.
_CHINESE_NEGATIONS = ("不", "没", "别", "未")
# Common words in which those characters do not negate ("other people", "special", "future", ...).
_CHINESE_NON_NEGATING = ("别人", "特别", "区别", "分别", "告别", "性别", "级别", "类别", "差别", "未来")
_CHINESE_QUESTION_PARTICLE = "吗"


@dataclass(frozen=True)
class _Parsed:
    """A translation as the kinds are decided on: its word tokens, its negation markers, whether it asks."""

    words: tuple[str, ...]
    negations: int
    question: bool


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)


def _parse(text: str, chinese: bool) -> _Parsed:
    text = _fold(text)
    if chinese:
        words = tuple(char for char in text if not char.isspace() and not _is_punctuation(char))
        joined = "".join(words)
        negations = sum(joined.count(marker) for marker in _CHINESE_NEGATIONS)
        negations -= sum(joined.count(word) for word in _CHINESE_NON_NEGATING)
    else:
        words = tuple(token for token in _ENGLISH_TOKEN.findall(text) if not _is_punctuation(token[0]))
        negations = sum(word in _ENGLISH_NEGATIONS or word.endswith("n't") for word in words)
    # Closing quotes, brackets and a final "!" or "." after the question mark do not make a statement of a question.
    tail = text.rstrip()
    while tail and tail[-1] != "?" and _is_punctuation(tail[-1]):
        tail = tail[:-1].rstrip()
    question = tail.endswith("?") or (chinese and words[-1:] == (_CHINESE_QUESTION_PARTICLE,))
    return _Parsed(words, negations, question)


def _normalize_partners(minimal_pair_words: Mapping[str, Collection[str]] | None) -> dict[str, frozenset[str]] | None:
    if minimal_pair_words is None:
        return None
    partners: dict[str, frozenset[str]] = {}
    for token, others in minimal_pair_words.items():
        # A string is a collection of its characters: {"dog": "cat"} would silently mean {"dog": {"c", "a", "t"}}.
        if isinstance(others, str):
            raise TypeError(
                f"minimal_pair_words maps each token to a collection of tokens; got the string {others!r} for "
                f"{token!r}. Write {{{token!r}: {{{others!r}}}}} instead."
            )
        # "Mother" and "mother" are one token once folded; their partners add up.
        folded = _fold(token)
        partners[folded] = partners.get(folded, frozenset()) | {_fold(other) for other in others}
    return partners


def _check_pair(reference: _Parsed, error: _Parsed, reference_text: str, error_text: str):
    if not reference.words:
        raise ValueError(
            f"The reference {reference_text!r} has no words once punctuation is removed; an error can only be "
            "classified against a reference translation that says something."
        )
    if reference.words == error.words and reference.question == error.question:
        raise ValueError(
            f"{error_text!r} is the same translation as its reference {reference_text!r} once case and punctuation "
            "are ignored, so it makes no error to classify. Keep only the hypotheses that `is_meaning_change` "
            "accepts (`mine_translation_errors` already does)."
        )


def _classify(reference: _Parsed, error: _Parsed, partners: Mapping[str, frozenset[str]] | None) -> str:
    if reference.negations != error.negations:
        return "negation"
    if reference.question != error.question:
        return "question"
    if Counter(reference.words) == Counter(error.words):
        return "swapped_roles"
    matcher = SequenceMatcher(None, reference.words, error.words, autojunk=False)
    edits = [opcode for opcode in matcher.get_opcodes() if opcode[0] != "equal"]
    tags = {tag for tag, *_ in edits}
    single_substitutions = all(tag == "replace" and i2 - i1 == 1 and j2 - j1 == 1 for tag, i1, i2, j1, j2 in edits)
    if partners is not None and single_substitutions:
        if any(error.words[j1] in partners.get(reference.words[i1], ()) for _, i1, _, j1, _ in edits):
            return "minimal_pair_sign"
    if len(edits) == 1 and tags == {"replace"}:
        return "wrong_word"
    if tags == {"delete"}:
        return "missing_words"
    if tags == {"insert"}:
        return "added_words"
    return "several_edits"


def classify_error(
    reference: str,
    error: str,
    *,
    minimal_pair_words: Mapping[str, Collection[str]] | None = None,
    language: str = "en",
) -> str:
    """The kind of meaning error `error` makes relative to `reference`: the first of `ERROR_KINDS` that applies.

    Both texts are NFKC-normalised and case-folded, then split into tokens:

    - English into words. A word keeps its apostrophes, so contractions stay one token ("don't", "it's"); a
      negated contraction ("doesn't", "can't") counts as a negation marker like "not", "never", "no", "nobody",
      "nothing", "none" and "cannot". "doesn't" and "does not" are therefore different words, but both negated: a
      pair that differs only in this spelling is a `wrong_word`, not a `negation`. Keeping them apart makes two texts
      equal here only when `is_meaning_change` also finds them equal, so a mined error never fails as "not an error".
    - Chinese (`language` `"zh"`, `"zh-CN"`, `"cmn"`, ...) into characters, whitespace ignored. Negation markers are
      不, 没 (没有 counts once), 别 and 未, except in common words where they do not negate (别人, 特别, 未来, ...).

    Punctuation is dropped from the tokens. A text is a question when it ends with "?" (full-width "？" included,
    closing quotes and brackets after it allowed) or, in Chinese, with the particle 吗. The word edits between the
    two token sequences are those of `difflib.SequenceMatcher`.

    Args:
        reference (`str`): The reference translation.
        error (`str`): The wrong translation (a mined hypothesis or a corruption of the reference).
        minimal_pair_words (`Mapping[str, Collection[str]]`, *optional*): For each token of a sign with minimal-pair
            partners, the tokens of its partners (`signdpo_trl.data.synthetic.minimal_pair_words` builds it for
            SynthSign). Without it, no pair is a `minimal_pair_sign`.
        language (`str`, defaults to `"en"`): Language of both texts; it decides the tokenisation.

    Returns:
        `str`: One of `ERROR_KINDS`.

    Raises:
        `ValueError`: The reference has no words, or both texts are the same translation once case and punctuation
            (other than the question mark) are ignored.
        `TypeError`: `minimal_pair_words` maps a token to a single string instead of a collection of tokens.
    """
    chinese = _is_chinese(language)
    parsed_reference, parsed_error = _parse(reference, chinese), _parse(error, chinese)
    _check_pair(parsed_reference, parsed_error, reference, error)
    return _classify(parsed_reference, parsed_error, _normalize_partners(minimal_pair_words))


def _classified_pairs(
    references: Sequence[str],
    errors: Sequence[Sequence[str] | str],
    minimal_pair_words: Mapping[str, Collection[str]] | None,
    language: str,
) -> Iterator[tuple[str, str, str]]:
    """Every `(reference, error, kind)`, rows in order and the errors of a row in order."""
    if len(references) != len(errors):
        raise ValueError(
            f"references and errors must be aligned, one entry of errors (a list of errors, or one error) per "
            f"reference; got {len(references)} references and {len(errors)} entries of errors."
        )
    chinese = _is_chinese(language)
    partners = _normalize_partners(minimal_pair_words)
    for row, (reference, row_errors) in enumerate(zip(references, errors)):
        parsed_reference = _parse(reference, chinese)
        for error in [row_errors] if isinstance(row_errors, str) else (row_errors or []):
            parsed_error = _parse(error, chinese)
            try:
                _check_pair(parsed_reference, parsed_error, reference, error)
            except ValueError as exception:
                raise ValueError(f"Row {row}: {exception}") from None
            yield reference, error, _classify(parsed_reference, parsed_error, partners)


def count_error_kinds(
    references: Sequence[str],
    errors: Sequence[Sequence[str] | str],
    *,
    minimal_pair_words: Mapping[str, Collection[str]] | None = None,
    language: str = "en",
) -> dict[str, int]:
    """How many errors of each kind, over all `(reference, error)` pairs (see [`classify_error`]).

    Args:
        references (`Sequence[str]`): The reference translations, one per row.
        errors (`Sequence[Sequence[str] | str]`): For each reference, its errors (a list, possibly empty, as the
            `rejected_texts` column of `mine_translation_errors` holds them) or a single error; `None` counts as no
            errors.
        minimal_pair_words (`Mapping[str, Collection[str]]`, *optional*): As in [`classify_error`].
        language (`str`, defaults to `"en"`): As in [`classify_error`].

    Returns:
        `dict[str, int]`: Every kind of `ERROR_KINDS` as a key, in that order, with its count (zero included).

    Raises:
        `ValueError`: `references` and `errors` differ in length, or a pair cannot be classified (the message names
            its row).
    """
    counts = dict.fromkeys(ERROR_KINDS, 0)
    for _, _, kind in _classified_pairs(references, errors, minimal_pair_words, language):
        counts[kind] += 1
    return counts


def examples_by_kind(
    references: Sequence[str],
    errors: Sequence[Sequence[str] | str],
    *,
    max_per_kind: int = 3,
    minimal_pair_words: Mapping[str, Collection[str]] | None = None,
    language: str = "en",
) -> dict[str, list[tuple[str, str]]]:
    """The first pairs of each kind, to show next to `count_error_kinds` what the counted errors look like.

    Args:
        references (`Sequence[str]`): As in [`count_error_kinds`].
        errors (`Sequence[Sequence[str] | str]`): As in [`count_error_kinds`].
        max_per_kind (`int`, defaults to `3`): Most pairs kept per kind.
        minimal_pair_words (`Mapping[str, Collection[str]]`, *optional*): As in [`classify_error`].
        language (`str`, defaults to `"en"`): As in [`classify_error`].

    Returns:
        `dict[str, list[tuple[str, str]]]`: Every kind of `ERROR_KINDS` as a key, in that order, with up to
        `max_per_kind` `(reference, error)` pairs in input order (an empty list for a kind not met).

    Raises:
        `ValueError`: `max_per_kind` is below 1, or as in [`count_error_kinds`].
    """
    if max_per_kind < 1:
        raise ValueError(
            f"max_per_kind must be at least 1; got {max_per_kind}. Use count_error_kinds for counts only."
        )
    examples: dict[str, list[tuple[str, str]]] = {kind: [] for kind in ERROR_KINDS}
    for reference, error, kind in _classified_pairs(references, errors, minimal_pair_words, language):
        if len(examples[kind]) < max_per_kind:
            examples[kind].append((reference, error))
    return examples
