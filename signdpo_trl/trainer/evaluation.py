"""Translation quality of a model on a pose dataset, scored as the SLT literature reports it."""

from __future__ import annotations

from datasets import Dataset
from transformers import TrainingArguments

from .sft_config import SignSFTConfig
from .sft_trainer import SignSFTTrainer


def evaluate_translation(
    model,
    tokenizer,
    dataset: Dataset,
    args: TrainingArguments,
    *,
    num_beams: int = 4,
    max_new_tokens: int = 64,
    language: str = "en",
    metric_key_prefix: str = "test",
) -> tuple[dict[str, float], list[str]]:
    """Generates translations of `dataset` and scores them (BLEU-1..4, ROUGE-L, chrF, SynthSign probes when present).

    It runs under the same accelerate set-up as `args` (devices, processes, precision) and its DataLoader settings
    (workers, pinned memory, prefetch), so a recipe can score the model before and after SignDPO with the launch it is
    already in.

    Args:
        model: A [`SignTranslationModel`] (or a peft model of one).
        tokenizer: Its tokenizer.
        dataset (`Dataset`): Pose rows with a `text` column.
        args (`TrainingArguments`): The run's arguments; batch size, devices and precision are taken from them.
        num_beams (`int`, defaults to 4), max_new_tokens (`int`, defaults to 64): Decoding.
        language (`str`, defaults to `"en"`): `"en"` or `"zh"`, for the BLEU tokenizer and ROUGE-L unit.
        metric_key_prefix (`str`, defaults to `"test"`): Prefix of the returned metric names.

    Returns:
        `(metrics, predictions)`: metric name -> value (with the sacrebleu signature under
        `<prefix>_signature`), and the decoded translations in dataset order.
    """
    eval_args = SignSFTConfig(
        output_dir=args.output_dir,
        per_device_eval_batch_size=args.per_device_eval_batch_size,
        use_cpu=args.use_cpu,
        bf16=args.bf16,
        fp16=args.fp16,
        report_to="none",
        generation_num_beams=num_beams,
        generation_max_length=None,
        max_target_length=max_new_tokens,
        language=language,
        text_column=getattr(args, "text_column", "text"),
        max_frames=getattr(args, "max_frames", 256),
        confidence_threshold=getattr(args, "confidence_threshold", 0.3),
        dataloader_num_workers=args.dataloader_num_workers,
        dataloader_pin_memory=args.dataloader_pin_memory,
        dataloader_prefetch_factor=args.dataloader_prefetch_factor,
        seed=args.seed,
    )
    evaluator = SignSFTTrainer(model=model, args=eval_args, processing_class=tokenizer)
    output = evaluator.predict(dataset, metric_key_prefix=metric_key_prefix)
    metrics = {**output.metrics, f"{metric_key_prefix}_signature": evaluator.last_signature}
    return metrics, evaluator.decode(output.predictions)


__all__ = ["evaluate_translation"]
