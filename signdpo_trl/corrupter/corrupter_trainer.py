"""The learned language-level corrupter: a LoRA / QLoRA-tuned language model that writes wrong translations.

SignDPO's language level pairs a clip's reference translation with a fluent but wrong one. The paper fine-tunes a
dedicated perturbation model for this, without manual annotation: here it learns from the translation model's own
errors (mined by [`mine_translation_errors`], topped up with rule-based corruptions by [`corrupter_pairs`]), so it
writes the kind of mistakes the translation model makes. Its samples are generated once, before SignDPO training,
into the `rejected_texts` column ([`generate_rejected_texts`]); the corrupter never runs inside the DPO step.

Example:

```python
>>> from signdpo_trl.corrupter import CorrupterConfig, CorrupterTrainer, corrupter_pairs
>>> pairs, report = corrupter_pairs(mined_train)
>>> trainer = CorrupterTrainer("outputs/sft_synthsign", args=CorrupterConfig("outputs/corrupter"), train_dataset=pairs)
>>> trainer.train()
>>> trainer.save_model()
>>> train = trainer.generate_rejected_texts(train, cache_dir="outputs/corrupter/rejected")
```
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from torch.nn.utils.rnn import pad_sequence
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    set_seed,
)

from .._paths import check_local_model_path
from ..trainer.checkpointing import AtomicCheckpointMixin
from ..trainer.model_card import SIGNDPO_PAPER, create_sign_model_card
from .corrupter_config import CorrupterConfig
from .mining import _normalize


logger = logging.getLogger(__name__)

__all__ = [
    "CorrupterCollator",
    "CorrupterTrainer",
    "corrupter_inputs",
    "load_corrupter",
    "load_corrupter_base",
    "quantization_config_for",
]

_CARD_TEMPLATE = Path(__file__).resolve().parents[1] / "trainer" / "templates" / "corrupter_model_card.md"


def quantization_config_for(
    load_in_4bit: bool, bnb_4bit_quant_type: str = "nf4", allow_full_precision_fallback: bool = False
):
    """The bitsandbytes 4-bit configuration of a QLoRA corrupter, or None for full precision.

    Raises:
        `ValueError`: If 4-bit is asked for on a machine without CUDA and `allow_full_precision_fallback` is False.
    """
    if not load_in_4bit:
        return None
    if not torch.cuda.is_available():
        if allow_full_precision_fallback:
            warnings.warn(
                "load_in_4bit=True, but this machine has no CUDA device, which bitsandbytes' 4-bit layers need; "
                "loading the corrupter's base in full precision instead (allow_full_precision_fallback=True).",
                stacklevel=3,
            )
            return None
        raise ValueError(
            "load_in_4bit=True asks for QLoRA, whose 4-bit layers (bitsandbytes) need a CUDA device, and this "
            "machine has none. Set load_in_4bit=False to train LoRA adapters on a full-precision base, or "
            "allow_full_precision_fallback=True to do so automatically wherever CUDA is missing."
        )
    from transformers import BitsAndBytesConfig

    compute_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=bnb_4bit_quant_type,
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_use_double_quant=True,
        # The pose encoder of a SignTranslationModel base is not part of the corrupter and stays unquantised.
        llm_int8_skip_modules=["pose_encoder", "lm_head"],
    )


def load_corrupter_base(
    model_name_or_path: str | os.PathLike,
    *,
    quantization_config=None,
    model_init_kwargs: dict[str, Any] | None = None,
    tokenizer_name_or_path: str | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Loads the language model a corrupter is tuned from, and its tokenizer.

    `model_name_or_path` may be any seq2seq or causal LM (a Hub name such as `"google/mt5-small"` or
    `"Qwen/Qwen2.5-0.5B"`, or a local folder), or a saved [`SignTranslationModel`]: then its own language model is
    taken, which already writes fluent text of the corpus (the base of choice offline). That language model's
    `name_or_path` is set to the `SignTranslationModel` folder, so an adapter saved on it reloads with
    [`load_corrupter`].

    Args:
        model_name_or_path (`str` or `os.PathLike`): The base model.
        quantization_config (`BitsAndBytesConfig`, *optional*): 4-bit loading for QLoRA (see
            [`quantization_config_for`]).
        model_init_kwargs (`dict`, *optional*): Further keyword arguments of `from_pretrained`.
        tokenizer_name_or_path (`str`, *optional*): Tokenizer to load; defaults to the model's own.

    Returns:
        `(model, tokenizer)`.
    """
    from ..models import SignTranslationConfig, SignTranslationModel

    name = str(model_name_or_path)
    check_local_model_path(name, "The corrupter's base model")
    kwargs = dict(model_init_kwargs or {})
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
    config = AutoConfig.from_pretrained(name)
    if config.model_type == SignTranslationConfig.model_type:
        model = SignTranslationModel.from_pretrained(name, **kwargs).language_model
        model.config._name_or_path = name
        model.name_or_path = name  # what peft records as the adapter's base_model_name_or_path
    elif getattr(config, "is_encoder_decoder", False):
        model = AutoModelForSeq2SeqLM.from_pretrained(name, **kwargs)
    else:
        model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_name_or_path or name)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(
                f"The tokenizer of {name!r} has neither a padding nor an end-of-sequence token; batched training "
                "needs one. Pass a tokenizer that has them (tokenizer_name_or_path)."
            )
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def load_corrupter(
    adapter_path: str | os.PathLike, *, quantization_config=None, model_init_kwargs: dict[str, Any] | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Reloads a corrupter saved by [`CorrupterTrainer.save_model`]: its base (see [`load_corrupter_base`]) with the
    saved LoRA adapter, or the fully fine-tuned model when it was trained without peft; and its tokenizer."""
    name = str(adapter_path)
    check_local_model_path(name, "The saved corrupter")
    if os.path.isdir(name):
        is_adapter = os.path.isfile(os.path.join(name, "adapter_config.json"))
    else:
        from huggingface_hub import file_exists

        is_adapter = file_exists(name, "adapter_config.json")
    if not is_adapter:
        return load_corrupter_base(name, quantization_config=quantization_config, model_init_kwargs=model_init_kwargs)
    from peft import PeftConfig, PeftModel

    peft_config = PeftConfig.from_pretrained(name)
    base, tokenizer = load_corrupter_base(
        peft_config.base_model_name_or_path,
        quantization_config=quantization_config,
        model_init_kwargs=model_init_kwargs,
        tokenizer_name_or_path=name,
    )
    return PeftModel.from_pretrained(base, name), tokenizer


def _is_encoder_decoder(model: torch.nn.Module) -> bool:
    return bool(getattr(model.config, "is_encoder_decoder", False))


def corrupter_inputs(
    tokenizer: PreTrainedTokenizerBase,
    references: Sequence[str],
    prompt_template: str,
    is_encoder_decoder: bool,
    max_length: int,
) -> dict[str, torch.Tensor]:
    """The corrupter's input for a batch of references: the prompt tokens, padded (on the left for a causal LM, which
    continues them when generating)."""
    prompts = [prompt_template.format(reference=reference) for reference in references]
    return tokenizer(
        prompts,
        max_length=max_length,
        truncation=True,
        padding=True,
        padding_side="right" if is_encoder_decoder else "left",
        return_tensors="pt",
    )


class CorrupterCollator:
    """Tokenises (reference, wrong translation) rows into a training batch for a seq2seq or a causal LM.

    Encoder-decoder: `input_ids` is the prompt, `labels` the wrong translation. Causal: `input_ids` is the prompt
    followed by the wrong translation and the end-of-sequence token, and `labels` masks the prompt and the padding
    (-100), so only the wrong translation is learnt.

    Args:
        tokenizer (`PreTrainedTokenizerBase`): The corrupter's tokenizer.
        is_encoder_decoder (`bool`): The corrupter's architecture.
        prompt_template (`str`): Input built from a reference (`{reference}`).
        max_length (`int`): Longest reference and longest wrong translation, in tokens each.
        reference_column (`str`), corrupted_column (`str`): The columns of a row.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        is_encoder_decoder: bool,
        prompt_template: str,
        max_length: int = 64,
        reference_column: str = "reference",
        corrupted_column: str = "corrupted",
    ):
        self.tokenizer = tokenizer
        self.is_encoder_decoder = is_encoder_decoder
        self.prompt_template = prompt_template
        self.max_length = max_length
        self.reference_column = reference_column
        self.corrupted_column = corrupted_column

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        references = [example[self.reference_column] for example in examples]
        corrupted = [example[self.corrupted_column] for example in examples]
        if self.is_encoder_decoder:
            batch = corrupter_inputs(self.tokenizer, references, self.prompt_template, True, self.max_length)
            targets = self.tokenizer(
                text_target=corrupted, max_length=self.max_length, truncation=True, padding=True, return_tensors="pt"
            )
            batch["labels"] = targets["input_ids"].masked_fill(targets["attention_mask"] == 0, -100)
            return dict(batch)
        return self._causal_batch(references, corrupted)

    def _causal_batch(self, references: Sequence[str], corrupted: Sequence[str]) -> dict[str, torch.Tensor]:
        tokenizer = self.tokenizer
        prompts = [self.prompt_template.format(reference=reference) for reference in references]
        prompt_ids = tokenizer(prompts, max_length=self.max_length, truncation=True)["input_ids"]
        # A leading space: the wrong translation continues the prompt as its next words.
        completion_ids = tokenizer(
            [" " + text for text in corrupted], max_length=self.max_length, truncation=True, add_special_tokens=False
        )["input_ids"]
        sequences = [torch.tensor(p + c + [tokenizer.eos_token_id]) for p, c in zip(prompt_ids, completion_ids)]
        input_ids = pad_sequence(sequences, batch_first=True, padding_value=tokenizer.pad_token_id)
        positions = torch.arange(input_ids.shape[1])
        lengths = torch.tensor([len(sequence) for sequence in sequences])
        prompt_lengths = torch.tensor([len(prompt) for prompt in prompt_ids])
        attention_mask = (positions < lengths[:, None]).long()
        # Only the wrong translation and its end-of-sequence token are learnt: not the prompt, not the padding.
        learnt = (positions >= prompt_lengths[:, None]) & attention_mask.bool()
        labels = input_ids.masked_fill(~learnt, -100)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def _check_pairs(dataset: Dataset, args: CorrupterConfig, split: str):
    if not isinstance(dataset, Dataset):
        raise TypeError(f"{split} must be a `datasets.Dataset` of corrupter pairs, got {type(dataset).__name__}.")
    columns = (args.reference_column, args.corrupted_column)
    missing = [column for column in columns if column not in dataset.column_names]
    if missing:
        raise ValueError(
            f"{split} lacks the column(s) {missing} (it has {dataset.column_names}). Build the pairs with "
            "`corrupter_pairs(mined_dataset)`, or set reference_column / corrupted_column."
        )
    if len(dataset) == 0:
        raise ValueError(f"{split} has no rows: the corrupter needs (reference, wrong translation) pairs to learn.")
    references, corrupted = dataset[args.reference_column], dataset[args.corrupted_column]
    empty = [
        row for row, (a, b) in enumerate(zip(references, corrupted)) if not (a or "").strip() or not (b or "").strip()
    ]
    if empty:
        raise ValueError(
            f"{split}: {len(empty)} row(s) have an empty reference or wrong translation (first rows: {empty[:10]}); "
            "drop them before training."
        )
    same = [
        row
        for row, (a, b) in enumerate(zip(references, corrupted))
        if _normalize(a, args.language) == _normalize(b, args.language)
    ]
    if same:
        raise ValueError(
            f"{split}: {len(same)} row(s) pair a reference with itself up to case and punctuation (first rows: "
            f"{same[:10]}); those would teach the corrupter to copy. Drop them (corrupter_pairs never writes them)."
        )


class CorrupterTrainer(AtomicCheckpointMixin, Trainer):
    """Fine-tunes a language model to rewrite a reference translation into a fluent but wrong one.

    A `transformers.Trainer` whose model is a seq2seq or causal LM with LoRA adapters (peft), loaded in 4-bit for
    QLoRA when `args.load_in_4bit` is set and CUDA is there. Everything the Trainer does (accelerate, checkpoints,
    resuming, `push_to_hub`) works as usual, with checkpoints that appear whole or not at all (as the SignDPO
    trainers'); `save_model` writes the adapter, the tokenizer and a model card.

    Args:
        model (`str`, `os.PathLike` or `PreTrainedModel`): The base: a name or a path (a seq2seq or causal LM, or a
            saved [`SignTranslationModel`], whose language model is taken; see [`load_corrupter_base`]) or a model
            instance (already a `PeftModel`, or one that gets adapters here when `args.use_peft`).
        args ([`CorrupterConfig`], *optional*): The configuration; default: `CorrupterConfig("corrupter")`.
        train_dataset (`datasets.Dataset`): (reference, wrong translation) rows, see [`corrupter_pairs`].
        eval_dataset (`datasets.Dataset`, *optional*): Held-out pairs; the evaluation loss is reported.
        processing_class (`PreTrainedTokenizerBase`, *optional*): The tokenizer; loaded with the model when the model
            is given by name, required otherwise.
        peft_config (`peft.PeftConfig`, *optional*): LoRA settings instead of the `lora_*` fields of `args`.
        callbacks (`list[TrainerCallback]`, *optional*): Extra Trainer callbacks.
    """

    _tag_names = ["signdpo-trl", "signdpo", "corrupter", "lora"]
    _name = "SignDPO language-level corrupter"
    _paper = SIGNDPO_PAPER

    def __init__(
        self,
        model: str | os.PathLike | PreTrainedModel,
        args: CorrupterConfig | None = None,
        train_dataset: Dataset | None = None,
        eval_dataset: Dataset | None = None,
        processing_class: PreTrainedTokenizerBase | None = None,
        peft_config=None,
        callbacks=None,
    ):
        if args is None:
            args = CorrupterConfig("corrupter")
        elif not isinstance(args, CorrupterConfig):
            raise TypeError(f"args must be a CorrupterConfig, got {type(args).__name__}.")
        if train_dataset is None:
            raise ValueError("train_dataset is required: (reference, wrong translation) pairs, see corrupter_pairs().")
        _check_pairs(train_dataset, args, "train_dataset")
        if eval_dataset is not None:
            _check_pairs(eval_dataset, args, "eval_dataset")

        quantization_config = quantization_config_for(
            args.load_in_4bit, args.bnb_4bit_quant_type, args.allow_full_precision_fallback
        )
        # The LoRA matrices are drawn below, before the Trainer seeds in its own __init__: seeded here, the same seed
        # gives the same corrupter whatever ran before in the process.
        set_seed(args.seed)
        if isinstance(model, (str, os.PathLike)):
            model, tokenizer = load_corrupter_base(
                model, quantization_config=quantization_config, model_init_kwargs=args.model_init_kwargs
            )
            processing_class = processing_class or tokenizer
        elif processing_class is None:
            raise ValueError("Pass the corrupter's tokenizer as processing_class when model is a model instance.")
        if processing_class.pad_token is None:
            processing_class.pad_token = processing_class.eos_token

        from peft import PeftModel

        is_peft = isinstance(model, PeftModel)
        if peft_config is not None and not args.use_peft:
            raise ValueError("peft_config was given but use_peft=False; set use_peft=True to train adapters.")
        if args.use_peft and not is_peft:
            model = self._with_adapters(model, args, peft_config)
        self.is_encoder_decoder = _is_encoder_decoder(model)
        self.prompt_template = args.prompt_for(self.is_encoder_decoder)
        collator = CorrupterCollator(
            processing_class,
            self.is_encoder_decoder,
            self.prompt_template,
            max_length=args.max_length,
            reference_column=args.reference_column,
            corrupted_column=args.corrupted_column,
        )
        super().__init__(
            model=model,
            args=args,
            data_collator=collator,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            callbacks=callbacks,
        )
        if hasattr(self.model, "add_model_tags"):
            self.model.add_model_tags(self._tag_names)

    @staticmethod
    def _with_adapters(model: PreTrainedModel, args: CorrupterConfig, peft_config):
        from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training

        if getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False):
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=args.gradient_checkpointing)
        if peft_config is None:
            peft_config = LoraConfig(
                r=args.lora_r,
                lora_alpha=args.lora_alpha,
                lora_dropout=args.lora_dropout,
                target_modules=list(args.lora_target_modules) if args.lora_target_modules else "all-linear",
                task_type=TaskType.SEQ_2_SEQ_LM if _is_encoder_decoder(model) else TaskType.CAUSAL_LM,
                bias="none",
            )
        return get_peft_model(model, peft_config)

    def generate_rejected_texts(self, dataset: Dataset, **kwargs):
        """[`generate_rejected_texts`] with this trainer's model, tokenizer and generation settings (`kwargs`
        override them: `text_column`, `output_column`, `cache_dir`, `return_report`, ...)."""
        from .generation import generate_rejected_texts

        args = self.args
        settings = {
            "num_candidates": args.num_candidates,
            "temperature": args.temperature,
            "top_p": args.top_p,
            "max_new_tokens": args.max_new_tokens,
            "chrf_threshold": args.chrf_threshold,
            "prompt_template": self.prompt_template,
            "max_length": args.max_length,
            "language": args.language,
            "batch_size": args.generation_batch_size,
            "seed": args.seed,
            "show_progress": not args.disable_tqdm,
            **kwargs,
        }
        return generate_rejected_texts(
            self.accelerator.unwrap_model(self.model), self.processing_class, dataset, **settings
        )

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False):
        super().save_model(output_dir, _internal_call)
        if not _internal_call:
            self.create_model_card(output_dir=output_dir)

    def create_model_card(self, model_name=None, dataset_name=None, tags=None, output_dir=None, **kwargs):
        args = self.args
        adapters = (
            f"LoRA adapters (rank {args.lora_r}, alpha {args.lora_alpha}"
            f"{', 4-bit base (QLoRA)' if args.load_in_4bit else ''})"
            if args.use_peft
            else "every weight"
        )
        details = (
            f"The corrupter maps a reference translation to a fluent but wrong one. It was trained on {adapters}, "
            f"from (reference, wrong translation) pairs: the translation model's own mined errors, topped up with "
            f"rule-based corruptions. Prompt template: `{self.prompt_template!r}`; language: `{args.language}`."
        )
        create_sign_model_card(
            self,
            details,
            model_name=model_name,
            dataset_name=dataset_name,
            tags=tags,
            output_dir=output_dir,
            template=_CARD_TEMPLATE,
            pipeline_tag="text2text-generation" if self.is_encoder_decoder else "text-generation",
            library_name="peft" if args.use_peft else "transformers",
        )
