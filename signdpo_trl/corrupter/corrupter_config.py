"""Configuration of the learned language-level corrupter: a LoRA / QLoRA-tuned LM writing wrong translations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transformers import TrainingArguments

from ..trainer.precision import hardware_bf16


# The prompt the corrupter reads, by architecture: an encoder-decoder reads the reference alone (a SignDPO MLE
# model's own language model, a base of choice offline, knows no instruction words); a causal LM continues an
# instruction.
SEQ2SEQ_PROMPT_TEMPLATE = "{reference}"
CAUSAL_PROMPT_TEMPLATE = "Translation: {reference}\nThe same translation with its meaning changed:"


@dataclass
class CorrupterConfig(TrainingArguments):
    r"""
    Configuration class for the [`CorrupterTrainer`]: fine-tuning a language model, with LoRA adapters, to rewrite a
    reference translation into a fluent but wrong one, the rejected side of SignDPO's language level.

    The training pairs are (reference, wrong translation) rows, typically the translation model's own errors mined by
    [`~signdpo_trl.corrupter.mine_translation_errors`] and topped up with rule-based corruptions
    ([`~signdpo_trl.corrupter.corrupter_pairs`]). After training, [`~signdpo_trl.corrupter.generate_rejected_texts`]
    samples candidates for every training clip into the `rejected_texts` column that SignDPO's language level reads,
    so the corrupter never runs inside the DPO step.

    Only the corrupter's own parameters are listed here; see [`~transformers.TrainingArguments`] for the rest.
    Defaults that differ from it: `learning_rate=2e-4` (LoRA), `num_train_epochs=1.0`, `logging_steps=10`,
    `remove_unused_columns=False` (the text columns are tokenised by the trainer's collator), `bf16` following the
    hardware.

    Parameters:
        > Parameters that control the model

        model_init_kwargs (`dict[str, Any]` or `None`, *optional*, defaults to `None`):
            Keyword arguments of `from_pretrained` when the trainer's `model` is a name or a path.
        load_in_4bit (`bool`, *optional*, defaults to `False`):
            QLoRA: load the base model's linear layers in 4-bit with bitsandbytes. Needs CUDA.
        bnb_4bit_quant_type (`str`, *optional*, defaults to `"nf4"`):
            4-bit quantisation type (`"nf4"` or `"fp4"`).
        allow_full_precision_fallback (`bool`, *optional*, defaults to `False`):
            With `load_in_4bit=True` on a machine without CUDA, load the base in full precision (with a warning)
            instead of raising.
        use_peft (`bool`, *optional*, defaults to `True`):
            Train LoRA adapters (peft) and keep the base weights frozen. `False` fine-tunes every weight.
        lora_r (`int`, *optional*, defaults to `16`), lora_alpha (`int`, *optional*, defaults to `32`),
        lora_dropout (`float`, *optional*, defaults to `0.05`):
            LoRA rank, scaling and dropout.
        lora_target_modules (`list[str]` or `None`, *optional*, defaults to `None`):
            Modules that get adapters; `None` means every linear layer but the output head (peft's `"all-linear"`).

        > Parameters that control the data

        reference_column (`str`, *optional*, defaults to `"reference"`):
            Column of the reference translations (the corrupter's input).
        corrupted_column (`str`, *optional*, defaults to `"corrupted"`):
            Column of the wrong translations (the corrupter's target).
        prompt_template (`str` or `None`, *optional*, defaults to `None`):
            Input built from a reference, with a `{reference}` field. `None`: `SEQ2SEQ_PROMPT_TEMPLATE` (the reference
            alone) for encoder-decoder models, `CAUSAL_PROMPT_TEMPLATE` (an instruction) for causal LMs.
        max_length (`int`, *optional*, defaults to `64`):
            Longest reference and longest wrong translation, in tokens each; longer ones are truncated.
        language (`str`, *optional*, defaults to `"en"`):
            Language of the translations (`"en"` or `"zh"`): the meaning-change filter compares words, or characters
            for Chinese, and the rule-based top-up uses that language's rules.

        > Parameters that control the generation of rejected texts

        num_candidates (`int`, *optional*, defaults to `8`):
            Candidates sampled per reference; duplicates and candidates that do not change the meaning are dropped.
        temperature (`float`, *optional*, defaults to `1.0`), top_p (`float`, *optional*, defaults to `0.95`):
            Sampling temperature and nucleus.
        max_new_tokens (`int`, *optional*, defaults to `64`):
            Longest candidate, in tokens.
        chrf_threshold (`float`, *optional*, defaults to `90.0`):
            A candidate whose sentence chrF against the reference reaches it is a near-copy, not a meaning change
            (see [`~signdpo_trl.corrupter.is_meaning_change`]).
        generation_batch_size (`int`, *optional*, defaults to `64`):
            References decoded together.
    """

    model_init_kwargs: dict[str, Any] | None = field(
        default=None, metadata={"help": "Keyword arguments of from_pretrained when the model is given by name."}
    )
    load_in_4bit: bool = field(default=False, metadata={"help": "QLoRA: load the base in 4-bit (CUDA only)."})
    bnb_4bit_quant_type: str = field(default="nf4", metadata={"help": "4-bit quantisation type: nf4 or fp4."})
    allow_full_precision_fallback: bool = field(
        default=False,
        metadata={"help": "With load_in_4bit and no CUDA, load in full precision instead of raising."},
    )
    use_peft: bool = field(default=True, metadata={"help": "Train LoRA adapters; the base stays frozen."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] | None = field(
        default=None, metadata={"help": "Modules with adapters; default: every linear layer but the output head."}
    )
    reference_column: str = field(default="reference", metadata={"help": "Column of the reference translations."})
    corrupted_column: str = field(default="corrupted", metadata={"help": "Column of the wrong translations."})
    prompt_template: str | None = field(
        default=None, metadata={"help": "Input built from a reference ({reference}); default by architecture."}
    )
    max_length: int = field(default=64, metadata={"help": "Longest input and longest target, in tokens."})
    language: str = field(default="en", metadata={"help": "Language of the translations: en or zh."})
    num_candidates: int = field(default=8, metadata={"help": "Candidates sampled per reference."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling threshold."})
    max_new_tokens: int = field(default=64, metadata={"help": "Longest candidate, in tokens."})
    chrf_threshold: float = field(
        default=90.0, metadata={"help": "Candidates with a chrF at or above it are near-copies, not errors."}
    )
    generation_batch_size: int = field(default=64, metadata={"help": "References decoded together."})

    # Overridden defaults of TrainingArguments.
    learning_rate: float = field(default=2e-4, metadata={"help": "Initial learning rate (LoRA)."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs over the training pairs."})
    logging_steps: float = field(default=10, metadata={"help": "Log every X update steps."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Must stay False: the collator tokenises the text columns itself."}
    )
    bf16: bool | None = field(
        default=None, metadata={"help": "bf16 mixed precision; default: on where CUDA supports it, else off."}
    )

    def __post_init__(self):
        if self.bf16 is None:
            self.bf16 = hardware_bf16(self.fp16, self.use_cpu)
        super().__post_init__()
        if self.language not in ("en", "zh"):
            raise ValueError(f"language must be 'en' or 'zh', got {self.language!r}.")
        if self.remove_unused_columns:
            raise ValueError(
                "remove_unused_columns=True would drop the reference and corrupted columns before the collator "
                "tokenises them; set remove_unused_columns=False."
            )
        if self.bnb_4bit_quant_type not in ("nf4", "fp4"):
            raise ValueError(f"bnb_4bit_quant_type must be 'nf4' or 'fp4', got {self.bnb_4bit_quant_type!r}.")
        if self.load_in_4bit and not self.use_peft:
            raise ValueError(
                "load_in_4bit=True quantises the frozen base for QLoRA; 4-bit weights cannot be trained, so it needs "
                "use_peft=True."
            )
        if self.prompt_template is not None and "{reference}" not in self.prompt_template:
            raise ValueError(
                f"prompt_template {self.prompt_template!r} has no {{reference}} field, so every input would be the "
                "same; write the reference into it, e.g. 'Translation: {reference}'."
            )
        for name in ("max_length", "num_candidates", "max_new_tokens", "generation_batch_size", "lora_r"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}; sampling needs it.")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}.")
        if not 0 <= self.chrf_threshold <= 100:
            raise ValueError(f"chrf_threshold is a chrF score between 0 and 100, got {self.chrf_threshold}.")
        if self.reference_column == self.corrupted_column:
            raise ValueError(
                f"reference_column and corrupted_column are both {self.reference_column!r}; the corrupter maps one "
                "column onto another."
            )

    def prompt_for(self, is_encoder_decoder: bool) -> str:
        """The prompt template in use for a model of this architecture."""
        if self.prompt_template is not None:
            return self.prompt_template
        return SEQ2SEQ_PROMPT_TEMPLATE if is_encoder_decoder else CAUSAL_PROMPT_TEMPLATE
