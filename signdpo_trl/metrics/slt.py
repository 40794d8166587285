"""Translation scores as the gloss-free sign language translation (SLT) literature computes them.

The convention is the one of Uni-Sign (Li et al., ICLR 2025; `SLRT_metrics.translation_performance` and the
CSL-Daily post-processing in `fine_tuning.py` of github.com/ZechengLi19/Uni-Sign), whose pose branch is the
reference system SignDPO starts from:

- BLEU-1..4 are *cumulative*: BLEU-n = brevity penalty x geometric mean of the modified precisions 1..n, from
  sacrebleu's corpus BLEU (exp smoothing, mixed case, one reference). Uni-Sign reads them from the `scores` list of
  a vendored sacrebleu 1.4.2 (`external_metrics/sacrebleu.py`, also in GFSLT-VLP's `metrics.py`), which computes all
  four from one set of n-gram statistics; sacrebleu 2.x with `max_ngram_order=n` gives the same numbers (the test
  suite re-implements the vendored computation line by line and checks equality).
- ROUGE-L is the F-score of the `rouge` PyPI package (pltrdy/rouge, version 1.0.1 as Uni-Sign pins it),
  `Rouge().get_scores(hyps, refs, avg=True)["rouge-l"]["f"] * 100`: summary-level union-LCS ROUGE-L, sentences
  split on ".", unique-word counts (`exclusive=True`), F = 2PR / (P + R + 1e-8), averaged over segments. It is
  *not* Google's `rouge-score` (`rougeL` there is a plain sentence LCS F1 with its own tokenizer); the two differ
  visibly on real outputs (How2Sign: about 37.5 vs 34.5 on the same hypotheses), so the number reported here is
  named `rouge_l` and documented as the `rouge` package's.
- chrF is sacrebleu's corpus chrF (chrF2, character 6-grams, no word n-grams).
- English (How2Sign, OpenASL) and German are scored on the raw detokenised text with sacrebleu's `13a` tokenizer.
  Chinese (CSL-Daily) is scored on characters: whitespace is removed, the full-width comma and question mark are
  mapped to ASCII (mT5's tokenizer does this to its outputs, Uni-Sign does it to the references), and every
  character becomes a token. BLEU then uses sacrebleu's `zh` tokenizer, which on character-split text gives exactly
  the tokens `13a` gives there (Uni-Sign's numbers), and ROUGE-L runs on the character tokens.

Where Uni-Sign's code would crash, this module decides instead: the `rouge` package raises on an empty hypothesis
(or one made only of "."), so such a segment scores ROUGE-L 0 and still counts in the average; BLEU and chrF need
no special case (an empty hypothesis contributes no n-grams and only lengthens the reference side).

GFSLT-VLP and SignLLM-style code bases that report BLEU-1..4 / ROUGE-L through `nlg-eval` (pycocoevalcap's BLEU and
ROUGE-L with beta 1.2) follow a different convention; their numbers are not comparable digit for digit.
"""

import sys
from collections.abc import Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version

from rouge import Rouge
from sacrebleu.metrics import BLEU, CHRF


__all__ = ["MAX_BLEU_ORDER", "compute_slt_metrics", "prepare_segments", "rouge_l_f"]

MAX_BLEU_ORDER = 4
_CHINESE_PUNCTUATION_TO_ASCII = {"，": ",", "？": "?"}


def _is_chinese(language: str) -> bool:
    return language.lower().split("-")[0].split("_")[0] in ("zh", "cmn")


def _split_characters(text: str) -> str:
    text = "".join(text.split())
    for full_width, ascii_form in _CHINESE_PUNCTUATION_TO_ASCII.items():
        text = text.replace(full_width, ascii_form)
    return " ".join(text)


def _validate(predictions: Sequence[str], references: Sequence[str]) -> tuple[list[str], list[str]]:
    for name, texts in (("predictions", predictions), ("references", references)):
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise TypeError(
                f"`{name}` must be a list of strings (one per clip), got {type(texts).__name__}. "
                f"Wrap a single sentence as [sentence]."
            )
    if len(predictions) != len(references):
        raise ValueError(
            f"Got {len(predictions)} predictions but {len(references)} references: pass exactly one reference "
            f"string per prediction, in the same order."
        )
    if len(predictions) == 0:
        raise ValueError("`predictions` and `references` are empty: there is nothing to score.")
    for name, texts in (("predictions", predictions), ("references", references)):
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(
                    f"`{name}[{index}]` is a {type(text).__name__}, not a string: decode token ids with "
                    f"`tokenizer.batch_decode(..., skip_special_tokens=True)` before scoring."
                )
    for index, reference in enumerate(references):
        if not reference.replace(".", "").strip():
            raise ValueError(
                f"`references[{index}]` is empty ({reference!r}): every clip needs a non-empty reference "
                f"translation; drop clips without one from the evaluation set."
            )
    return list(predictions), list(references)


def prepare_segments(
    predictions: Sequence[str], references: Sequence[str], language: str = "en"
) -> tuple[list[str], list[str]]:
    """Validates the inputs and applies the literature's per-language preprocessing.

    Args:
        predictions (`Sequence[str]`): one hypothesis per clip.
        references (`Sequence[str]`): one reference per clip, same order.
        language (`str`, defaults to `"en"`): target language code; `"zh"` selects character-level scoring.

    Returns:
        `tuple[list[str], list[str]]`: the hypotheses and references as they are scored (unchanged except for
        Chinese, where they are split into space-separated characters).
    """
    predictions, references = _validate(predictions, references)
    if _is_chinese(language):
        predictions = [_split_characters(text) for text in predictions]
        references = [_split_characters(text) for text in references]
    return predictions, references


def _has_rouge_sentence(text: str) -> bool:
    # `rouge` splits on "." and keeps the non-empty pieces; with none left it raises ValueError.
    return bool(text.replace(".", ""))


@contextmanager
def _recursion_room(depth: int):
    # The `rouge` package rebuilds the LCS recursively (one frame per aligned token pair): long, degenerate
    # generations would otherwise hit Python's default limit of 1000 frames.
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, depth + 200))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def rouge_l_f(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-L F-score x 100 of the `rouge` package, as the SLT papers report it.

    The inputs are already prepared (see `prepare_segments`). A hypothesis that the `rouge` package cannot score
    (empty, or only ".") scores 0 and still counts in the mean.
    """
    scorable = [(hyp, ref) for hyp, ref in zip(predictions, references) if _has_rouge_sentence(hyp)]
    if not scorable:
        return 0.0
    scorer = Rouge(metrics=["rouge-l"])
    longest = max(len(hyp.split()) + len(ref.split()) for hyp, ref in scorable)
    with _recursion_room(longest):
        if len(scorable) == len(predictions):
            # The exact call of Uni-Sign's translation_performance, so the float arithmetic is identical.
            mean = scorer.get_scores(list(predictions), list(references), avg=True)["rouge-l"]["f"]
            return mean * 100
        hyps, refs = zip(*scorable)
        per_segment = scorer.get_scores(list(hyps), list(refs), avg=False)
    total = 0
    for score in per_segment:
        total += score["rouge-l"]["f"]
    return total / len(predictions) * 100


def _rouge_version() -> str:
    try:
        return version("rouge")
    except PackageNotFoundError:
        return "unknown"


def compute_slt_metrics(
    predictions: Sequence[str], references: Sequence[str], language: str = "en"
) -> dict[str, float | str]:
    """BLEU-1..4, ROUGE-L and chrF of a test set, computed as the gloss-free SLT papers compute them.

    See the module docstring for the convention (Uni-Sign's `SLRT_metrics.translation_performance`) and how it
    differs from `rouge-score` and `nlg-eval`.

    Args:
        predictions (`Sequence[str]`): one detokenised hypothesis per clip (may be empty).
        references (`Sequence[str]`): one non-empty reference per clip, in the same order.
        language (`str`, defaults to `"en"`): target language. `"zh"` (CSL-Daily) scores characters with
            sacrebleu's `zh` tokenizer and character-level ROUGE-L; any other language uses `13a` on words.

    Returns:
        `dict`: `bleu1`, `bleu2`, `bleu3`, `bleu4` (cumulative BLEU-n, 0-100), `rouge_l` (`rouge` package ROUGE-L
        F x 100), `chrf` (0-100) and `signature` (a string naming the BLEU and chrF sacrebleu signatures and the
        ROUGE implementation, to report next to the scores).

    Raises:
        `TypeError`: if the inputs are not lists of strings.
        `ValueError`: if the lists differ in length, are empty, or a reference is empty.
    """
    predictions, references = prepare_segments(predictions, references, language)
    tokenize = "zh" if _is_chinese(language) else "13a"

    results: dict[str, float | str] = {}
    bleu_signature = ""
    for order in range(1, MAX_BLEU_ORDER + 1):
        bleu = BLEU(tokenize=tokenize, max_ngram_order=order)
        results[f"bleu{order}"] = float(bleu.corpus_score(predictions, [references]).score)
        bleu_signature = str(bleu.get_signature())
    results["rouge_l"] = float(rouge_l_f(predictions, references))
    chrf = CHRF()
    results["chrf"] = float(chrf.corpus_score(predictions, [references]).score)

    unit = "characters" if _is_chinese(language) else "words"
    results["signature"] = (
        f"BLEU-1..4 cumulative {bleu_signature} (ngram:1-{MAX_BLEU_ORDER}) ; chrF {chrf.get_signature()} ; "
        f"ROUGE-L rouge=={_rouge_version()} summary-level F x100 on {unit}"
    )
    return results
