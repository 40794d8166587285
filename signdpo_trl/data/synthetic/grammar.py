"""Sentences of SynthSign: sign order by pattern, English by template.

Each pattern orders its signs the way sign languages such as ASL do, which differs from English word order (time
first, topic before comment, verb last, adjective after the noun, a pronoun copied at the end). The English side is
written by templates that add what has no sign: articles, "to", auxiliaries and the copula, tense from the time
sign, agreement with the subject. A non-manual marker turns the clause into a negation ("My mother does not cook
soup.") or a yes/no question ("Does my mother cook soup?"); the signs stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lexicon import SynthSignLexicon
from .vocabulary import READABLE, VEHICLES, Word


MARKERS = ("none", "negation", "question")
PATTERNS = (
    "time_first",  # YESTERDAY MY MOTHER BUY CAR RED -> My mother bought a red car yesterday.
    "topic_comment",  # COFFEE I LIKE -> I like the coffee.
    "verb_last",  # BOY BOOK READ -> The boy reads a book.
    "predicate",  # TOMORROW MY SISTER TIRED -> My sister will be tired tomorrow.
    "motion",  # WE SCHOOL GO -> We go to the school.
    "pronoun_copy",  # TEACHER DRINK COFFEE SHE -> The teacher drinks coffee.
    "intransitive",  # TOMORROW WE SWIM -> We will swim tomorrow.
    "noun_adjective",  # DOG BLACK SLEEP -> The black dog sleeps.
)
# Intransitive verbs an animal can do.
ANIMAL_VERBS = {"sleep", "run", "play", "swim", "jump", "walk", "rest", "fall", "climb", "wait"}
# Adjectives that can describe a noun of each kind (a "hot soup", never a "gray juice").
_DESCRIBE_ANIMAL = "big small black white brown gray old fast slow beautiful dirty"
_DESCRIBE_FOOD = "big small hot cold good bad sweet cheap expensive warm soft hard red green yellow brown"
_DESCRIBE_DRINK = "hot cold good bad sweet cheap expensive warm"
ADJECTIVES_FOR = {
    "animal": set(_DESCRIBE_ANIMAL.split()),
    "food": set(_DESCRIBE_FOOD.split()),
    "drink": set(_DESCRIBE_DRINK.split()),
}
_ANY_OBJECT = ("food", "drink", "thing", "animal", "person")
_COPULA = {
    ("present", "first"): "am",
    ("present", "plural"): "are",
    ("present", "third"): "is",
    ("past", "first"): "was",
    ("past", "plural"): "were",
    ("past", "third"): "was",
}


@dataclass(frozen=True)
class NounPhrase:
    """A noun with its optional possessive and adjective. Signed as POSS NOUN ADJ; English puts the adjective
    first."""

    noun: Word
    possessive: Word | None = None
    adjective: Word | None = None

    @property
    def words(self) -> list[Word]:
        return [w for w in (self.possessive, self.noun, self.adjective) if w is not None]


@dataclass(frozen=True)
class Clause:
    """What a sentence says, before it is ordered into signs or written in English.

    Args:
        pattern (`str`): One of `PATTERNS`.
        subject (`Word` or `NounPhrase`): A pronoun or a noun phrase.
        verb (`Word`, *optional*): The verb; absent in the `predicate` pattern.
        object (`NounPhrase`, *optional*): Object of a transitive verb.
        place (`Word`, *optional*): Destination of a motion verb.
        state (`Word`, *optional*): Predicate of the `predicate` pattern.
        time (`Word`, *optional*): Time sign; sets the tense.
        copy (`Word`, *optional*): Sentence-final pronoun copy of the subject (no English of its own).
    """

    pattern: str
    subject: Word | NounPhrase
    verb: Word | None = None
    object: NounPhrase | None = None
    place: Word | None = None
    state: Word | None = None
    time: Word | None = None
    copy: Word | None = None

    def signs(self) -> list[tuple[Word, str]]:
        """The signs in signing order, each with the role it plays (`subject`, `verb`, `object`, ...)."""
        subject = _phrase(self.subject, "subject")
        obj = _phrase(self.object, "object")
        time = [(self.time, "time")] if self.time else []
        verb = [(self.verb, "verb")] if self.verb else []
        order = {
            "time_first": time + subject + verb + obj,
            "topic_comment": time + obj + subject + verb,
            "verb_last": time + subject + obj + verb,
            "predicate": time + subject + [(self.state, "state")],
            "motion": time + subject + [(self.place, "place")] + verb,
            "pronoun_copy": time + subject + verb + obj + [(self.copy, "copy")],
            "intransitive": time + subject + verb,
            "noun_adjective": time + subject + verb,
        }
        return order[self.pattern]


def _phrase(phrase: Word | NounPhrase | None, role: str) -> list[tuple[Word, str]]:
    if phrase is None:
        return []
    if isinstance(phrase, Word):
        return [(phrase, role)]
    return [(word, role) for word in phrase.words]


@dataclass(frozen=True)
class Sentence:
    """A signed sentence and its English translation.

    Args:
        clause (`Clause`): What it says.
        marker (`str`): The non-manual marker: `"none"`, `"negation"` or `"question"`.
        glosses (`tuple[str, ...]`): Signs in signing order.
        text (`str`): The English translation.
        surface (`tuple[str, ...]`): For each sign, the English token it shows up as in `text` ("bought" for BUY in a
            past-tense sentence; `""` for a sign with no English of its own, such as a pronoun copy).
    """

    clause: Clause
    marker: str
    glosses: tuple[str, ...]
    text: str
    surface: tuple[str, ...]


def realise(clause: Clause, marker: str = "none") -> Sentence:
    """Write a clause in English under a non-manual marker."""
    if marker not in MARKERS:
        raise ValueError(f"marker must be one of {MARKERS}; got {marker!r}.")
    tense = clause.time.kind if clause.time else "present"
    person = _grammatical_person(clause.subject)
    subject = _noun_phrase_english(clause.subject, definite=True)
    surface: dict[int, str] = {id(clause.time): clause.time.english} if clause.time else {}
    for phrase in (clause.subject, clause.object):
        if isinstance(phrase, NounPhrase):
            surface.update({id(word): word.english for word in phrase.words})
        elif phrase is not None:
            surface[id(phrase)] = phrase.english

    if clause.verb is None:  # copula + state
        surface[id(clause.state)] = clause.state.english
        be = "be" if tense == "future" else _COPULA[tense, person]
        aux, main = ("will", be) if tense == "future" else (be, "")
        rest = [clause.state.english]
    else:
        verb = clause.verb
        if marker == "none" and tense != "future":
            aux, main = "", verb.past if tense == "past" else (verb.third if person == "third" else verb.english)
        else:
            main = verb.english
            aux = {"past": "did", "future": "will"}.get(tense, "does" if person == "third" else "do")
        surface[id(verb)] = main
        if clause.object is not None:
            rest = [_noun_phrase_english(clause.object, definite=clause.pattern == "topic_comment")]
        elif clause.place is not None:
            surface[id(clause.place)] = clause.place.english
            rest = ["home"] if clause.place.english == "home" else ["to the", clause.place.english]
        else:
            rest = []

    if marker == "question":
        tokens = [aux or main, subject] + ([main] if aux and main else []) + rest
    else:
        negation = ["not"] if marker == "negation" else []
        tokens = [subject] + ([aux] if aux else []) + negation + ([main] if main and aux else [main] if main else [])
        tokens = [t for t in tokens if t] + rest
    tokens = [t for t in tokens if t] + ([clause.time.english] if clause.time else [])
    text = " ".join(tokens)
    text = text[0].upper() + text[1:] + ("?" if marker == "question" else ".")
    signs = clause.signs()
    return Sentence(
        clause=clause,
        marker=marker,
        glosses=tuple(word.gloss for word, _ in signs),
        text=text,
        surface=tuple("" if role == "copy" else surface.get(id(word), word.english) for word, role in signs),
    )


def _grammatical_person(subject: Word | NounPhrase) -> str:
    if isinstance(subject, NounPhrase):
        return "third"
    return {"first": "first", "second": "plural", "plural": "plural"}.get(subject.kind, "third")


def _noun_phrase_english(phrase: Word | NounPhrase, definite: bool) -> str:
    if isinstance(phrase, Word):
        return phrase.english
    noun, adjective = phrase.noun, phrase.adjective
    head = " ".join(w.english for w in (adjective, noun) if w is not None)
    if phrase.possessive is not None:
        return f"{phrase.possessive.english} {head}"
    if definite or noun.category == "person" or noun.article == "the":
        return f"the {head}"
    if not noun.article:
        return head
    return f"{'an' if head[0] in 'aeiou' else 'a'} {head}"


class SentenceSampler:
    """Draws sensible clauses from the lexicon: verbs get objects they accept, families take a possessive.

    Args:
        lexicon (`SynthSignLexicon`): Where the words come from.
        negation_rate (`float`): Probability of a negated clause.
        question_rate (`float`): Probability of a yes/no question.
        min_signs (`int`), max_signs (`int`): Length range of a sentence in signs.
    """

    def __init__(
        self,
        lexicon: SynthSignLexicon,
        negation_rate: float = 0.2,
        question_rate: float = 0.2,
        min_signs: int = 3,
        max_signs: int = 7,
    ):
        if negation_rate < 0 or question_rate < 0 or negation_rate + question_rate > 1:
            raise ValueError(
                f"negation_rate and question_rate must be >= 0 with a sum <= 1; got {negation_rate} and "
                f"{question_rate}."
            )
        if not 2 <= min_signs <= max_signs:
            raise ValueError(f"Need 2 <= min_signs <= max_signs; got {min_signs} and {max_signs}.")
        self.marker_probabilities = (1 - negation_rate - question_rate, negation_rate, question_rate)
        self.min_signs, self.max_signs = min_signs, max_signs
        words = {category: [e.word for e in lexicon.by_category(category)] for category in _CATEGORIES}
        self.words = words
        self.nouns = {
            "food": [w for w in words["food"] if w.kind == "food"],
            "drink": [w for w in words["food"] if w.kind == "drink"],
            "thing": words["thing"],
            "readable": [w for w in words["thing"] if w.english in READABLE],
            "vehicle": [w for w in words["thing"] if w.english in VEHICLES],
            "animal": words["animal"],
            "person": words["person"],
            "place": words["place"],
        }
        self.animal_verbs = [w for w in words["verb_i"] if w.english in ANIMAL_VERBS]
        self.adjectives_for = {
            kind: [w for w in words["adjective"] if w.english in allowed] for kind, allowed in ADJECTIVES_FOR.items()
        }
        self.possessives = {w.english: w for w in words["possessive"]}
        self.third_pronouns = {w.english: w for w in words["pronoun"] if w.kind == "third"}

    def sample(self, rng: np.random.Generator) -> Sentence:
        """One sentence, its length within `[min_signs, max_signs]`."""
        marker = MARKERS[int(rng.choice(3, p=self.marker_probabilities))]
        while True:
            clause = self._clause(PATTERNS[int(rng.integers(len(PATTERNS)))], rng)
            if self.min_signs <= len(clause.signs()) <= self.max_signs:
                return realise(clause, marker)

    def _pick(self, words: list[Word], rng: np.random.Generator) -> Word:
        return words[int(rng.integers(len(words)))]

    def _maybe(self, probability: float, words: list[Word], rng: np.random.Generator) -> Word | None:
        return self._pick(words, rng) if rng.random() < probability else None

    def _person(self, rng: np.random.Generator) -> NounPhrase:
        noun = self._pick(self.nouns["person"], rng)
        possessive = None
        if noun.article == "family":
            possessive = self._pick(list(self.possessives.values()), rng)
        return NounPhrase(noun, possessive)

    def _subject(self, rng: np.random.Generator) -> Word | NounPhrase:
        return self._pick(self.words["pronoun"], rng) if rng.random() < 0.45 else self._person(rng)

    def _object(self, verb: Word, subject: Word | NounPhrase, rng: np.random.Generator) -> NounPhrase:
        kinds = verb.kind.split("|")
        kind = self._pick(list(_ANY_OBJECT) if kinds == ["any"] else kinds, rng)
        while True:
            if kind == "person":
                phrase = self._person(rng)
            else:
                adjectives = self.adjectives_for.get(kind, self.words["adjective"])
                phrase = NounPhrase(self._pick(self.nouns[kind], rng), adjective=self._maybe(0.4, adjectives, rng))
            if not isinstance(subject, NounPhrase) or phrase.noun != subject.noun:
                return phrase

    def _clause(self, pattern: str, rng: np.random.Generator) -> Clause:
        time_words = self.words["time"]
        time = self._pick(time_words, rng) if pattern in ("time_first", "intransitive") else None
        time = time or self._maybe(0.5, time_words, rng)
        if pattern == "predicate":
            return Clause(pattern, self._subject(rng), state=self._pick(self.words["state"], rng), time=time)
        if pattern == "motion":
            verb, place = self._pick(self.words["verb_go"], rng), self._pick(self.nouns["place"], rng)
            return Clause(pattern, self._subject(rng), verb, place=place, time=time)
        if pattern == "intransitive":
            return Clause(pattern, self._subject(rng), self._pick(self.words["verb_i"], rng), time=time)
        if pattern == "noun_adjective":
            subject = NounPhrase(
                self._pick(self.nouns["animal"], rng), adjective=self._pick(self.adjectives_for["animal"], rng)
            )
            return Clause(pattern, subject, self._pick(self.animal_verbs, rng), time=time)
        verb = self._pick(self.words["verb_t"], rng)
        if pattern == "pronoun_copy":
            subject = self._person(rng)
            copy = self.third_pronouns[subject.noun.kind]
            return Clause(pattern, subject, verb, self._object(verb, subject, rng), copy=copy, time=time)
        subject = self._subject(rng)
        return Clause(pattern, subject, verb, self._object(verb, subject, rng), time=time)


_CATEGORIES = (
    "pronoun",
    "possessive",
    "person",
    "animal",
    "food",
    "thing",
    "place",
    "time",
    "verb_t",
    "verb_i",
    "verb_go",
    "adjective",
    "state",
)
