import math
from collections import Counter

import evaluate
import pytest
from rouge import Rouge
from sacrebleu.metrics import BLEU
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from signdpo_trl.metrics import SLT_METRIC_PATH, compute_slt_metrics, probe_accuracy


CORPUS_PREDICTIONS = [
    "the weather will be sunny tomorrow in the north",
    "i do not like cold coffee",
    "where is the train station?",
    "thank you",
    "",
    "a man is walking his dog in the park.",
    "we need to buy some milk , bread and eggs",
]
CORPUS_REFERENCES = [
    "tomorrow the weather in the north will be sunny",
    "i don't like cold coffee at all",
    "where is the station?",
    "thank you very much for coming",
    "it is raining",
    "a man walks his dog in the park. he is happy.",
    "we have to buy milk, bread and eggs today",
]


# --- the published convention, re-implemented from its description -------------------------------------------
# Uni-Sign's SLRT_metrics.sableu reads BLEU-1..4 from a vendored sacrebleu 1.4.2 (external_metrics/sacrebleu.py):
# one pass collects clipped n-gram matches and totals for n = 1..4 over the 13a-tokenised corpus, precisions use
# "exp" smoothing (a zero-match order gets 100 / (2^k * total), k counting the zero-match orders so far), an order
# with no n-grams at all stops the loop and keeps precision 0 (log floored to -9999999999), the brevity penalty is
# exp(1 - ref_len / sys_len) (0 for an empty system), and score_n = BP * exp(mean log precision over orders 1..n).
def _published_cumulative_bleu(hypotheses, references):
    tokenize = Tokenizer13a()
    order = 4
    correct, total = [0] * order, [0] * order
    sys_len = ref_len = 0
    for hypothesis, reference in zip(hypotheses, references):
        hyp_tokens = tokenize(hypothesis.rstrip()).split()
        ref_tokens = tokenize(reference.rstrip()).split()
        sys_len += len(hyp_tokens)
        ref_len += len(ref_tokens)
        for n in range(1, order + 1):
            hyp_ngrams = Counter(tuple(hyp_tokens[i : i + n]) for i in range(len(hyp_tokens) - n + 1))
            ref_ngrams = Counter(tuple(ref_tokens[i : i + n]) for i in range(len(ref_tokens) - n + 1))
            for ngram, count in hyp_ngrams.items():
                correct[n - 1] += min(count, ref_ngrams[ngram])
                total[n - 1] += count
    precisions = [0.0] * order
    smooth = 1.0
    for n in range(order):
        if total[n] == 0:
            break
        if correct[n] == 0:
            smooth *= 2
            precisions[n] = 100.0 / (smooth * total[n])
        else:
            precisions[n] = 100.0 * correct[n] / total[n]
    brevity_penalty = 1.0
    if sys_len < ref_len:
        brevity_penalty = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0

    def log(value):
        return math.log(value) if value > 0 else -9999999999

    return [brevity_penalty * math.exp(sum(map(log, precisions[:n])) / n) for n in range(1, order + 1)]


def test_cumulative_bleu_equals_the_published_sacrebleu_1_4_2_computation():
    scores = compute_slt_metrics(CORPUS_PREDICTIONS, CORPUS_REFERENCES)
    expected = _published_cumulative_bleu(CORPUS_PREDICTIONS, CORPUS_REFERENCES)
    for n in range(1, 5):
        assert scores[f"bleu{n}"] == pytest.approx(expected[n - 1], abs=1e-9)


def test_cumulative_bleu_with_zero_match_orders_uses_exp_smoothing_like_the_published_code():
    predictions = ["alpha beta gamma delta epsilon", "zeta eta"]
    references = ["alpha gamma beta epsilon delta", "eta zeta theta"]
    scores = compute_slt_metrics(predictions, references)
    expected = _published_cumulative_bleu(predictions, references)
    assert expected[1] > 0  # no bigram matches, smoothed rather than zero
    for n in range(1, 5):
        assert scores[f"bleu{n}"] == pytest.approx(expected[n - 1], abs=1e-9)


def test_rouge_l_equals_the_rouge_package_call_of_the_published_code():
    scores = compute_slt_metrics(CORPUS_PREDICTIONS[:4], CORPUS_REFERENCES[:4])
    published = Rouge().get_scores(CORPUS_PREDICTIONS[:4], CORPUS_REFERENCES[:4], avg=True)["rouge-l"]["f"] * 100
    assert scores["rouge_l"] == published


# --- hand-computed values ------------------------------------------------------------------------------------
def test_perfect_translation_scores_100_everywhere():
    sentences = ["the weather is sunny today", "i like cold coffee"]
    scores = compute_slt_metrics(sentences, sentences)
    for key in ("bleu1", "bleu2", "bleu3", "bleu4", "chrf"):
        assert scores[key] == pytest.approx(100.0)
    # The rouge package's F is 2PR / (P + R + 1e-8): 100 * 2 / (2 + 1e-8).
    assert scores["rouge_l"] == pytest.approx(100.0 * 2 / (2 + 1e-8), abs=1e-9)


def test_bleu_n_is_cumulative_geometric_mean_of_precisions():
    scores = compute_slt_metrics(["the dog sat on the mat"], ["the cat sat on the mat"])
    # precisions: unigrams 5/6, bigrams 3/5, trigrams 2/4, 4-grams 1/3; equal lengths, so BP = 1.
    p = [5 / 6, 3 / 5, 2 / 4, 1 / 3]
    assert scores["bleu1"] == pytest.approx(100 * p[0])
    assert scores["bleu2"] == pytest.approx(100 * (p[0] * p[1]) ** (1 / 2))
    assert scores["bleu3"] == pytest.approx(100 * (p[0] * p[1] * p[2]) ** (1 / 3))
    assert scores["bleu4"] == pytest.approx(100 * (p[0] * p[1] * p[2] * p[3]) ** (1 / 4))


def test_short_hypothesis_gets_the_brevity_penalty():
    scores = compute_slt_metrics(["the cat"], ["the cat sat on the mat"])
    # every unigram matches, hypothesis 2 tokens vs reference 6: BP = exp(1 - 6 / 2).
    assert scores["bleu1"] == pytest.approx(100 * math.exp(1 - 6 / 2))
    assert scores["bleu2"] == pytest.approx(100 * math.exp(1 - 6 / 2))


def test_rouge_l_uses_the_rouge_package_union_lcs_over_unique_words():
    scores = compute_slt_metrics(["the cat was found under the bed"], ["the cat was under the bed"])
    # LCS "the cat was under the bed" holds 5 distinct words; the reference has 5 distinct words, the hypothesis 6:
    # R = 5/5, P = 5/6, F = 2PR / (P + R + 1e-8). (A plain LCS F1 would give 12/13.)
    precision, recall = 5 / 6, 1.0
    assert scores["rouge_l"] == pytest.approx(100 * 2 * precision * recall / (precision + recall + 1e-8), abs=1e-9)


def test_chinese_is_scored_on_characters_with_the_zh_tokenizer():
    predictions, references = ["我爱北京天安门"], ["我爱北京"]
    scores = compute_slt_metrics(predictions, references, language="zh")
    # 4 of 7 characters match, hypothesis longer than reference: BLEU-1 = 4/7.
    assert scores["bleu1"] == pytest.approx(100 * 4 / 7)
    assert "tok:zh" in scores["signature"]
    unsplit_13a = BLEU(tokenize="13a", max_ngram_order=1).corpus_score(predictions, [references]).score
    assert unsplit_13a == 0.0


def test_chinese_bleu_equals_13a_on_character_split_text_as_uni_sign_computes_it():
    # mT5's tokenizer NFKC-normalises, so Uni-Sign's hypotheses carry ASCII "," and "?"; it maps only the references.
    predictions = ["今天天气很好,我们去公园吧", "你 吃 饭 了 吗?"]
    references = ["今天 天气 不错，我们去公园", "你吃饭了吗？"]
    scores = compute_slt_metrics(predictions, references, language="zh")
    uni_sign_predictions = [" ".join(p.replace(" ", "")) for p in predictions]
    uni_sign_references = [" ".join(r.replace("，", ",").replace("？", "?").replace(" ", "")) for r in references]
    for n in range(1, 5):
        published = BLEU(tokenize="13a", max_ngram_order=n).corpus_score(uni_sign_predictions, [uni_sign_references])
        assert scores[f"bleu{n}"] == pytest.approx(published.score, abs=1e-9)
    published_rouge = Rouge().get_scores(uni_sign_predictions, uni_sign_references, avg=True)["rouge-l"]["f"] * 100
    assert scores["rouge_l"] == pytest.approx(published_rouge, abs=1e-9)


def test_empty_prediction_scores_zero_rouge_and_still_counts():
    scores = compute_slt_metrics(["", "the cat was found under the bed"], ["a dog", "the cat was under the bed"])
    second = 2 * (5 / 6) / (5 / 6 + 1 + 1e-8)
    assert scores["rouge_l"] == pytest.approx(100 * second / 2, abs=1e-9)
    assert scores["bleu1"] == pytest.approx(
        _published_cumulative_bleu(["", "the cat was found under the bed"], ["a dog", "the cat was under the bed"])[0]
    )


def test_long_degenerate_generation_does_not_exhaust_the_recursion_limit():
    scores = compute_slt_metrics(["the " * 1500], ["the cat sat on the mat"])
    assert 0 < scores["rouge_l"] < 100


def test_all_empty_predictions_score_zero():
    scores = compute_slt_metrics(["", "."], ["a dog", "a cat"])
    for key in ("bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "chrf"):
        assert scores[key] == 0.0


def test_signature_names_tokenizer_and_rouge_implementation():
    signature = compute_slt_metrics(["a b"], ["a b"])["signature"]
    assert "tok:13a" in signature and "smooth:exp" in signature and "rouge==" in signature and "chrF" in signature


# --- evaluate module ---------------------------------------------------------------------------------------
def test_evaluate_module_loads_offline_by_path_and_matches_compute_slt_metrics(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metric = evaluate.load(SLT_METRIC_PATH)
    via_evaluate = metric.compute(predictions=CORPUS_PREDICTIONS, references=CORPUS_REFERENCES)
    assert via_evaluate == compute_slt_metrics(CORPUS_PREDICTIONS, CORPUS_REFERENCES)
    chinese = metric.compute(predictions=["我爱北京天安门"], references=["我爱北京"], language="zh")
    assert chinese == compute_slt_metrics(["我爱北京天安门"], ["我爱北京"], language="zh")


# --- validation --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("predictions", "references", "error", "message"),
    [
        (["a", "b"], ["a"], ValueError, "2 predictions but 1 references"),
        ([], [], ValueError, "nothing to score"),
        ("a cat", "a cat", TypeError, "list of strings"),
        ([1], ["a"], TypeError, r"predictions\[0\]"),
        (["a"], [None], TypeError, r"references\[0\]"),
        (["a"], ["  "], ValueError, r"references\[0\]` is empty"),
    ],
)
def test_invalid_inputs_raise_actionable_errors(predictions, references, error, message):
    with pytest.raises(error, match=message):
        compute_slt_metrics(predictions, references)


# --- probes ------------------------------------------------------------------------------------------------
def _probe(kind, word, present):
    return {"kind": kind, "sign": word.upper(), "word": word, "present": present, "start": 0, "end": 4}


def test_probe_accuracy_on_a_hand_made_case():
    predictions = ["The man doesn't eat apples.", "Is the woman drinking tea?", "the boy reads", "no probes here"]
    probes = [
        [
            _probe("negation", "not", True),
            _probe("minimal_pair", "apples", True),
            _probe("minimal_pair", "pears", False),
        ],
        [_probe("question", "?", True), _probe("minimal_pair", "coffee", True)],
        [_probe("negation", "not", True), _probe("question", "?", False), _probe("minimal_pair", "boy", True)],
        [],
    ]
    scores = probe_accuracy(predictions, probes)
    # minimal pairs: apples ok, pears absent ok, coffee missing, boy ok -> 3 / 4.
    assert scores["minimal_pair_accuracy"] == pytest.approx(75.0)
    assert scores["minimal_pair_count"] == 4
    # negation: "doesn't" counts as "not"; the third clip has no negation -> 1 / 2.
    assert scores["negation_accuracy"] == pytest.approx(50.0)
    assert scores["negation_count"] == 2
    assert scores["question_accuracy"] == pytest.approx(100.0)
    assert scores["question_count"] == 2


def test_probe_words_match_whole_tokens_only():
    scores = probe_accuracy(["the cats sleep", "a cat, sleeping"], [[_probe("minimal_pair", "cat", True)]] * 2)
    assert scores["minimal_pair_accuracy"] == pytest.approx(50.0)


def test_probe_kind_without_probes_is_nan():
    scores = probe_accuracy(["hello"], [[_probe("question", "?", False)]])
    assert math.isnan(scores["negation_accuracy"]) and scores["negation_count"] == 0


def test_probe_accuracy_rejects_mismatched_lengths_and_unknown_kinds():
    with pytest.raises(ValueError, match="one \\(possibly empty\\) list of probes per prediction"):
        probe_accuracy(["a", "b"], [[]])
    with pytest.raises(ValueError, match="Unknown probe kind"):
        probe_accuracy(["a"], [[_probe("handshape", "a", True)]])
