"""Maximum-likelihood training of a pose-to-text model, evaluated by generation as the SLT literature reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from transformers import EvalPrediction, Seq2SeqTrainer
from trl.trainer.base_trainer import _BaseTrainer

from ..metrics import compute_slt_metrics, probe_accuracy
from .checkpointing import AtomicCheckpointMixin
from .collators import CollatorResumeCallback, PoseCollator, SignTranslationCollator, count_passes, pose_array_format
from .model_card import create_sign_model_card
from .sft_config import SignSFTConfig


class SignSFTTrainer(AtomicCheckpointMixin, _BaseTrainer, Seq2SeqTrainer):
    """Teacher-forced MLE trainer for [`SignTranslationModel`], the reference model of SignDPO.

    It collates pose rows itself (frame sampling, padding with a frame mask, per-part normalisation, target
    tokenisation with truncation before padding), trains with label smoothing, and evaluates by generating
    translations and scoring them with [`compute_slt_metrics`] (cumulative BLEU-1..4, ROUGE-L, chrF). When the
    evaluation dataset has a `probes` column (SynthSign), minimal-pair, negation and question accuracy are reported
    too.

    Args:
        model ([`SignTranslationModel`] or `peft.PeftModel`): The model to train.
        args ([`SignSFTConfig`], *optional*): Training configuration; a default one writing to `sign-sft` if omitted.
        data_collator (`Callable`, *optional*): Defaults to a [`SignTranslationCollator`] built from `args`, with the
            input convention of the model's config (`pose_normalization`); a `PoseCollator` passed here must build
            that convention too.
        train_dataset ([`~datasets.Dataset`], *optional*): Pose rows with `keypoints`, `confidence` and the text
            column.
        eval_dataset ([`~datasets.Dataset`] or `dict[str, Dataset]`, *optional*): Rows for evaluation.
        processing_class ([`~transformers.PreTrainedTokenizerBase`]): The target-text tokenizer.
        compute_metrics (`Callable`, *optional*): Defaults to the SLT metrics on the decoded generations.
        **kwargs: Passed on to [`~transformers.Seq2SeqTrainer`] (callbacks, optimizers, ...).
    """

    _tag_names = ["trl", "sft", "signdpo-trl", "sign-language-translation"]
    _name = "SignSFT"
    _paper = {}

    def __init__(
        self,
        model: torch.nn.Module,
        args: SignSFTConfig | None = None,
        data_collator: Callable | None = None,
        train_dataset: Dataset | None = None,
        eval_dataset: Dataset | dict[str, Dataset] | None = None,
        processing_class: Any = None,
        compute_metrics: Callable[[EvalPrediction], dict] | None = None,
        **kwargs,
    ):
        if args is None:
            args = SignSFTConfig(output_dir="sign-sft")
        if processing_class is None:
            raise ValueError("SignSFTTrainer needs the target tokenizer: pass processing_class=<tokenizer>.")
        if data_collator is None:
            data_collator = SignTranslationCollator.for_model(
                model,
                tokenizer=processing_class,
                text_column=args.text_column,
                max_target_length=args.max_target_length,
                max_frames=args.max_frames,
                confidence_threshold=args.confidence_threshold,
                frame_sampling="random" if args.random_frame_sampling else "uniform",
                decoder_start_token_id=model.config.get_text_config(decoder=True).decoder_start_token_id,
                seed=(args.seed, args.process_index),
            )
        elif isinstance(data_collator, PoseCollator):
            data_collator.check_model(model)
        # The frames a clip is sampled to, kept with the model for translation (`Translator`).
        model.config.max_frames = getattr(data_collator, "max_frames", args.max_frames)
        self._metric_dataset = None
        self.last_signature: str | None = None
        super().__init__(
            model=model,
            args=args,
            data_collator=data_collator,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            compute_metrics=compute_metrics if compute_metrics is not None else self._compute_slt_metrics,
            **kwargs,
        )
        # Evaluation never samples frames at random.
        self.eval_data_collator = (
            dataclasses.replace(data_collator, frame_sampling="uniform")
            if isinstance(data_collator, SignTranslationCollator)
            else data_collator
        )
        if isinstance(data_collator, SignTranslationCollator) and data_collator.seed is not None:
            self.add_callback(CollatorResumeCallback(data_collator))

    def _get_dataloader(self, dataset, description, batch_size, sampler_fn=None, is_training=False, **kwargs):
        # Rows reach the collator as arrays, not nested lists.
        dataset = pose_array_format(dataset)
        if is_training:
            dataloader = super()._get_dataloader(dataset, description, batch_size, sampler_fn, is_training, **kwargs)
            count_passes(self.data_collator, dataloader)
            return dataloader
        train_collator, self.data_collator = self.data_collator, self.eval_data_collator
        try:
            return super()._get_dataloader(dataset, description, batch_size, sampler_fn, is_training, **kwargs)
        finally:
            self.data_collator = train_collator

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval", **gen_kwargs):
        if isinstance(eval_dataset, str):
            self._metric_dataset = self.eval_dataset[eval_dataset]
        else:
            self._metric_dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        return super().evaluate(
            eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix, **gen_kwargs
        )

    def predict(self, test_dataset, ignore_keys=None, metric_key_prefix: str = "test", **gen_kwargs):
        self._metric_dataset = test_dataset
        return super().predict(
            test_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix, **gen_kwargs
        )

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None, **gen_kwargs):
        if not self.args.predict_with_generate or prediction_loss_only:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)
        inputs = self._prepare_inputs(inputs)
        if not gen_kwargs:
            gen_kwargs = {key: value for key, value in self._gen_kwargs.items() if value is not None}
        if "max_length" not in gen_kwargs and "max_new_tokens" not in gen_kwargs:
            gen_kwargs["max_new_tokens"] = self.args.max_target_length
        generator = self.accelerator.unwrap_model(model)
        with torch.no_grad():
            generated = generator.generate(pose=inputs["pose"], pose_mask=inputs["pose_mask"], **gen_kwargs)
            loss = None
            if "labels" in inputs:
                with self.compute_loss_context_manager():
                    outputs = model(**inputs)
                loss = (
                    self.label_smoother(outputs, inputs["labels"]) if self.label_smoother is not None else outputs.loss
                ).detach()
        return loss, generated, inputs.get("labels")

    def decode(self, token_ids: np.ndarray) -> list[str]:
        """Decodes generated or label ids (with -100 padding) into sentences."""
        token_ids = np.where(token_ids < 0, self.processing_class.pad_token_id, token_ids)
        return [text.strip() for text in self.processing_class.batch_decode(token_ids, skip_special_tokens=True)]

    def _compute_slt_metrics(self, prediction: EvalPrediction) -> dict[str, float]:
        generated = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        hypotheses = self.decode(generated)
        dataset = self._metric_dataset
        if isinstance(dataset, Dataset) and len(dataset) == len(hypotheses):
            references = list(dataset[self.args.text_column])
        else:
            references = self.decode(prediction.label_ids)
        scores = compute_slt_metrics(hypotheses, references, language=self.args.language)
        # The Trainer logs numbers only; the sacrebleu signature that must accompany the scores is kept here.
        self.last_signature = scores["signature"]
        metrics = {key: value for key, value in scores.items() if isinstance(value, (int, float))}
        if isinstance(dataset, Dataset) and "probes" in dataset.column_names and len(dataset) == len(hypotheses):
            probes = probe_accuracy(hypotheses, dataset["probes"])
            metrics.update({key: value for key, value in probes.items() if isinstance(value, (int, float))})
        return metrics

    # -- model card --------------------------------------------------------------------------------------------------

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False):
        super().save_model(output_dir, _internal_call)
        if not _internal_call:
            # A model saved by hand gets its card next to its weights; a push writes its own (`push_to_hub`).
            self.create_model_card(output_dir=output_dir)

    def create_model_card(self, model_name=None, dataset_name=None, tags=None, output_dir=None, test_metrics=None):
        """Writes `README.md`: the method and its settings, the data, the base model, the test scores (`test_metrics`,
        as `recipes/sft.py` writes them) and the SignDPO paper, whose reference model this is."""
        args = self.args
        frames = "random" if args.random_frame_sampling else "uniform"
        details = "\n".join(
            [
                "Maximum likelihood (teacher forcing) on the reference translations: the MLE model that SignDPO "
                "starts from and keeps as its reference.",
                "",
                f"- label smoothing {args.label_smoothing_factor:g}, learning rate {args.learning_rate:g}, "
                f"{self.state.global_step} steps, {args.per_device_train_batch_size} clips per device and step",
                f"- at most {args.max_frames} frames per clip ({frames} sub-sampling in training, uniform in "
                f"evaluation), at most {args.max_target_length} target tokens, keypoints at or below confidence "
                f"{args.confidence_threshold:g} masked, language `{args.language}`",
            ]
        )
        create_sign_model_card(
            self,
            details,
            model_name=model_name,
            dataset_name=dataset_name,
            tags=tags,
            output_dir=output_dir,
            test_metrics=test_metrics,
        )
