"""The words SynthSign can sign, by grammatical and semantic category, with the English forms they need.

Each sign of the lexicon glosses one entry here. Nouns carry the article they take and the categories a verb may
select; verbs carry their third-person and past forms and the object categories they accept, so that sentences make
sense ("the boy reads a book", never "the book reads a boy").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Word:
    """One English word of the vocabulary.

    Args:
        gloss (`str`): The sign's gloss (upper case, hyphens for multi-word glosses).
        category (`str`): Grammatical category: pronoun, possessive, person, animal, food, drink, thing, place, time,
            verb_t (transitive), verb_i (intransitive), verb_go (motion to a place), adjective, state.
        english (`str`): English base form ("mother", "read", "red", "next week").
        kind (`str`): Semantic class used for selection (a noun's kind, a verb's accepted object kinds joined by
            "|", a time word's tense, a person's pronoun).
        third (`str`): Third-person singular present of a verb.
        past (`str`): Past tense of a verb.
        article (`str`): Article of a noun in object position: "a", "an", or "" (mass nouns, names of places).
    """

    gloss: str
    category: str
    english: str
    kind: str = ""
    third: str = ""
    past: str = ""
    article: str = "a"


def _nouns(category: str, kind: str, text: str, mass: str = "") -> list[Word]:
    mass_words = set(mass.split())
    words = []
    for english in text.split():
        article = "" if english in mass_words else ("an" if english[0] in "aeiou" else "a")
        words.append(Word(english.upper(), category, english.replace("_", " "), kind, article=article))
    return words


def _verbs(category: str, text: str) -> list[Word]:
    """`text` holds `base/third/past:objects` items; `objects` lists accepted object kinds joined by `|`."""
    words = []
    for item in text.split():
        forms, _, objects = item.partition(":")
        base, third, past = forms.split("/")
        words.append(Word(base.upper(), category, base, objects, third=third, past=past))
    return words


PRONOUNS = [
    Word("I", "pronoun", "I", "first"),
    Word("YOU", "pronoun", "you", "second"),
    Word("HE", "pronoun", "he", "third"),
    Word("SHE", "pronoun", "she", "third"),
    Word("WE", "pronoun", "we", "plural"),
    Word("THEY", "pronoun", "they", "plural"),
]
POSSESSIVES = [Word("MY", "possessive", "my"), Word("YOUR", "possessive", "your")]

# People: kind is the pronoun a sentence-final pronoun copy uses; family words (and friends) always take a possessive
# sign, the others sometimes take "the" in English only.
_FAMILY = (
    "mother:she father:he sister:she brother:he grandmother:she grandfather:he aunt:she uncle:he son:he daughter:she "
    "nephew:he niece:she friend:she baby:she"
)
_PEOPLE = (
    "teacher:she doctor:he student:he neighbor:he nurse:she farmer:he boy:he girl:she man:he woman:she chef:he "
    "pilot:she artist:he driver:he dentist:she lawyer:he singer:she dancer:he"
)
PEOPLE = [Word(w.upper(), "person", w, k, article="family") for w, k in (x.split(":") for x in _FAMILY.split())] + [
    Word(w.upper(), "person", w, k, article="the") for w, k in (x.split(":") for x in _PEOPLE.split())
]

ANIMALS = _nouns(
    "animal",
    "animal",
    "dog cat bird horse cow fish rabbit mouse lion bear duck pig sheep frog snake goat monkey tiger turtle "
    "owl elephant",
)
FOODS = _nouns(
    "food",
    "food",
    "apple bread cake soup rice egg cheese banana orange pizza sandwich cookie meat chicken salad potato carrot "
    "pie candy tomato pear grape onion pancake noodle cereal",
    mass="bread soup rice cheese meat chicken salad candy cereal",
)
DRINKS = _nouns("food", "drink", "water milk coffee tea juice beer wine", mass="water milk coffee tea juice beer wine")
THINGS = _nouns(
    "thing",
    "thing",
    "book letter newspaper phone computer ball car bike bus truck boat house chair table bed door window lamp "
    "clock shirt hat shoe bag key picture camera umbrella flower tree game song movie gift basket pencil box "
    "ring coat sock glove blanket mirror cup plate spoon knife kite "
    "guitar drum piano toy",
)
READABLE = {"book", "letter", "newspaper"}
VEHICLES = {"car", "bike", "bus", "truck", "boat"}
PLACES = _nouns(
    "place",
    "place",
    "school store home church hospital park library office restaurant beach farm zoo city airport bank "
    "museum hotel station garden kitchen",
)
# Kind of a time word is the tense it sets.
TIMES = [
    Word("YESTERDAY", "time", "yesterday", "past"),
    Word("LAST-WEEK", "time", "last week", "past"),
    Word("LAST-YEAR", "time", "last year", "past"),
    Word("TOMORROW", "time", "tomorrow", "future"),
    Word("NEXT-WEEK", "time", "next week", "future"),
    Word("NEXT-YEAR", "time", "next year", "future"),
    Word("TONIGHT", "time", "tonight", "future"),
    Word("TODAY", "time", "today", "present"),
    Word("NOW", "time", "now", "present"),
    Word("EVERY-DAY", "time", "every day", "present"),
    Word("EVERY-MORNING", "time", "every morning", "present"),
    Word("EVERY-WEEK", "time", "every week", "present"),
]
# Objects: food, drink, thing, readable, vehicle, animal, person, place, any.
TRANSITIVE_VERBS = _verbs(
    "verb_t",
    "like/likes/liked:any want/wants/wanted:food|drink|thing|animal need/needs/needed:food|drink|thing "
    "love/loves/loved:any see/sees/saw:any have/has/had:food|drink|thing|animal buy/buys/bought:food|drink|thing "
    "sell/sells/sold:food|drink|thing eat/eats/ate:food drink/drinks/drank:drink cook/cooks/cooked:food "
    "read/reads/read:readable write/writes/wrote:readable drive/drives/drove:vehicle ride/rides/rode:vehicle "
    "help/helps/helped:person visit/visits/visited:person|place find/finds/found:thing|animal "
    "lose/loses/lost:thing bring/brings/brought:food|drink|thing make/makes/made:food|thing "
    "clean/cleans/cleaned:thing|place wash/washes/washed:thing|animal paint/paints/painted:thing "
    "draw/draws/drew:thing|animal|person fix/fixes/fixed:thing open/opens/opened:thing "
    "close/closes/closed:thing carry/carries/carried:thing|animal feed/feeds/fed:animal|person "
    "call/calls/called:person meet/meets/met:person teach/teaches/taught:person watch/watches/watched:any "
    "hate/hates/hated:food|drink|animal order/orders/ordered:food|drink borrow/borrows/borrowed:thing "
    "give/gives/gave:food|drink|thing hold/holds/held:thing|animal|person catch/catches/caught:thing|animal "
    "forget/forgets/forgot:thing|person remember/remembers/remembered:person|place "
    "miss/misses/missed:person|place throw/throws/threw:thing kick/kicks/kicked:thing "
    "pay/pays/paid:person send/sends/sent:readable|food|thing push/pushes/pushed:thing pull/pulls/pulled:thing",
)
INTRANSITIVE_VERBS = _verbs(
    "verb_i",
    "sleep/sleeps/slept run/runs/ran work/works/worked play/plays/played swim/swims/swam dance/dances/danced "
    "sing/sings/sang cry/cries/cried laugh/laughs/laughed walk/walks/walked sit/sits/sat study/studies/studied "
    "rest/rests/rested wait/waits/waited jump/jumps/jumped smile/smiles/smiled fall/falls/fell "
    "shout/shouts/shouted pray/prays/prayed travel/travels/traveled climb/climbs/climbed "
    "relax/relaxes/relaxed exercise/exercises/exercised",
)
# Motion verbs take a place ("go to the school"); their glosses differ from the transitive ones.
MOTION_VERBS = [
    Word("GO", "verb_go", "go", "place", third="goes", past="went"),
    Word("COME", "verb_go", "come", "place", third="comes", past="came"),
    Word("DRIVE-TO", "verb_go", "drive", "place", third="drives", past="drove"),
    Word("WALK-TO", "verb_go", "walk", "place", third="walks", past="walked"),
    Word("FLY-TO", "verb_go", "fly", "place", third="flies", past="flew"),
    Word("MOVE-TO", "verb_go", "move", "place", third="moves", past="moved"),
]
# Adjectives describe things, food and animals; states describe people (predicates: "my sister is tired").
ADJECTIVES = [
    Word(w.upper(), "adjective", w, "any")
    for w in "big small red blue green black white yellow new old hot cold good bad beautiful ugly long short "
    "heavy light cheap expensive wet dirty fast slow brown pink soft hard "
    "purple gray warm sweet round".split()
]
STATES = [
    Word(w.upper(), "state", w, "person")
    for w in "happy sad tired sick hungry angry busy sleepy bored thirsty scared proud lonely nervous "
    "late ready calm upset excited worried".split()
]


def all_words() -> list[Word]:
    """Every word, each gloss once (a gloss shared by two categories keeps its first entry)."""
    seen: dict[str, Word] = {}
    for group in (
        PRONOUNS,
        POSSESSIVES,
        PEOPLE,
        ANIMALS,
        FOODS,
        DRINKS,
        THINGS,
        PLACES,
        TIMES,
        TRANSITIVE_VERBS,
        INTRANSITIVE_VERBS,
        MOTION_VERBS,
        ADJECTIVES,
        STATES,
    ):
        for word in group:
            seen.setdefault(word.gloss, word)
    return list(seen.values())
