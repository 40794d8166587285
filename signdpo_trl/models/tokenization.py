"""Offline tokenizer training for the target text (English, Chinese, ...), following T5 conventions.

A Unigram model over SentencePiece-style pieces (`▁` marks a preceding space), with every CJK character split into
its own piece (Chinese has no spaces; character-level targets are what the CSL-Daily literature evaluates) and byte
fallback so that no text is ever lost to `<unk>`: `decode(encode(text)) == text`. Special tokens follow T5:
`<pad>` = 0 (also the decoder start token), `</s>` = 1 (appended by the post-processor), `<unk>` = 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PretrainedConfig, PreTrainedTokenizerFast


PAD_TOKEN = "<pad>"
EOS_TOKEN = "</s>"
UNK_TOKEN = "<unk>"
# CJK unified ideographs (with extension A and compatibility ideographs), CJK punctuation, kana, Hangul syllables
# and full-width forms: each such character becomes a piece of its own.
CJK_CHARACTER = Regex(r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
BYTE_PIECES = [f"<0x{byte:02X}>" for byte in range(256)]


def build_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 8000,
    language: str | None = None,
    byte_fallback: bool = True,
    model_max_length: int = 512,
) -> PreTrainedTokenizerFast:
    """Trains a Unigram tokenizer on `texts`, offline.

    Args:
        texts (`Iterable[str]`): Training sentences (the corpus's target side).
        vocab_size (`int`, defaults to 8000): Size of the vocabulary, special and byte tokens included; the trainer
            may stop below it on a small corpus.
        language (`str`, *optional*): Language of the texts (e.g. `"en"`, `"zh"`), recorded in the tokenizer's
            saved configuration so that evaluation can pick the matching BLEU tokenisation.
        byte_fallback (`bool`, defaults to `True`): Encode characters missing from the vocabulary as UTF-8 byte
            tokens instead of `<unk>`.
        model_max_length (`int`, defaults to 512): Maximum length recorded on the tokenizer.

    Returns:
        `PreTrainedTokenizerFast` with `pad_token_id == 0`, `eos_token_id == 1`, `unk_token_id == 2`, `</s>` appended
        to every encoded sequence.
    """
    special_tokens = [PAD_TOKEN, EOS_TOKEN, UNK_TOKEN]
    reserved = len(special_tokens) + (len(BYTE_PIECES) if byte_fallback else 0)
    if vocab_size <= reserved:
        raise ValueError(f"`vocab_size` must exceed the {reserved} special and byte tokens, got {vocab_size}.")

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
            pre_tokenizers.Split(CJK_CHARACTER, behavior="isolated"),
        ]
    )
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size - (len(BYTE_PIECES) if byte_fallback else 0),
        special_tokens=special_tokens,
        unk_token=UNK_TOKEN,
        shrinking_factor=0.75,
        max_piece_length=16,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)

    if byte_fallback:
        # The trainer cannot add byte pieces itself: append them (least likely) and switch the model's fallback on.
        state = json.loads(tokenizer.to_str())
        vocab = state["model"]["vocab"]
        known = {piece for piece, _ in vocab}
        lowest = min(score for _, score in vocab[len(special_tokens) :]) if len(vocab) > len(special_tokens) else 0.0
        vocab.extend([piece, lowest - 1.0] for piece in BYTE_PIECES if piece not in known)
        state["model"]["byte_fallback"] = True
        tokenizer = Tokenizer.from_str(json.dumps(state))

    tokenizer.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(content=" ", left=1, right=0),
        ]
    )
    eos_id = tokenizer.token_to_id(EOS_TOKEN)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS_TOKEN}", pair=f"$A {EOS_TOKEN} $B {EOS_TOKEN}", special_tokens=[(EOS_TOKEN, eos_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=UNK_TOKEN,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
        language=language,
    )
    return fast


def sync_text_config(config: PretrainedConfig, tokenizer: PreTrainedTokenizerFast) -> PretrainedConfig:
    """Makes a language-model configuration agree with `tokenizer` (in place, and returned).

    Sets `vocab_size`, `pad_token_id`, `eos_token_id` and `decoder_start_token_id` (the pad id, as T5 does). Given a
    `SignTranslationConfig`, updates its `text_config`. Call it before building the model.
    """
    text_config = getattr(config, "text_config", None) or config
    text_config.vocab_size = len(tokenizer)
    text_config.pad_token_id = tokenizer.pad_token_id
    text_config.eos_token_id = tokenizer.eos_token_id
    text_config.decoder_start_token_id = tokenizer.pad_token_id
    return config


__all__ = ["build_tokenizer", "sync_text_config"]
