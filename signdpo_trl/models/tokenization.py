"""Offline tokenizer training for the target text (English, Chinese, ...), following T5 conventions.

A Unigram model over SentencePiece-style pieces (`▁` marks a preceding space), with every CJK character split into
its own piece (Chinese has no spaces; character-level targets are what the CSL-Daily literature evaluates) and byte
fallback so that no text is ever lost to `<unk>`: `decode(encode(text)) == text`. Special tokens follow T5:
`<pad>` = 0 (also the decoder start token), `</s>` = 1 (appended by the post-processor), `<unk>` = 2.

The pieces and their scores are learned by SentencePiece's own Unigram trainer over the corpus's pre-tokenized words,
in one thread: the same texts give the same vocabulary in every process. (The `tokenizers` Unigram trainer does not:
it keeps the words and the corpus's characters in hash tables seeded afresh in each process, so the order in which it
sums the E-step, breaks ties between pieces of equal score and gives the characters it adds at the end their scores
differs from run to run, and with it the ids.)
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable

import sentencepiece
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
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

    normalizer = normalizers.NFC()
    pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
            pre_tokenizers.Split(CJK_CHARACTER, behavior="isolated"),
        ]
    )
    word_counts = Counter(
        word for text in texts for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
    )
    pieces = _train_unigram(word_counts, vocab_size - reserved)
    vocab = [(token, 0.0) for token in special_tokens] + pieces
    if byte_fallback:
        # Byte pieces come last and least likely: they only encode characters that no piece covers.
        lowest = min((score for _, score in pieces), default=0.0)
        known = {piece for piece, _ in pieces}
        vocab += [(piece, lowest - 1.0) for piece in BYTE_PIECES if piece not in known]

    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=special_tokens.index(UNK_TOKEN), byte_fallback=byte_fallback))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
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


def _train_unigram(word_counts: Counter, num_pieces: int) -> list[tuple[str, float]]:
    """`(piece, log-probability)` of at most `num_pieces` Unigram pieces learned from `word_counts` by SentencePiece,
    most likely first, ties in piece order.

    The words are the pre-tokenizer's (`▁` already marks a preceding space), so SentencePiece adds no space of its own,
    normalises nothing (NFC came first) and, as the `tokenizers` trainer, does not split pieces at digits or script
    changes. Every character of the corpus gets a piece (`character_coverage=1.0`). One thread keeps the E-step's sums
    in one order, so that the result does not depend on the machine.
    """
    if not word_counts:
        raise ValueError("build_tokenizer needs at least one non-empty text to learn a vocabulary from.")
    # The trainer reads `word<TAB>count` lines, so a tab cannot be part of a word; tabs fall back to byte pieces.
    counts = Counter()
    for word, count in word_counts.items():
        for part in word.split("\t"):
            if part:
                counts[part] += count
    characters = {character for word in counts for character in word}
    if len(characters) > num_pieces:
        raise ValueError(
            f"`vocab_size` leaves room for {num_pieces} pieces besides the special and byte tokens, fewer than the "
            f"{len(characters)} distinct characters of the texts; raise `vocab_size` by at least "
            f"{len(characters) - num_pieces}."
        )
    lines = [f"{word}\t{count}" for word, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        input_format="tsv",
        model_type="unigram",
        # SentencePiece counts its three meta pieces (pad, eos, unk) in the vocabulary.
        vocab_size=num_pieces + 3,
        hard_vocab_limit=False,
        character_coverage=1.0,
        max_sentencepiece_length=16,
        shrinking_factor=0.75,
        normalization_rule_name="identity",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        split_by_whitespace=True,
        split_by_unicode_script=False,
        split_by_number=False,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    processor = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
    return [
        (processor.id_to_piece(index), processor.get_score(index))
        for index in range(processor.get_piece_size())
        if not (processor.is_control(index) or processor.is_unknown(index))
    ]


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
