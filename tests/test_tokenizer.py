import json
import os
import subprocess
import sys

import pytest
from conftest import PROJECT_ROOT
from transformers import AutoTokenizer, T5Config

from signdpo_trl.models import SignTranslationConfig, build_tokenizer, sync_text_config


ENGLISH = [
    "Hello, world! How are you today?",
    "I don't know -- maybe it's \"fine\".",
    "We'll meet at 3:30 p.m., right?",
    "The weather (in Paris) was cold; nobody went out.",
]
CHINESE = ["我今天去学校。", "你好，世界！这是一个测试。", "他不喜欢吃苹果吗？", "明天下雨，我们在家。"]


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer((ENGLISH + CHINESE) * 10, vocab_size=500, language="zh")


def round_trip(tokenizer, text: str) -> str:
    return tokenizer.decode(tokenizer(text).input_ids, skip_special_tokens=True)


@pytest.mark.parametrize("text", ENGLISH)
def test_english_sentences_round_trip(tokenizer, text):
    assert round_trip(tokenizer, text) == text


@pytest.mark.parametrize("text", CHINESE)
def test_chinese_sentences_round_trip(tokenizer, text):
    assert round_trip(tokenizer, text) == text


def test_chinese_is_split_into_characters(tokenizer):
    pieces = tokenizer.convert_ids_to_tokens(tokenizer("我今天去学校。").input_ids)
    assert pieces == ["▁", "我", "今", "天", "去", "学", "校", "。", "</s>"]


@pytest.mark.parametrize("text", ["Zebras quip: 龘 émigré!", "我有3个apple。", "two  spaces"])
def test_unseen_characters_round_trip_through_byte_fallback(tokenizer, text):
    assert round_trip(tokenizer, text) == text
    assert tokenizer.unk_token_id not in tokenizer(text).input_ids


def test_special_tokens_follow_t5_conventions(tokenizer):
    assert (tokenizer.pad_token, tokenizer.pad_token_id) == ("<pad>", 0)
    assert (tokenizer.eos_token, tokenizer.eos_token_id) == ("</s>", 1)
    assert (tokenizer.unk_token, tokenizer.unk_token_id) == ("<unk>", 2)


def test_eos_is_appended_once(tokenizer):
    ids = tokenizer("Hello, world!").input_ids
    assert ids[-1] == tokenizer.eos_token_id and ids.count(tokenizer.eos_token_id) == 1
    assert tokenizer.eos_token_id not in tokenizer("Hello, world!", add_special_tokens=False).input_ids


def test_saved_tokenizer_reloads_with_same_ids_and_language(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded(CHINESE[1]).input_ids == tokenizer(CHINESE[1]).input_ids
    assert reloaded.init_kwargs["language"] == "zh"


def test_sync_text_config_makes_the_language_model_agree(tokenizer):
    config = SignTranslationConfig(text_config=T5Config(vocab_size=32128, pad_token_id=5, eos_token_id=6))
    sync_text_config(config, tokenizer)
    text_config = config.text_config
    assert text_config.vocab_size == len(tokenizer)
    assert (text_config.pad_token_id, text_config.eos_token_id, text_config.decoder_start_token_id) == (0, 1, 0)


def test_vocab_size_must_leave_room_beyond_special_and_byte_tokens():
    with pytest.raises(ValueError, match="vocab_size"):
        build_tokenizer(ENGLISH, vocab_size=200)


def test_vocab_size_must_leave_room_for_every_character_of_the_texts():
    with pytest.raises(ValueError, match=r"fewer than the \d+ distinct characters of the texts; raise `vocab_size`"):
        build_tokenizer(CHINESE + ["abcdefghijklmnopqrstuvwxyz"], vocab_size=270)


BUILD_IN_A_NEW_PROCESS = f"""
import json
from signdpo_trl.models import build_tokenizer

texts = {(ENGLISH + CHINESE) * 10!r}
tokenizer = build_tokenizer(texts, vocab_size=500, language="zh")
print(json.dumps({{"vocab": tokenizer.get_vocab(), "ids": [tokenizer(text).input_ids for text in texts[:8]]}}))
"""


def build_in_a_new_process(hash_seed: str) -> dict:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", BUILD_IN_A_NEW_PROCESS], env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_same_texts_give_the_same_tokenizer_in_every_process():
    first, second = build_in_a_new_process("1"), build_in_a_new_process("2")
    assert first["vocab"] == second["vocab"]
    assert first["ids"] == second["ids"]
