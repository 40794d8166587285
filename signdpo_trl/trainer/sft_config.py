"""Configuration of maximum-likelihood (MLE) training of a pose-to-text model."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import Seq2SeqTrainingArguments

from .collators import check_dataloader_order
from .precision import hardware_bf16


@dataclass
class SignSFTConfig(Seq2SeqTrainingArguments):
    r"""
    Configuration class for the [`SignSFTTrainer`]: teacher-forced MLE training of a [`SignTranslationModel`] on
    pose rows, with generation-based evaluation as the SLT literature reports it.

    Only the parameters specific to sign language translation are listed here; see
    [`~transformers.Seq2SeqTrainingArguments`] for the rest. Defaults that differ from it:
    `predict_with_generate=True`, `remove_unused_columns=False` (pose rows are not model keyword arguments),
    `label_smoothing_factor=0.1`, `metric_for_best_model="bleu4"`, `greater_is_better=True`, `logging_steps=10`,
    `bf16` following the hardware (on only where CUDA supports it), so one config runs on a GPU and on a CPU.

    Parameters:
        > Parameters that control the data preprocessing

        text_column (`str`, *optional*, defaults to `"text"`):
            Name of the column holding the target sentence.
        max_frames (`int`, *optional*, defaults to `256`):
            Clips longer than this are sub-sampled to `max_frames` frames.
        max_target_length (`int` or `None`, *optional*, defaults to `128`):
            Maximum number of target tokens (end-of-sequence included); longer targets are truncated before padding.
        confidence_threshold (`float`, *optional*, defaults to `0.3`):
            Keypoints at or below this detector confidence are masked.
        random_frame_sampling (`bool`, *optional*, defaults to `True`):
            Sub-sample long training clips at random (an augmentation). Evaluation always samples evenly spaced
            frames, deterministically.

        > Parameters that control the evaluation

        language (`str`, *optional*, defaults to `"en"`):
            Language of the transcripts, which picks the BLEU tokenizer (`"en"`: 13a; `"zh"`: zh) and the ROUGE-L unit
            (words; characters for Chinese).
    """

    text_column: str = field(default="text", metadata={"help": "Name of the column holding the target sentence."})
    max_frames: int = field(
        default=256, metadata={"help": "Clips longer than this are sub-sampled to `max_frames` frames."}
    )
    max_target_length: int | None = field(
        default=128,
        metadata={"help": "Maximum number of target tokens; longer targets are truncated before padding."},
    )
    confidence_threshold: float = field(
        default=0.3, metadata={"help": "Keypoints at or below this detector confidence are masked."}
    )
    random_frame_sampling: bool = field(
        default=True,
        metadata={"help": "Sub-sample long training clips at random. Evaluation is always deterministic."},
    )
    language: str = field(
        default="en",
        metadata={"help": "Transcript language for the metrics: 'en' (BLEU tokenizer 13a) or 'zh' (tokenizer zh)."},
    )

    # Overridden defaults of Seq2SeqTrainingArguments.
    predict_with_generate: bool = field(
        default=True, metadata={"help": "Evaluate by generating translations and scoring them (BLEU, ROUGE-L)."}
    )
    remove_unused_columns: bool = field(
        default=False,
        metadata={"help": "Must stay False: pose rows are collated by the trainer, not passed as model kwargs."},
    )
    label_smoothing_factor: float = field(default=0.1, metadata={"help": "Label smoothing of the MLE loss."})
    metric_for_best_model: str | None = field(
        default="bleu4", metadata={"help": "Metric that selects the best checkpoint (BLEU-4, as the SLT papers)."}
    )
    greater_is_better: bool | None = field(default=True, metadata={"help": "Whether a larger metric is better."})
    logging_steps: float = field(default=10, metadata={"help": "Log every X update steps."})
    bf16: bool | None = field(
        default=None,
        metadata={"help": "bf16 mixed precision; unset, it follows the hardware (on where CUDA supports bf16)."},
    )

    def __post_init__(self):
        if self.bf16 is None:
            self.bf16 = hardware_bf16(self.fp16, self.use_cpu)
        super().__post_init__()
        if self.language not in ("en", "zh"):
            raise ValueError(f"language must be 'en' or 'zh', got {self.language!r}.")
        if self.remove_unused_columns:
            raise ValueError(
                "remove_unused_columns=True would strip the pose columns before the collator sees them; "
                "set remove_unused_columns=False."
            )
        if self.max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, got {self.max_frames}.")
        check_dataloader_order(self)
        if not 0.0 <= self.confidence_threshold < 1.0:
            raise ValueError(f"confidence_threshold must lie in [0, 1), got {self.confidence_threshold}.")
        metric = (self.metric_for_best_model or "").removeprefix("eval_")
        generated_metrics = {"bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "chrf"}
        if metric in generated_metrics and not self.predict_with_generate:
            raise ValueError(
                f"metric_for_best_model={self.metric_for_best_model!r} is computed from generated translations; "
                "set predict_with_generate=True or choose metric_for_best_model='loss'."
            )
