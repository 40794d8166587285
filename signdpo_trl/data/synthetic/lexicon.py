"""The SynthSign lexicon: every sign defined by its phonological parameters, with its minimal pairs.

A sign is a handshape, a location on or near the body, a movement, a palm orientation and a hand arrangement (one
hand, two symmetric hands, or the dominant hand acting on a base hand). Part of the lexicon is built on purpose from
another sign of the same category by changing exactly one parameter (as ASL's MOTHER and FATHER differ only in
location), so that the corpus holds the fine distinctions that semantic drift erases. Every pair of signs that differ
in exactly one parameter is recorded, whether built on purpose or met by chance.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .handshapes import HANDSHAPES
from .vocabulary import Word, all_words


# Places the dominant hand goes to, in body units (shoulder width 1; origin between the shoulders; x towards the
# signer's left, y down, z away from the camera), written for a right-handed signer.
LOCATIONS: dict[str, tuple[float, float, float]] = {
    "forehead": (-0.03, -0.9, -0.35),
    "eyes": (-0.12, -0.74, -0.38),
    "nose": (0.0, -0.64, -0.45),
    "mouth": (0.0, -0.5, -0.42),
    "chin": (0.0, -0.38, -0.38),
    "cheek": (-0.2, -0.58, -0.28),
    "temple": (-0.27, -0.78, -0.15),
    "chest": (-0.05, 0.38, -0.25),
    "shoulder": (0.32, 0.08, -0.2),
    "neutral": (-0.2, 0.6, -0.7),
    "waist": (-0.12, 1.02, -0.45),
    "side": (-0.7, 0.55, -0.5),
}
MOVEMENTS = ("hold", "straight_down", "straight_across", "arc", "circle", "repeated", "wiggle", "twist")
# Palm orientation as (finger direction, palm normal) of the right hand, in body axes.
ORIENTATIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "forward": ((0.0, -1.0, 0.0), (0.0, 0.0, -1.0)),
    "back": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    "midline": ((0.0, -1.0, -0.3), (1.0, 0.0, 0.0)),
    "down": ((0.8, 0.0, -0.6), (0.0, 1.0, 0.0)),
    "up": ((0.8, 0.0, -0.6), (0.0, -1.0, 0.0)),
    "across": ((0.95, -0.3, 0.0), (0.0, 0.0, -1.0)),
}
HANDS = ("one", "symmetric", "base")
# A base hand sits in front of the lower body, so a sign on it is made there.
BASE_LOCATIONS = ("chest", "neutral", "waist")
PARAMETERS = ("handshape", "location", "movement", "orientation", "hands")
_VALUES = {
    "handshape": tuple(HANDSHAPES),
    "location": tuple(LOCATIONS),
    "movement": MOVEMENTS,
    "orientation": tuple(ORIENTATIONS),
    "hands": HANDS,
}
_HANDS_WEIGHTS = (0.6, 0.25, 0.15)


@dataclass(frozen=True)
class SignEntry:
    """One sign of the lexicon.

    Args:
        gloss (`str`): Upper-case gloss, unique in the lexicon.
        word (`Word`): The English word it translates to, with its category and forms.
        handshape (`str`): Key of `HANDSHAPES`.
        location (`str`): Key of `LOCATIONS`.
        movement (`str`): One of `MOVEMENTS`.
        orientation (`str`): Key of `ORIENTATIONS`.
        hands (`str`): `"one"`, `"symmetric"` (the other hand mirrors) or `"base"` (the other hand is a flat base).
    """

    gloss: str
    word: Word
    handshape: str
    location: str
    movement: str
    orientation: str
    hands: str

    @property
    def parameters(self) -> tuple[str, str, str, str, str]:
        """The parameter values in the order of `PARAMETERS`."""
        return (self.handshape, self.location, self.movement, self.orientation, self.hands)

    def differing_parameters(self, other: SignEntry) -> tuple[str, ...]:
        """Names of the parameters in which this sign differs from `other`."""
        return tuple(name for name, a, b in zip(PARAMETERS, self.parameters, other.parameters) if a != b)


class SynthSignLexicon:
    """The signs of SynthSign and the minimal pairs among them.

    Args:
        entries (`list[SignEntry]`): The signs; glosses and parameter combinations must be unique.
    """

    def __init__(self, entries: list[SignEntry]):
        self.entries = list(entries)
        self._by_gloss = {entry.gloss: entry for entry in self.entries}
        if len(self._by_gloss) != len(self.entries):
            raise ValueError("SynthSignLexicon: glosses must be unique.")
        if len({entry.parameters for entry in self.entries}) != len(self.entries):
            raise ValueError("SynthSignLexicon: two signs share all five parameters; they could not be told apart.")
        codes = np.array([[_VALUES[p].index(v) for p, v in zip(PARAMETERS, e.parameters)] for e in self.entries])
        differing = (codes[:, None, :] != codes[None, :, :]).sum(-1)
        self._pairs: dict[str, list[tuple[str, str]]] = {entry.gloss: [] for entry in self.entries}
        for i, j in zip(*np.nonzero(np.triu(differing == 1))):
            a, b = self.entries[i], self.entries[j]
            (parameter,) = a.differing_parameters(b)
            self._pairs[a.gloss].append((b.gloss, parameter))
            self._pairs[b.gloss].append((a.gloss, parameter))

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, gloss: str) -> SignEntry:
        try:
            return self._by_gloss[gloss]
        except KeyError:
            raise KeyError(f"{gloss!r} is not a sign of the SynthSign lexicon.") from None

    def __contains__(self, gloss: str) -> bool:
        return gloss in self._by_gloss

    def minimal_pair_of(self, gloss: str) -> list[tuple[str, str]]:
        """Signs that differ from `gloss` in exactly one parameter, as `(other gloss, parameter name)` pairs."""
        self[gloss]
        return list(self._pairs[gloss])

    @property
    def minimal_pairs(self) -> list[tuple[str, str, str]]:
        """Every minimal pair once, as `(gloss a, gloss b, parameter)` with a before b in lexicon order."""
        order = {entry.gloss: i for i, entry in enumerate(self.entries)}
        return [(a, b, p) for a, pairs in self._pairs.items() for b, p in pairs if order[a] < order[b]]

    @property
    def fraction_in_minimal_pairs(self) -> float:
        """Fraction of the signs that belong to at least one minimal pair."""
        return sum(bool(pairs) for pairs in self._pairs.values()) / len(self.entries)

    def by_category(self, category: str) -> list[SignEntry]:
        """The signs whose word has grammatical category `category`."""
        return [entry for entry in self.entries if entry.word.category == category]


def _token_forms(word: Word) -> frozenset[str]:
    """Every English token the word can be written with: its base form's words and a verb's inflected forms."""
    return frozenset(token.casefold() for form in (word.english, word.third, word.past) for token in form.split())


def minimal_pair_words(lexicon: SynthSignLexicon) -> dict[str, frozenset[str]]:
    """The English tokens a translation writes when it mistakes a sign for one of its minimal-pair partners.

    A sign's token forms (its base form's words, and a verb's third-person and past forms) map to those of each of
    its partners. Tokens that a sign shares with a partner are left out on both sides ("week" of "next week" and "last
    week"), since writing them says nothing about which of the two signs was read; a partner whose tokens are all
    shared with the sign contributes nothing. The tokens are case-folded, as `corrupter.error_kinds` compares them.

    Args:
        lexicon (`SynthSignLexicon`): The lexicon whose minimal pairs to read.

    Returns:
        `dict[str, frozenset[str]]`: For every token of a sign with a minimal-pair partner, the tokens of its partners;
        keys in sorted order. The mapping is symmetric: `b in words[a]` exactly when `a in words[b]`.

    Example (the mapping is what `signdpo_trl.corrupter.classify_error` takes as its `minimal_pair_words`):

    ```python
    >>> words = minimal_pair_words(build_lexicon(0))
    >>> sorted(words["day"])  # EVERY-DAY and EVERY-MORNING differ in one parameter; "every" is shared
    ['morning']
    ```
    """
    partners: dict[str, set[str]] = {}
    for first, second, _ in lexicon.minimal_pairs:
        first_forms, second_forms = _token_forms(lexicon[first].word), _token_forms(lexicon[second].word)
        own_first, own_second = first_forms - second_forms, second_forms - first_forms
        # A pair whose tokens one side lacks cannot show up as a token substituted for another.
        if not own_first or not own_second:
            continue
        for token in own_first:
            partners.setdefault(token, set()).update(own_second)
        for token in own_second:
            partners.setdefault(token, set()).update(own_first)
    return {token: frozenset(partners[token]) for token in sorted(partners)}


def _valid(parameters: dict[str, str]) -> bool:
    return parameters["hands"] != "base" or parameters["location"] in BASE_LOCATIONS


def _random_parameters(rng: np.random.Generator) -> dict[str, str]:
    while True:
        parameters = {name: str(rng.choice(_VALUES[name])) for name in PARAMETERS[:-1]}
        parameters["hands"] = str(rng.choice(HANDS, p=_HANDS_WEIGHTS))
        if _valid(parameters):
            return parameters


def build_lexicon(seed: int = 0, minimal_pair_rate: float = 0.3) -> SynthSignLexicon:
    """Assign phonological parameters to every word of the vocabulary.

    Args:
        seed (`int`, defaults to `0`): Seed of the assignment; the same seed gives the same lexicon.
        minimal_pair_rate (`float`, defaults to `0.3`): Probability that a sign is built from an earlier sign of
            the same category by changing exactly one parameter (each such sign and its source form a minimal
            pair, so about twice this fraction of the lexicon ends up in minimal pairs).

    Returns:
        `SynthSignLexicon`: One sign per word of `vocabulary.all_words()`.
    """
    if not 0.0 <= minimal_pair_rate <= 1.0:
        raise ValueError(f"minimal_pair_rate must be in [0, 1]; got {minimal_pair_rate}.")
    rng = np.random.default_rng(seed)
    used: set[tuple[str, ...]] = set()
    entries: list[SignEntry] = []
    for _, words in itertools.groupby(all_words(), key=lambda word: word.category):
        built: list[dict[str, str]] = []
        for word in words:
            parameters = None
            if built and rng.random() < minimal_pair_rate:
                parameters = _one_parameter_changed(built[int(rng.integers(len(built)))], used, rng)
            while parameters is None or tuple(parameters.values()) in used:
                parameters = _random_parameters(rng)
            used.add(tuple(parameters.values()))
            built.append(parameters)
            entries.append(SignEntry(word.gloss, word, **parameters))
    return SynthSignLexicon(entries)


def _one_parameter_changed(
    source: dict[str, str], used: set[tuple[str, ...]], rng: np.random.Generator
) -> dict[str, str] | None:
    for name in rng.permutation(PARAMETERS):
        for value in rng.permutation(_VALUES[name]):
            candidate = dict(source, **{name: str(value)})
            if value != source[name] and _valid(candidate) and tuple(candidate.values()) not in used:
                return candidate
    return None
