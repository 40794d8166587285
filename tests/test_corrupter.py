import pytest
import torch
from tiny import SENTENCES

from signdpo_trl.corrupter import ENGLISH_RULES, corrupt_text
from signdpo_trl.corrupter.rules import flip_negation, shift_scale, substitute_entity, swap_roles
from signdpo_trl.trainer import LanguageHook


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def apply(rule, text: str, pool=()) -> str | None:
    """Runs one rule on a sentence of space-separated tokens and joins its output back."""
    corrupted = rule(text.split(), list(pool), seeded())
    return None if corrupted is None else " ".join(corrupted)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i do not like the rain", "i like the rain"),
        ("he never comes", "he comes"),
        ("she doesn't eat meat", "she does eat meat"),
        ("i like the rain", "i do not like the rain"),
        ("it is cold", "it is not cold"),
        ("can you come", "can you not come"),
    ],
)
def test_flip_negation_removes_a_negation_or_negates_an_affirmative_clause(text, expected):
    assert apply(flip_negation, text) == expected


def test_flip_negation_does_not_apply_without_a_verb_it_can_negate():
    assert apply(flip_negation, "hello friend") is None


def test_swap_roles_exchanges_the_first_and_last_content_words():
    assert apply(swap_roles, "the dog sees the cat") == "the cat sees the dog"


def test_swap_roles_does_not_apply_to_a_single_content_word_or_a_repeated_one():
    assert apply(swap_roles, "i see it") is None
    assert apply(swap_roles, "the dog sees the dog") is None


def test_substitute_entity_puts_a_noun_of_the_pool_in_place_of_a_noun_of_the_text():
    tokens = "the dog sees the cat".split()
    pool = ["my brother goes to school", "we have a house"]
    for seed in range(10):
        corrupted = substitute_entity(tokens, pool, seeded(seed))
        changed = [i for i, (a, b) in enumerate(zip(tokens, corrupted)) if a != b]
        assert len(corrupted) == len(tokens)
        assert len(changed) == 1 and changed[0] in (1, 4)
        assert corrupted[changed[0]] in ("brother", "house")


def test_substitute_entity_needs_a_pool_with_a_new_noun():
    assert apply(substitute_entity, "the dog sees the cat") is None
    assert apply(substitute_entity, "the dog sees the cat", pool=["a cat and the dog"]) is None


@pytest.mark.parametrize(
    ("text", "scale"),
    [
        ("we meet tomorrow", ("yesterday", "today")),
        ("i ate two apples", ("one", "three", "four", "five", "six", "seven", "eight", "nine", "ten")),
        ("the big house", ("small",)),
    ],
)
def test_shift_scale_moves_a_word_to_another_value_of_its_scale(text, scale):
    for seed in range(5):
        corrupted = shift_scale(text.split(), [], seeded(seed))
        changed = [(a, b) for a, b in zip(text.split(), corrupted) if a != b]
        assert len(changed) == 1 and changed[0][1] in scale


def test_corrupt_text_always_differs_from_its_input():
    texts = [*SENTENCES, "hello", "hello hello", "yes.", "Is it COLD?", "The Dog sees the Cat."]
    for text in texts:
        for seed in range(20):
            corrupted = corrupt_text(text, pool=SENTENCES, generator=seeded(seed))
            assert corrupted.strip().lower() != text.strip().lower(), (text, seed)


def test_corrupt_text_falls_back_to_negating_a_sentence_no_rule_applies_to():
    assert corrupt_text("hello") == "not hello"


def test_corrupt_text_with_one_rule_applies_that_rule():
    assert corrupt_text("the dog sees the cat.", rules=["swap_roles"]) == "the cat sees the dog."


def test_corrupt_text_is_deterministic_for_a_generator_seed():
    outputs = {
        seed: corrupt_text("the dog sees the cat tomorrow", pool=SENTENCES, generator=seeded(seed))
        for seed in range(8)
    }
    again = {
        seed: corrupt_text("the dog sees the cat tomorrow", pool=SENTENCES, generator=seeded(seed))
        for seed in range(8)
    }
    assert outputs == again
    assert len(set(outputs.values())) > 1
    assert corrupt_text("i like the rain") == corrupt_text("i like the rain", generator=seeded(0))


def test_chinese_corruption_removes_an_existing_negation():
    assert corrupt_text("他不去学校", language="zh") == "他去学校"
    assert corrupt_text("我没有钱", language="zh") == "我钱"


def test_chinese_corruption_negates_after_a_leading_pronoun_or_substitutes_a_character():
    outputs = {corrupt_text("他去学校", language="zh", pool=["猫"], generator=seeded(seed)) for seed in range(20)}
    assert "他不去学校" in outputs
    substituted = outputs - {"他不去学校"}
    assert substituted and all(len(text) == 4 and "猫" in text for text in substituted)


def test_chinese_corruption_without_a_pool_negates_the_whole_sentence():
    outputs = {corrupt_text("他去学校", language="zh", generator=seeded(seed)) for seed in range(20)}
    assert outputs == {"他不去学校", "不他去学校"}


def test_corrupt_text_refuses_an_empty_reference():
    with pytest.raises(ValueError, match="non-empty"):
        corrupt_text("   ")


def test_corrupt_text_names_an_unknown_rule_and_the_known_ones():
    with pytest.raises(ValueError, match="'reverse_words'.*flip_negation"):
        corrupt_text("the dog sees the cat", rules=["reverse_words"])


def test_corrupt_text_refuses_an_unsupported_language():
    with pytest.raises(ValueError, match="'de'"):
        corrupt_text("der Hund", language="de")


def test_english_rules_are_the_four_documented_ones():
    assert list(ENGLISH_RULES) == ["flip_negation", "swap_roles", "substitute_entity", "shift_scale"]


# LanguageHook


def test_language_hook_draws_from_the_rejected_texts_column_and_never_returns_the_reference():
    rows = [
        {"text": "the dog sees the cat", "rejected_texts": ["the dog sees the cat", "", "the cat sees the dog"]},
        {"text": "i like tea", "rejected_texts": [" i like tea ", "i hate tea", "you like tea"]},
    ]
    hook = LanguageHook()
    seen = set()
    for seed in range(20):
        first, second = hook(None, rows, seeded(seed))
        assert first == "the cat sees the dog"
        assert second in ("i hate tea", "you like tea")
        seen.add(second)
    assert seen == {"i hate tea", "you like tea"}


def test_language_hook_falls_back_to_rules_with_the_other_references_as_pool():
    rows = [
        {"text": "the dog sees the cat", "rejected_texts": ["the dog sees the cat"]},
        {"text": "my brother goes to school"},
        {"text": "i like the rain", "rejected_texts": None},
    ]
    references = [row["text"] for row in rows]
    generator = seeded(3)
    expected = [
        corrupt_text(reference, pool=references[:i] + references[i + 1 :], generator=generator)
        for i, reference in enumerate(references)
    ]
    assert LanguageHook()(None, rows, seeded(3)) == expected
    assert all(r != c for r, c in zip(expected, references))


def test_language_hook_reads_the_configured_columns_and_language():
    rows = [{"target": "他不去学校", "wrong": []}]
    hook = LanguageHook(text_column="target", rejected_texts_column="wrong", language="zh")
    assert hook(None, rows, seeded(0)) == ["他去学校"]


def test_negating_a_third_person_verb_uses_its_base_form():
    negated = flip_negation("she likes the rain .".split(), [], torch.Generator().manual_seed(0))
    assert negated == ["she", "does", "not", "like", "the", "rain", "."]
    assert flip_negation("he studies math".split(), [], torch.Generator())[3] == "study"
