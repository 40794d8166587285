"""Specification of the classifier of meaning errors (`signdpo_trl.corrupter.error_kinds`) and of the minimal-pair
words of SynthSign it reads (`signdpo_trl.data.synthetic.minimal_pair_words`)."""

import pytest

from signdpo_trl.corrupter import ERROR_KINDS, classify_error, count_error_kinds, examples_by_kind
from signdpo_trl.data.synthetic import SynthSignConfig, build_lexicon, minimal_pair_words


PARTNERS = {"mother": {"father"}, "father": {"mother"}}


@pytest.fixture(scope="module")
def lexicon():
    config = SynthSignConfig()
    return build_lexicon(config.lexicon_seed, config.minimal_pair_rate)


@pytest.fixture(scope="module")
def synthsign_words(lexicon):
    return minimal_pair_words(lexicon)


def test_error_kinds_are_listed_in_priority_order():
    assert ERROR_KINDS == (
        "negation",
        "question",
        "swapped_roles",
        "minimal_pair_sign",
        "wrong_word",
        "missing_words",
        "added_words",
        "several_edits",
    )


# One kind each (English)


@pytest.mark.parametrize(
    ("reference", "error"), [("she does not like tea", "she likes tea"), ("she likes tea", "she does not like tea")]
)
def test_losing_or_adding_a_negation_is_negation(reference, error):
    assert classify_error(reference, error) == "negation"


@pytest.mark.parametrize("negated", ["she doesn't like tea", "she never likes tea", "nobody likes tea"])
def test_negated_contractions_and_negative_words_are_negation_markers(negated):
    assert classify_error("she likes tea", negated) == "negation"


def test_negated_contraction_and_its_spelled_out_form_are_both_negated_so_the_pair_is_a_wrong_word():
    assert classify_error("she does not like tea", "she doesn't like tea") == "wrong_word"


@pytest.mark.parametrize(
    ("reference", "error"),
    [
        ("you want coffee?", "you want coffee"),
        ("you want coffee.", "You want coffee？"),
        ('"you want coffee?"', "you want coffee"),
    ],
)
def test_a_question_read_as_a_statement_or_the_other_way_round_is_question(reference, error):
    assert classify_error(reference, error) == "question"


def test_same_words_in_another_order_are_swapped_roles():
    assert classify_error("the dog chases the cat", "the cat chases the dog") == "swapped_roles"


def test_case_and_punctuation_do_not_change_the_kind():
    assert classify_error("The dog chases the cat.", "the CAT chases, the dog!") == "swapped_roles"


def test_a_word_replaced_by_its_minimal_pair_partner_is_minimal_pair_sign():
    kind = classify_error("my mother cooks soup", "my father cooks soup", minimal_pair_words=PARTNERS)
    assert kind == "minimal_pair_sign"


def test_minimal_pair_words_are_compared_case_folded():
    kind = classify_error("my mother cooks soup", "my father cooks soup", minimal_pair_words={"Mother": ["FATHER"]})
    assert kind == "minimal_pair_sign"


def test_one_partner_among_several_single_word_substitutions_makes_minimal_pair_sign():
    kind = classify_error("my mother cooks the soup", "my father cooks the rice", minimal_pair_words=PARTNERS)
    assert kind == "minimal_pair_sign"


def test_a_substitution_by_a_word_that_is_not_a_partner_is_wrong_word():
    kind = classify_error("my mother cooks soup", "my teacher cooks soup", minimal_pair_words=PARTNERS)
    assert kind == "wrong_word"


def test_without_minimal_pair_words_no_substitution_is_minimal_pair_sign():
    assert classify_error("my mother cooks soup", "my father cooks soup") == "wrong_word"


def test_one_run_of_words_replaced_by_a_run_of_another_length_is_wrong_word():
    assert classify_error("the boy reads a book", "the boy reads the old newspaper") == "wrong_word"


@pytest.mark.parametrize("error", ["my dog sleeps now", "my dog sleeps", "dog sleeps now", "big dog"])
def test_words_left_out_and_nothing_else_are_missing_words(error):
    assert classify_error("my big dog sleeps now", error) == "missing_words"


def test_an_empty_error_is_missing_words():
    assert classify_error("the dog sleeps", "") == "missing_words"


def test_words_added_and_nothing_else_are_added_words():
    assert classify_error("the dog sleeps", "the big dog sleeps here") == "added_words"


@pytest.mark.parametrize(
    "error",
    [
        "a boy reads the book now",  # two substitutions and an addition
        "the girl reads a letter",  # two single-word substitutions, neither of a minimal pair
    ],
)
def test_edits_in_several_places_are_several_edits(error):
    assert classify_error("the boy reads a book", error) == "several_edits"


def test_a_deletion_and_an_insertion_are_several_edits():
    assert classify_error("the big dog sleeps", "the dog sleeps now") == "several_edits"


# Priority


def test_negation_wins_over_a_wrong_word():
    assert classify_error("she does not like tea", "she likes coffee") == "negation"


def test_negation_wins_over_question():
    assert classify_error("does she not like tea?", "she likes tea") == "negation"


def test_question_wins_over_swapped_roles():
    assert classify_error("does the dog chase the cat?", "the cat does chase the dog") == "question"


def test_swapped_roles_win_over_minimal_pair_sign():
    partners = {"dog": {"cat"}, "cat": {"dog"}}
    kind = classify_error("the dog chases the cat", "the cat chases the dog", minimal_pair_words=partners)
    assert kind == "swapped_roles"


# Chinese


@pytest.mark.parametrize(
    ("reference", "error", "kind"),
    [
        ("她不喜欢茶。", "她喜欢茶。", "negation"),
        ("我没有钱", "我有钱", "negation"),
        ("你想喝咖啡吗？", "你想喝咖啡。", "question"),
        ("你想喝咖啡?", "你想喝咖啡", "question"),
        ("狗追猫", "猫追狗", "swapped_roles"),
        ("我喜欢茶", "我 喜欢 咖啡", "wrong_word"),
        ("我明天见他", "我明天见别人", "wrong_word"),
        ("我没有钱", "我没钱", "missing_words"),
        ("我喝茶", "我每天喝茶", "added_words"),
    ],
)
def test_chinese_is_compared_character_by_character(reference, error, kind):
    assert classify_error(reference, error, language="zh") == kind


def test_chinese_language_codes_with_a_region_are_chinese():
    assert classify_error("狗追猫", "猫追狗", language="zh-CN") == "swapped_roles"


def test_chinese_minimal_pair_words_are_characters():
    kind = classify_error("我喝茶", "我喝酒", minimal_pair_words={"茶": {"酒"}}, language="zh")
    assert kind == "minimal_pair_sign"


# Errors


@pytest.mark.parametrize(
    ("reference", "error", "language"),
    [
        ("The dog sleeps.", "the dog sleeps", "en"),
        ("she don't", "She don't!", "en"),
        ("我喜欢茶", "我 喜欢 茶。", "zh"),
    ],
)
def test_the_same_translation_is_not_an_error(reference, error, language):
    with pytest.raises(ValueError, match="same translation as its reference"):
        classify_error(reference, error, language=language)


@pytest.mark.parametrize("reference", ["", "  ", "?!"])
def test_a_reference_without_words_cannot_be_classified_against(reference):
    with pytest.raises(ValueError, match="has no words"):
        classify_error(reference, "the dog sleeps")


def test_a_minimal_pair_partner_given_as_a_string_is_refused():
    with pytest.raises(TypeError, match=r"Write \{'mother': \{'father'\}\} instead"):
        classify_error("my mother cooks", "my father cooks", minimal_pair_words={"mother": "father"})


# count_error_kinds and examples_by_kind


def test_count_error_kinds_counts_every_pair_and_lists_every_kind_in_order():
    references = ["the dog chases the cat", "she likes tea", "the dog sleeps", "the cat sleeps"]
    # A list of errors, a single error, an empty list and None (a row without mined errors).
    errors = [["the cat chases the dog", "the dog chases the bird"], "she does not like tea", [], None]
    counts = count_error_kinds(references, errors)
    assert list(counts) == list(ERROR_KINDS)
    assert counts == {
        "negation": 1,
        "question": 0,
        "swapped_roles": 1,
        "minimal_pair_sign": 0,
        "wrong_word": 1,
        "missing_words": 0,
        "added_words": 0,
        "several_edits": 0,
    }


def test_count_error_kinds_of_no_pairs_is_all_zeros():
    assert count_error_kinds([], []) == dict.fromkeys(ERROR_KINDS, 0)


def test_count_error_kinds_passes_minimal_pair_words_and_language_on():
    counts = count_error_kinds(["我喝茶"], [["我喝酒", "我喝水"]], minimal_pair_words={"茶": ["酒"]}, language="zh")
    assert (counts["minimal_pair_sign"], counts["wrong_word"]) == (1, 1)


def test_count_error_kinds_refuses_references_and_errors_of_different_lengths():
    with pytest.raises(ValueError, match="got 2 references and 1 entries of errors"):
        count_error_kinds(["the dog sleeps", "she likes tea"], [["the cat sleeps"]])


def test_count_error_kinds_names_the_row_of_a_pair_that_is_not_an_error():
    with pytest.raises(ValueError, match="^Row 1: 'She likes tea.' is the same translation"):
        count_error_kinds(["the dog sleeps", "she likes tea"], [["the cat sleeps"], ["She likes tea."]])


def test_examples_by_kind_keeps_the_first_pairs_of_each_kind_in_input_order():
    references = ["the dog sleeps", "the cat sleeps"]
    errors = [["the bird sleeps", "the cow sleeps"], ["the cat does not sleep", "the fish sleeps"]]
    examples = examples_by_kind(references, errors, max_per_kind=2)
    assert list(examples) == list(ERROR_KINDS)
    assert examples["wrong_word"] == [("the dog sleeps", "the bird sleeps"), ("the dog sleeps", "the cow sleeps")]
    assert examples["negation"] == [("the cat sleeps", "the cat does not sleep")]
    assert examples["question"] == []


def test_examples_by_kind_refuses_fewer_than_one_example_per_kind():
    with pytest.raises(ValueError, match="max_per_kind must be at least 1; got 0"):
        examples_by_kind(["the dog sleeps"], ["the cat sleeps"], max_per_kind=0)


# minimal_pair_words of SynthSign


def test_synthsign_minimal_pair_words_are_symmetric(synthsign_words):
    assert synthsign_words
    for token, partners in synthsign_words.items():
        for partner in partners:
            assert token in synthsign_words[partner], (token, partner)


def test_every_minimal_pair_of_single_word_signs_maps_all_forms_of_one_to_the_other(lexicon, synthsign_words):
    checked = 0
    for first, second, _ in lexicon.minimal_pairs:
        words = [lexicon[gloss].word for gloss in (first, second)]
        forms = [{f.casefold() for f in (w.english, w.third, w.past) if f} for w in words]
        if any(" " in w.english for w in words) or forms[0] & forms[1]:
            continue
        for own, other in (forms, forms[::-1]):
            for token in own:
                assert other <= synthsign_words[token], (first, second, token)
        checked += 1
    assert checked > 100


def test_a_known_pair_of_nouns_maps_each_to_the_other(lexicon, synthsign_words):
    assert ("DOG", "CAT", "orientation") in lexicon.minimal_pairs
    assert "cat" in synthsign_words["dog"] and "dog" in synthsign_words["cat"]


def test_inflected_verb_forms_map_to_every_form_of_the_partner(lexicon, synthsign_words):
    assert any({a, b} == {"LIKE", "WANT"} for a, b, _ in lexicon.minimal_pairs)
    for form in ("like", "likes", "liked"):
        assert {"want", "wants", "wanted"} <= synthsign_words[form]


def test_tokens_shared_by_a_multi_word_sign_and_its_partner_are_left_out(lexicon, synthsign_words):
    assert any({a, b} == {"EVERY-DAY", "EVERY-MORNING"} for a, b, _ in lexicon.minimal_pairs)
    assert synthsign_words["day"] == frozenset({"morning"})
    assert synthsign_words["morning"] == frozenset({"day"})
    assert "every" not in synthsign_words


def test_a_synthsign_sign_read_as_its_partner_is_minimal_pair_sign(synthsign_words):
    kind = classify_error("The boy likes a cake.", "The boy wants a cake.", minimal_pair_words=synthsign_words)
    assert kind == "minimal_pair_sign"
