"""Rule-based language-level corruptions: fluent but wrong translations for the language preference level.

Each rule rewrites a reference translation into one that stays grammatical but says something else, covering the
output-level failures SignDPO targets: lost or added negation, swapped roles, a wrong entity, a wrong time or number.
A rule returns `None` when it does not apply; `corrupt_text` tries the rules in a random order and always returns a
text that differs from its input.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

import torch


_TOKEN = re.compile(r"\w+(?:'\w+)?|[^\w\s]", re.UNICODE)
_FUNCTION_WORDS = frozenset(
    """a an the to of in on at for with from by and or but is are was were am be been do does did not no never
    can can't cannot will would should could have has had i you he she it we they me him her us them my your his its
    our their this that these those there here what who where when why how which ? . , ! yes""".split()
)
_DETERMINERS = frozenset("a an the my your his her its our their this that these those some".split())
_AUXILIARIES = frozenset("is are was were am can will would should could do does did have has had must".split())
_SUBJECT_AUX = {"i": "do", "you": "do", "we": "do", "they": "do", "he": "does", "she": "does", "it": "does"}
_CONTRACTIONS = {
    "don't": "do",
    "doesn't": "does",
    "didn't": "did",
    "isn't": "is",
    "aren't": "are",
    "wasn't": "was",
    "weren't": "were",
    "can't": "can",
    "won't": "will",
}
_SCALES = (
    ("yesterday", "today", "tomorrow"),
    ("morning", "afternoon", "evening", "night"),
    ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    ("big", "small"),
    ("hot", "cold"),
    ("before", "after"),
)
_ZH_NEGATIONS = ("没有", "不", "没", "别")
_ZH_PRONOUNS = ("我们", "你们", "他们", "她们", "我", "你", "他", "她", "它")


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


Rule = Callable[[list[str], Sequence[str], torch.Generator], "list[str] | None"]


def _choice(options: Sequence, generator: torch.Generator):
    return options[int(torch.randint(len(options), (), generator=generator))]


def _content_positions(tokens: list[str]) -> list[int]:
    return [i for i, token in enumerate(tokens) if token.lower() not in _FUNCTION_WORDS and token.isalpha()]


def flip_negation(tokens: list[str], pool: Sequence[str], generator: torch.Generator) -> list[str] | None:
    """Removes the negation of a negated clause, or negates an affirmative one ("I like" -> "I do not like")."""
    lowered = [token.lower() for token in tokens]
    for i, token in enumerate(lowered):
        if token in _CONTRACTIONS:
            return tokens[:i] + [_CONTRACTIONS[token]] + tokens[i + 1 :]
        if token in ("not", "never"):
            drop_aux = i > 0 and lowered[i - 1] in ("do", "does", "did")
            return tokens[: i - 1 if drop_aux else i] + tokens[i + 1 :]
    for i, token in enumerate(lowered):
        if token in _AUXILIARIES:
            # A question's auxiliary comes first: the negation goes after the subject ("do you not want").
            at = i + 2 if i == 0 and len(tokens) > 2 else i + 1
            return tokens[:at] + ["not"] + tokens[at:]
    for i, token in enumerate(lowered[:-1]):
        if token in _SUBJECT_AUX:
            verb = tokens[i + 1]
            if _SUBJECT_AUX[token] == "does":
                verb = _base_form(verb)
            return tokens[: i + 1] + [_SUBJECT_AUX[token], "not", verb] + tokens[i + 2 :]
    return None


def _base_form(verb: str) -> str:
    """The bare infinitive of a third-person singular present verb ("likes" -> "like", "watches" -> "watch")."""
    irregular = {"has": "have", "does": "do", "goes": "go", "is": "be"}
    lowered = verb.lower()
    if lowered in irregular:
        return irregular[lowered]
    if lowered.endswith("ies") and len(lowered) > 4:
        return verb[:-3] + "y"
    if lowered.endswith(("ches", "shes", "sses", "xes", "zzes", "oes")):
        return verb[:-2]
    if lowered.endswith("s") and not lowered.endswith("ss"):
        return verb[:-1]
    return verb


def swap_roles(tokens: list[str], pool: Sequence[str], generator: torch.Generator) -> list[str] | None:
    """Swaps the first and the last content word ("the dog sees the cat" -> "the cat sees the dog")."""
    positions = _content_positions(tokens)
    if len(positions) < 2 or tokens[positions[0]].lower() == tokens[positions[-1]].lower():
        return None
    first, last = positions[0], positions[-1]
    swapped = list(tokens)
    swapped[first], swapped[last] = tokens[last], tokens[first]
    return swapped


def _entity_positions(tokens: list[str]) -> list[int]:
    # A content word right after a determiner or possessive is, in English, almost always a noun (or its adjective).
    return [i for i in _content_positions(tokens) if i > 0 and tokens[i - 1].lower() in _DETERMINERS]


@functools.lru_cache(maxsize=65536)
def _sentence_entities(sentence: str) -> frozenset[str]:
    """The lower-cased entities of a sentence: kept, since a batch's references are every other row's pool."""
    tokens = _TOKEN.findall(sentence)
    return frozenset(tokens[i].lower() for i in _entity_positions(tokens))


def substitute_entity(tokens: list[str], pool: Sequence[str], generator: torch.Generator) -> list[str] | None:
    """Replaces a noun by a noun of another sentence of the pool (a wrong entity)."""
    positions = _entity_positions(tokens)
    present = {token.lower() for token in tokens}
    candidates = sorted(set().union(*map(_sentence_entities, pool)) - present)
    if not positions or not candidates:
        return None
    position = _choice(positions, generator)
    replaced = list(tokens)
    replaced[position] = _choice(candidates, generator)
    return replaced


def shift_scale(tokens: list[str], pool: Sequence[str], generator: torch.Generator) -> list[str] | None:
    """Moves a time, number or size word to another value on its scale ("tomorrow" -> "yesterday")."""
    for i, token in enumerate(tokens):
        for scale in _SCALES:
            if token.lower() in scale:
                others = [word for word in scale if word != token.lower()]
                replaced = list(tokens)
                replaced[i] = _choice(others, generator)
                return replaced
    return None


ENGLISH_RULES: dict[str, Rule] = {
    "flip_negation": flip_negation,
    "swap_roles": swap_roles,
    "substitute_entity": substitute_entity,
    "shift_scale": shift_scale,
}


def _detokenize(tokens: list[str]) -> str:
    text = " ".join(tokens)
    return re.sub(r" ([^\w\s'])", r"\1", text)


def _corrupt_chinese(text: str, pool: Sequence[str], generator: torch.Generator) -> str:
    for negation in _ZH_NEGATIONS:
        if negation in text:
            return text.replace(negation, "", 1)
    if bool(torch.randint(2, (), generator=generator)):
        # Negate after a leading pronoun ("他去" -> "他不去"), else before the whole predicate.
        subject = next((p for p in _ZH_PRONOUNS if text.startswith(p)), "")
        return subject + "不" + text[len(subject) :]
    characters = {char for char in text if _is_cjk(char)}
    candidates = sorted({char for sentence in pool for char in sentence if _is_cjk(char)} - characters)
    positions = [i for i, char in enumerate(text) if _is_cjk(char)]
    if candidates and positions:
        position = _choice(positions, generator)
        return text[:position] + _choice(candidates, generator) + text[position + 1 :]
    return "不" + text


def corrupt_text(
    text: str,
    *,
    pool: Sequence[str] = (),
    generator: torch.Generator | None = None,
    language: str = "en",
    rules: Sequence[str] | None = None,
) -> str:
    """Writes a fluent but wrong version of a reference translation.

    Args:
        text (`str`): The reference translation.
        pool (`Sequence[str]`, *optional*): Sentences to draw substitute entities from, typically the other
            references of the batch.
        generator (`torch.Generator`, *optional*): Source of randomness, for reproducibility.
        language (`str`, *optional*, defaults to `"en"`): `"en"` or `"zh"`.
        rules (`Sequence[str]`, *optional*): Names of the English rules to try (default: all of `ENGLISH_RULES`).

    Returns:
        `str`: A corrupted translation that differs from `text`.
    """
    if not text.strip():
        raise ValueError("corrupt_text needs a non-empty reference translation.")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    if language == "zh":
        return _corrupt_chinese(text, pool, generator)
    if language != "en":
        raise ValueError(f"Rule-based corruption supports language 'en' or 'zh', got {language!r}.")
    names = list(rules) if rules is not None else list(ENGLISH_RULES)
    unknown = [name for name in names if name not in ENGLISH_RULES]
    if unknown:
        raise ValueError(f"Unknown corruption rules {unknown}; choose among {list(ENGLISH_RULES)}.")
    tokens = _TOKEN.findall(text)
    order = torch.randperm(len(names), generator=generator).tolist()
    for index in order:
        corrupted = ENGLISH_RULES[names[index]](tokens, pool, generator)
        if corrupted is not None and [t.lower() for t in corrupted] != [t.lower() for t in tokens]:
            return _detokenize(corrupted)
    # No rule applied (a one-word sentence, say): a negated version is still a fluent, wrong translation.
    return "not " + text
