"""Specification of the learned language-level corrupter (`CorrupterConfig`, `CorrupterTrainer`, `corrupter_pairs`,
`generate_rejected_texts`, `load_corrupter`)."""

import json
import warnings
from types import SimpleNamespace

import pytest
import torch
from datasets import Dataset, load_from_disk
from tiny import SENTENCES, tiny_model, tiny_tokenizer
from transformers import LlamaConfig, LlamaForCausalLM

from signdpo_trl.corrupter import (
    CorrupterCollator,
    CorrupterConfig,
    CorrupterTrainer,
    corrupter_pairs,
    generate_rejected_texts,
    is_meaning_change,
    load_corrupter,
)
from signdpo_trl.corrupter.corrupter_config import CAUSAL_PROMPT_TEMPLATE
from signdpo_trl.trainer import LanguageHook


WRONG = {
    "the dog sees the cat": ["the cat sees the dog", "the dog sees the bird"],
    "i do not like the rain": ["i like the rain"],
    "my brother goes to school tomorrow": ["my sister goes to school tomorrow"],
    "she does not want two apples": [],  # a clip the model translates right: the rules top it up
}


def fast_config(output_dir, **overrides) -> CorrupterConfig:
    fields = dict(
        output_dir=str(output_dir),
        max_steps=3,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        lora_r=4,
        lora_alpha=8,
        max_length=16,
        max_new_tokens=8,
        num_candidates=4,
        generation_batch_size=4,
        seed=0,
    )
    fields.update(overrides)
    return CorrupterConfig(**fields)


@pytest.fixture(scope="module")
def sign_model_dir(tmp_path_factory):
    """A saved SignTranslationModel and its tokenizer: the MLE model whose language model the corrupter starts from."""
    path = tmp_path_factory.mktemp("sft")
    tiny_model(seed=0, dropout=0.0).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def mined():
    return Dataset.from_dict({"text": list(WRONG), "rejected_texts": list(WRONG.values())})


@pytest.fixture(scope="module")
def pairs(mined):
    return corrupter_pairs(mined)[0]


# corrupter_pairs


def test_mined_errors_become_pairs_and_rows_without_errors_are_topped_up_by_the_rules(mined):
    pairs, report = corrupter_pairs(mined)

    mined_pairs = [(row["reference"], row["corrupted"]) for row in pairs if row["source"] == "mined"]
    assert mined_pairs == [(reference, wrong) for reference, errors in WRONG.items() for wrong in errors]
    rule_pairs = [row for row in pairs if row["source"] == "rules"]
    assert [row["reference"] for row in rule_pairs] == ["she does not want two apples"]
    assert (report.num_mined, report.num_rules, report.num_rows_topped_up, report.num_pairs) == (4, 1, 1, 5)
    assert report.fraction_mined == pytest.approx(0.8)


def test_pairs_never_pair_a_reference_with_itself_or_write_a_pair_twice():
    mined = Dataset.from_dict(
        {
            "text": ["the dog sees the cat", "the dog sees the cat"],
            "rejected_texts": [["The Dog sees the cat!", "the cat sees the dog"], ["the cat sees the dog"]],
        }
    )
    pairs, report = corrupter_pairs(mined, min_pairs_per_row=0)

    assert pairs["corrupted"] == ["the cat sees the dog"]
    assert report.num_duplicates == 1


def test_top_up_reaches_min_pairs_per_row_with_distinct_meaning_changes():
    mined = Dataset.from_dict({"text": ["my brother goes to school tomorrow"], "rejected_texts": [[]]})
    pairs, _ = corrupter_pairs(mined, min_pairs_per_row=3)

    assert len(pairs) == 3 and len(set(pairs["corrupted"])) == 3
    assert all(is_meaning_change(text, "my brother goes to school tomorrow") for text in pairs["corrupted"])


def test_max_pairs_per_row_keeps_the_best_ranked_errors(mined):
    pairs, report = corrupter_pairs(mined, max_pairs_per_row=1, min_pairs_per_row=0)

    assert pairs["corrupted"] == ["the cat sees the dog", "i like the rain", "my sister goes to school tomorrow"]
    assert report.num_rules == 0


def test_pairs_need_the_mined_column():
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['rejected_texts'\].*mine_translation_errors"):
        corrupter_pairs(Dataset.from_dict({"text": ["the dog sees the cat"]}))


# CorrupterConfig


def test_config_refuses_4bit_without_adapters(tmp_path):
    with pytest.raises(ValueError, match="needs use_peft=True"):
        fast_config(tmp_path, load_in_4bit=True, use_peft=False)


def test_config_refuses_a_prompt_template_without_the_reference(tmp_path):
    with pytest.raises(ValueError, match=r"no \{reference\} field"):
        fast_config(tmp_path, prompt_template="Corrupt this:")


def test_config_bf16_follows_the_hardware(tmp_path):
    assert fast_config(tmp_path).bf16 is False


# Collation


def test_seq2seq_batch_reads_the_reference_and_learns_the_wrong_translation():
    tokenizer = tiny_tokenizer()
    collator = CorrupterCollator(tokenizer, is_encoder_decoder=True, prompt_template="{reference}", max_length=16)
    batch = collator([{"reference": "the dog sees the cat", "corrupted": "the cat sees the dog"}])

    assert tokenizer.decode(batch["input_ids"][0], skip_special_tokens=True) == "the dog sees the cat"
    assert tokenizer.decode(batch["labels"][0], skip_special_tokens=True) == "the cat sees the dog"
    assert batch["labels"][0, -1].item() == tokenizer.eos_token_id


def test_causal_batch_masks_the_prompt_and_the_padding():
    tokenizer = tiny_tokenizer()
    collator = CorrupterCollator(tokenizer, is_encoder_decoder=False, prompt_template="{reference} =", max_length=16)
    rows = [
        {"reference": "the dog sees the cat", "corrupted": "the cat sees the dog"},
        {"reference": "the rain", "corrupted": "the cat"},
    ]
    batch = collator(rows)

    for row, example in enumerate(rows):
        learnt = batch["labels"][row][batch["labels"][row] != -100]
        assert tokenizer.decode(learnt[:-1]).strip() == example["corrupted"]
        assert learnt[-1].item() == tokenizer.eos_token_id
        padding = batch["attention_mask"][row] == 0
        assert (batch["labels"][row][padding] == -100).all()
    # The second row is shorter: padded on the right, never learnt.
    assert batch["attention_mask"][1, -1].item() == 0


# Training, saving, reloading


def test_lora_corrupter_trains_adapters_and_leaves_the_base_frozen(sign_model_dir, pairs, tmp_path):
    trainer = CorrupterTrainer(str(sign_model_dir), args=fast_config(tmp_path), train_dataset=pairs)
    before = {name: tensor.detach().clone() for name, tensor in trainer.model.named_parameters()}
    trainer.train()
    after = dict(trainer.model.named_parameters())

    adapters = [name for name in before if "lora_" in name]
    base = [name for name in before if "lora_" not in name]
    assert adapters and base
    assert all(not after[name].requires_grad for name in base)
    assert all(torch.equal(before[name], after[name]) for name in base)
    # LoRA starts with B = 0; training moves every B matrix.
    assert all(not torch.equal(before[name], after[name]) for name in adapters if "lora_B" in name)


def test_the_seed_fixes_the_initial_adapters_whatever_ran_before(sign_model_dir, pairs, tmp_path):
    def initial_adapters(draws_before: int) -> dict[str, torch.Tensor]:
        torch.rand(draws_before)  # the global random state differs between the two trainers
        trainer = CorrupterTrainer(str(sign_model_dir), args=fast_config(tmp_path), train_dataset=pairs)
        return {name: tensor.detach().clone() for name, tensor in trainer.model.named_parameters() if "lora_" in name}

    first, second = initial_adapters(1), initial_adapters(7)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_saved_corrupter_is_an_adapter_with_a_card_and_reloads_to_the_same_samples(sign_model_dir, pairs, tmp_path):
    output_dir = tmp_path / "corrupter"
    trainer = CorrupterTrainer(str(sign_model_dir), args=fast_config(output_dir), train_dataset=pairs)
    trainer.train()
    trainer.save_model()

    adapter_config = json.loads((output_dir / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == str(sign_model_dir)
    assert not (output_dir / "model.safetensors").exists()  # the adapter alone, not a copy of the base
    card = (output_dir / "README.md").read_text()
    assert "library_name: peft" in card and "corrupter" in card and "load_corrupter" in card

    clips = Dataset.from_dict({"text": list(SENTENCES)})
    original = trainer.generate_rejected_texts(clips, show_progress=False)
    model, tokenizer = load_corrupter(output_dir)
    reloaded = generate_rejected_texts(
        model, tokenizer, clips, num_candidates=4, max_new_tokens=8, max_length=16, batch_size=4, show_progress=False
    )
    assert reloaded["rejected_texts"] == original["rejected_texts"]


def test_causal_lm_corrupter_trains_and_generates(pairs, tmp_path):
    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    trainer = CorrupterTrainer(
        LlamaForCausalLM(config), args=fast_config(tmp_path), train_dataset=pairs, processing_class=tokenizer
    )
    assert trainer.prompt_template == CAUSAL_PROMPT_TEMPLATE
    trainer.train()

    out, report = trainer.generate_rejected_texts(
        Dataset.from_dict({"text": list(SENTENCES[:4])}), show_progress=False, return_report=True
    )
    assert report.num_sampled == 16
    for reference, candidates in zip(out["text"], out["rejected_texts"]):
        # Only the continuation is kept: a candidate never starts with the prompt.
        assert all(not text.startswith("Translation:") for text in candidates)
        assert all(is_meaning_change(text, reference) for text in candidates)


def test_trainer_refuses_pairs_that_copy_the_reference(sign_model_dir, tmp_path):
    copies = Dataset.from_dict({"reference": ["the dog sees the cat"], "corrupted": ["The dog sees the cat."]})
    with pytest.raises(ValueError, match=r"pair a reference with itself.*first rows: \[0\]"):
        CorrupterTrainer(str(sign_model_dir), args=fast_config(tmp_path), train_dataset=copies)


def test_trainer_names_the_missing_pair_columns(sign_model_dir, tmp_path):
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['corrupted'\].*corrupter_pairs"):
        CorrupterTrainer(
            str(sign_model_dir), args=fast_config(tmp_path), train_dataset=Dataset.from_dict({"reference": ["a b"]})
        )


def test_missing_base_model_path_is_named(pairs, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'\./no/such/model' does not exist"):
        CorrupterTrainer("./no/such/model", args=fast_config(tmp_path), train_dataset=pairs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="QLoRA runs for real on a CUDA machine")
def test_4bit_is_refused_cleanly_without_cuda(sign_model_dir, pairs, tmp_path):
    with pytest.raises(ValueError, match=r"need a CUDA device.*allow_full_precision_fallback=True"):
        CorrupterTrainer(str(sign_model_dir), args=fast_config(tmp_path, load_in_4bit=True), train_dataset=pairs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="QLoRA runs for real on a CUDA machine")
def test_4bit_falls_back_to_full_precision_only_when_allowed(sign_model_dir, pairs, tmp_path):
    args = fast_config(tmp_path, load_in_4bit=True, allow_full_precision_fallback=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = CorrupterTrainer(str(sign_model_dir), args=args, train_dataset=pairs)
    assert any("loading the corrupter's base in full precision" in str(warning.message) for warning in caught)
    assert all(parameter.dtype == torch.float32 for parameter in trainer.model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA for bitsandbytes 4-bit")
def test_qlora_corrupter_loads_its_base_in_4bit(sign_model_dir, pairs, tmp_path):
    args = fast_config(tmp_path, load_in_4bit=True, use_cpu=False)
    trainer = CorrupterTrainer(str(sign_model_dir), args=args, train_dataset=pairs)
    assert trainer.model.base_model.model.is_loaded_in_4bit
    trainer.train()


# Generation: what is kept


class ScriptedCorrupter(torch.nn.Module):
    """A stand-in corrupter whose samples are fixed texts, to specify the filter exactly."""

    def __init__(self, tokenizer, samples: list[str]):
        super().__init__()
        self.config = SimpleNamespace(is_encoder_decoder=True)
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.tokenizer, self.samples = tokenizer, samples

    def generate(self, input_ids, num_return_sequences, **kwargs):
        assert kwargs["do_sample"] is True
        texts = self.samples * input_ids.shape[0]
        assert num_return_sequences == len(self.samples)
        return self.tokenizer(texts, padding=True, return_tensors="pt")["input_ids"]


def test_generation_keeps_only_distinct_meaning_changes():
    tokenizer = tiny_tokenizer()
    samples = ["the dog sees the cat", "The Dog sees the cat!", "the cat sees the dog", "The cat sees the dog.", ""]
    corrupter = ScriptedCorrupter(tokenizer, samples)
    clips = Dataset.from_dict({"text": ["the dog sees the cat"] * 2})

    out, report = generate_rejected_texts(
        corrupter, tokenizer, clips, num_candidates=len(samples), show_progress=False, return_report=True
    )

    assert out["rejected_texts"] == [["the cat sees the dog"], ["the cat sees the dog"]]
    assert (report.num_references, report.num_sampled, report.num_same, report.num_empty) == (1, 5, 2, 1)
    assert report.num_rows_with_candidates == 2


def test_generated_column_is_what_the_language_hook_draws_from():
    tokenizer = tiny_tokenizer()
    corrupter = ScriptedCorrupter(tokenizer, ["the cat sees the dog", "the dog sees the bird"])
    clips = Dataset.from_dict({"text": ["the dog sees the cat"] * 4})
    out = generate_rejected_texts(corrupter, tokenizer, clips, num_candidates=2, show_progress=False)

    hook = LanguageHook()
    generator = torch.Generator().manual_seed(0)
    drawn = {text for _ in range(8) for text in hook(None, list(out), generator)}
    assert drawn == {"the cat sees the dog", "the dog sees the bird"}


def test_generation_is_cached_on_disk_and_recomputed_when_a_setting_changes(sign_model_dir, pairs, tmp_path):
    trainer = CorrupterTrainer(str(sign_model_dir), args=fast_config(tmp_path / "c"), train_dataset=pairs)
    clips = Dataset.from_dict({"text": list(SENTENCES[:4])})
    cache = tmp_path / "rejected"

    first, first_report = trainer.generate_rejected_texts(clips, cache_dir=cache, return_report=True)
    again, again_report = trainer.generate_rejected_texts(clips, cache_dir=cache, return_report=True)
    other, other_report = trainer.generate_rejected_texts(clips, cache_dir=cache, return_report=True, seed=1)

    assert (first_report.from_cache, again_report.from_cache, other_report.from_cache) == (False, True, False)
    assert again["rejected_texts"] == first["rejected_texts"]
    assert json.loads((cache / "corrupter_generation.json").read_text())["parameters"]["seed"] == 1
    assert load_from_disk(str(cache)).column_names == ["rejected_texts"]  # never a copy of the corpus
