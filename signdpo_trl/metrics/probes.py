"""Probe accuracy on SynthSign: does the translation keep the sign-level facts the clip encodes?

Each SynthSign clip carries a list of probes, one dict per checked fact:

    {"kind": "minimal_pair" | "negation" | "question", "sign": str, "word": str, "present": bool,
     "start": int, "end": int}

`word` is the English word the sign at frames [start, end) must (present=True) or must not (present=False) produce.
A probe passes when "`word` occurs in the prediction" equals `present`, where occurrence means:

- a word: a token of the lower-cased prediction split on whitespace and punctuation (apostrophes stay inside
  tokens, so "don't" is one token); a multi-word `word` must occur as consecutive tokens;
- "?": the character anywhere in the prediction;
- "not" in a negation probe: the token "not", "cannot", or any token ending in "n't" (don't, doesn't, isn't...).
"""

import math
import re
from collections.abc import Mapping, Sequence


__all__ = ["PROBE_KINDS", "probe_accuracy", "probe_passes"]

PROBE_KINDS = ("minimal_pair", "negation", "question")
_TOKEN_SEPARATOR = re.compile(r"[^\w']+")
_NEGATION_TOKENS = ("not", "cannot")


def _tokens(text: str) -> list[str]:
    text = text.lower().replace("\u2019", "'")
    return [token.strip("'") for token in _TOKEN_SEPARATOR.split(text) if token.strip("'")]


def _is_negation(token: str) -> bool:
    return token in _NEGATION_TOKENS or token.endswith("n't")


def _occurs(word: str, prediction: str, kind: str) -> bool:
    if word == "?":
        return "?" in prediction
    tokens = _tokens(prediction)
    word_tokens = _tokens(word)
    if not word_tokens:
        raise ValueError(f"Probe word {word!r} has no letters or digits; it cannot be matched against a translation.")
    if kind == "negation" and word_tokens == ["not"]:
        return any(_is_negation(token) for token in tokens)
    width = len(word_tokens)
    return any(tokens[i : i + width] == word_tokens for i in range(len(tokens) - width + 1))


def probe_passes(prediction: str, probe: Mapping) -> bool:
    """Whether one probe passes on one prediction (see the module docstring for the matching rule)."""
    kind = probe["kind"]
    if kind not in PROBE_KINDS:
        raise ValueError(f"Unknown probe kind {kind!r}; expected one of {PROBE_KINDS}.")
    return _occurs(str(probe["word"]), prediction, kind) == bool(probe["present"])


def probe_accuracy(predictions: Sequence[str], probes: Sequence[Sequence[Mapping]]) -> dict[str, float | int]:
    """Per-kind probe accuracy of a set of translations.

    Args:
        predictions (`Sequence[str]`): one translation per clip.
        probes (`Sequence[Sequence[Mapping]]`): per clip, the list of its probes (possibly empty).

    Returns:
        `dict`: for each kind in `PROBE_KINDS`, `<kind>_accuracy` (percentage of that kind's probes that pass,
        NaN when no clip has a probe of that kind; clips without such probes do not count) and `<kind>_count`
        (number of probes of that kind).

    Raises:
        `ValueError`: if the two lists differ in length or a probe has an unknown kind.
        `TypeError`: if a prediction is not a string.
    """
    if isinstance(predictions, str) or isinstance(probes, str):
        raise TypeError("`predictions` and `probes` must be lists with one entry per clip.")
    if len(predictions) != len(probes):
        raise ValueError(
            f"Got {len(predictions)} predictions but probe lists for {len(probes)} clips: pass one (possibly empty) "
            f"list of probes per prediction, in the same order."
        )
    passed = dict.fromkeys(PROBE_KINDS, 0)
    counted = dict.fromkeys(PROBE_KINDS, 0)
    for index, (prediction, clip_probes) in enumerate(zip(predictions, probes)):
        if not isinstance(prediction, str):
            raise TypeError(f"`predictions[{index}]` is a {type(prediction).__name__}, not a string.")
        for probe in clip_probes:
            ok = probe_passes(prediction, probe)
            counted[probe["kind"]] += 1
            passed[probe["kind"]] += int(ok)

    results: dict[str, float | int] = {}
    for kind in PROBE_KINDS:
        results[f"{kind}_accuracy"] = 100.0 * passed[kind] / counted[kind] if counted[kind] else math.nan
        results[f"{kind}_count"] = counted[kind]
    return results
