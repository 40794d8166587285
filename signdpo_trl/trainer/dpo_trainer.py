"""SignDPO on top of TRL's DPOTrainer: multi-level preference pairs built on the fly from poses and text."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import textwrap
from collections import defaultdict
from collections.abc import Callable

import torch
import torch.nn.functional as F
from accelerate.utils import is_peft_model
from datasets import Dataset
from torch import nn
from transformers import PreTrainedTokenizerBase, TrainerCallback
from transformers.trainer import Trainer
from trl import DPOTrainer
from trl.trainer.base_trainer import _BaseTrainer
from trl.trainer.utils import selective_log_softmax

from .collators import CollatorResumeCallback, PoseBatch, PoseCollator
from .dpo_config import SignDPOConfig
from .model_card import create_sign_model_card
from .preference_collator import SignPreferenceCollator, build_preference_hooks


_DROPOUT_ATTRIBUTES = ("dropout", "dropout_rate", "attention_dropout", "activation_dropout", "hidden_dropout")


def disable_dropout(model: nn.Module) -> None:
    """Turns off every dropout of a model: `nn.Dropout` modules *and* float dropout attributes.

    TRL's `disable_dropout_in_model` only zeroes `nn.Dropout` modules; T5 attention in transformers 5 also applies
    `nn.functional.dropout` with a float `dropout` attribute, which would keep DPO log-probabilities noisy.
    """
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        for name in _DROPOUT_ATTRIBUTES:
            if isinstance(getattr(module, name, None), float):
                setattr(module, name, 0.0)


def sequence_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of the label tokens' log-probabilities per row, and the number of label tokens per row."""
    label_mask = labels != -100
    per_token = selective_log_softmax(logits, labels.masked_fill(~label_mask, 0))
    return (per_token * label_mask).sum(-1), label_mask.sum(-1)


def pad_labels(label_blocks: list[torch.Tensor]) -> torch.Tensor:
    """Concatenates label blocks of different lengths along the batch, padding with -100."""
    length = max(block.shape[1] for block in label_blocks)
    return torch.cat([F.pad(block, (0, length - block.shape[1]), value=-100) for block in label_blocks])


class SignDPOTrainer(DPOTrainer):
    """SignDPO: multi-level Direct Preference Optimisation for pose-to-text sign language translation.

    Used where a TRL user writes `DPOTrainer`: hand it the MLE model (a [`SignTranslationModel`], or a `peft` model
    of one), a dataset of pose rows (`keypoints`, `confidence`, `text`; no pre-built pairs) and the tokenizer. At
    every step the collator's hooks build, for each clip, one rejected sample per level (spatial/temporal, global/local
    perturbations of the pose, a corrupted translation) and the step adds the attention-guided level from the
    reference model's cross-attention. The loss is TRL's DPO loss of each level's margin, weighted and summed, with an
    optional NLL anchor (`"sft"` in `loss_type`).

    One fused step: the pose encoder runs once per distinct pose (the language pair reuses the chosen pose's encoding),
    the decoder runs over all rows of the step in one batch, and the reference model runs without gradients over the
    same rows; the attention-guided rejected poses come from the reference's cross-attention on the chosen pair, which
    that reference pass computes anyway.

    Args:
        model ([`SignTranslationModel`], `peft.PeftModel` or `str`): The policy; a path or Hub id is loaded with
            `SignTranslationModel.from_pretrained`.
        ref_model ([`SignTranslationModel`], *optional*): The frozen reference. Defaults to the policy with its adapter
            disabled (peft) or a frozen copy of the policy made before training; never reloaded by name.
        args ([`SignDPOConfig`], *optional*): Configuration.
        data_collator (`Callable`, *optional*): Defaults to a [`SignPreferenceCollator`] with the hooks of
            `args.levels`.
        train_dataset ([`~datasets.Dataset`]): Pose rows.
        eval_dataset ([`~datasets.Dataset`] or `dict[str, Dataset]`, *optional*): Pose rows for evaluation.
        processing_class ([`~transformers.PreTrainedTokenizerBase`]): The target-text tokenizer.
        callbacks (`list[TrainerCallback]`, *optional*), optimizers (`tuple`, *optional*): As in `Trainer`.
        peft_config (`peft.PeftConfig`, *optional*): Wraps the model in a PEFT adapter (e.g. LoRA on the language
            model); the reference is then the model with the adapter disabled.
    """

    _tag_names = ["trl", "dpo", "signdpo", "signdpo-trl", "sign-language-translation"]
    _name = "SignDPO"
    _paper = {
        "title": "SignDPO: Multi-level Direct Preference Optimisation for Skeleton-based Gloss-free Sign Language "
        "Translation",
        "id": "2604.18034",
        # docstyle-ignore
        "citation": textwrap.dedent("""\
            @article{pu2026signdpo,
                title   = {{SignDPO: Multi-level Direct Preference Optimisation for Skeleton-based Gloss-free
                           Sign Language Translation}},
                author  = {Muxin Pu and Xiao-Ming Wu and Mei Kuan Lim and Chun Yong Chong and Wei Li and
                           Chen Change Loy},
                year    = 2026,
                journal = {arXiv preprint arXiv:2604.18034},
            }"""),
    }

    def __init__(
        self,
        model,
        ref_model: nn.Module | None = None,
        args: SignDPOConfig | None = None,
        data_collator: Callable | None = None,
        train_dataset: Dataset | None = None,
        eval_dataset: Dataset | dict[str, Dataset] | None = None,
        processing_class: PreTrainedTokenizerBase | None = None,
        compute_metrics: Callable | None = None,
        callbacks: list[TrainerCallback] | None = None,
        optimizers: tuple = (None, None),
        peft_config=None,
    ):
        if args is None:
            args = SignDPOConfig(output_dir="signdpo")
        elif not isinstance(args, SignDPOConfig):
            raise TypeError(f"args must be a SignDPOConfig, got {type(args).__name__}.")
        if train_dataset is None:
            raise ValueError("train_dataset is required: a dataset of pose rows (keypoints, confidence, text).")
        if processing_class is None:
            raise ValueError("SignDPOTrainer needs the target tokenizer: pass processing_class=<tokenizer>.")
        if isinstance(model, str):
            from ..models import SignTranslationModel

            model = SignTranslationModel.from_pretrained(model, **(args.model_init_kwargs or {}))
        if ref_model is model:
            raise ValueError("model and ref_model must be different objects; omit ref_model to get a frozen copy.")
        if peft_config is not None:
            from peft import get_peft_model

            if is_peft_model(model):
                raise ValueError("model is already a PeftModel; merge its adapter first or omit peft_config.")
            model = get_peft_model(model, peft_config)

        if ref_model is None and not is_peft_model(model):
            # TRL would reload the reference by `config._name_or_path`, which fails for a model built in memory.
            ref_model = copy.deepcopy(model)
        if ref_model is not None:
            ref_model.eval()
            ref_model.requires_grad_(False)
        if args.disable_dropout:
            disable_dropout(model)
            if ref_model is not None:
                disable_dropout(ref_model)
        # Normalisation statistics learned in MLE training stay fixed: policy and reference must normalise alike, and
        # the rejected poses of a step must not shift them.
        for module in model.modules():
            if callable(getattr(module, "freeze_statistics", None)):
                module.freeze_statistics()

        if data_collator is None:
            data_collator = SignPreferenceCollator(
                tokenizer=processing_class,
                hooks=build_preference_hooks(args, language=args.language),
                text_column=args.text_column,
                max_target_length=args.max_target_length,
                max_frames=args.max_frames,
                confidence_threshold=args.confidence_threshold,
                frame_sampling="uniform",
                seed=(args.seed, args.process_index),
            )

        # DPOTrainer.__init__ prepares text datasets and patches a causal LM head; SignDPO needs neither, so the
        # Trainer is initialised directly and DPOTrainer contributes its logging, checkpointing and model card.
        _BaseTrainer.__init__(
            self,
            model=model,
            args=args,
            data_collator=data_collator,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            compute_metrics=compute_metrics,
            callbacks=callbacks,
            optimizers=optimizers,
        )
        self._tokenizer = processing_class
        self._is_vision_dataset = False
        self._is_vlm = False
        self.beta = args.beta
        self.loss_types = args.loss_type
        self.loss_weights = args.loss_weights or [1.0] * len(self.loss_types)
        self.label_smoothing = args.label_smoothing
        self.precompute_ref_logps = False
        self.aux_loss_enabled = False
        self.maybe_activation_offload_context = contextlib.nullcontext()
        self._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
        self.level_weights = dict(zip(args.levels, args.level_weights))
        self.attention_hook = next(
            (hook for hook in getattr(data_collator, "hooks", ()) if hook.level == "attention"), None
        )
        self.ref_model = ref_model
        if self.ref_model is not None:
            self.ref_model = self.accelerator.prepare_model(self.ref_model, evaluation_mode=True)
        if args.sync_ref_model:
            from trl.trainer.callbacks import SyncRefModelCallback

            if is_peft_model(self.model):
                raise ValueError("sync_ref_model=True needs a separate reference model; it does not work with peft.")
            self.add_callback(SyncRefModelCallback(ref_model=self.ref_model, accelerator=self.accelerator))
        if isinstance(data_collator, PoseCollator) and data_collator.seed is not None:
            self.add_callback(CollatorResumeCallback(data_collator))
        self.model.add_model_tags(self._tag_names)

    # -- the fused step ---------------------------------------------------------------------------------------------

    def _reference_context(self):
        if self.ref_model is None:
            return self.accelerator.unwrap_model(self.model).disable_adapter()
        return contextlib.nullcontext()

    def _reference_model(self) -> nn.Module:
        return self.ref_model if self.ref_model is not None else self.model

    def _attention_pose(self, inputs: dict[str, torch.Tensor], salience: torch.Tensor) -> torch.Tensor:
        """Builds the attention-guided rejected pose from the reference model's salience over the chosen pair."""
        source = PoseBatch(inputs["source_keypoints"], inputs["source_mask"], inputs["source_lengths"])
        # The operators are tensor code and run where the batch is; only the generator (its draws) lives on the CPU.
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, ()).item()))
        perturbed = self.attention_hook(source, salience.to(source.keypoints.device), generator)
        return self.data_collator.encode(perturbed)["pose"]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        mode = "train" if self.model.training else "eval"
        pose, pose_mask, labels = inputs["pose"], inputs["pose_mask"], inputs["labels"]
        batch_size = pose.shape[0]
        # Levels in the collator's hook order, read from the batch: a user's own hook needs no entry in `args.levels`.
        pose_levels = [key.removeprefix("rejected_pose_") for key in inputs if key.startswith("rejected_pose_")]
        text_levels = [key.removeprefix("rejected_labels_") for key in inputs if key.startswith("rejected_labels_")]
        rejected_poses = [inputs[f"rejected_pose_{level}"] for level in pose_levels]
        rejected_labels = [inputs[f"rejected_labels_{level}"] for level in text_levels]

        reference = self._reference_model()
        with torch.no_grad(), self._reference_context():
            # The chosen pose is encoded once for its own text and the rejected texts; its cross-attention on the
            # chosen pair is the salience the attention level perturbs.
            chosen_rows = self.pair_rows(pose, pose_mask, labels, [], rejected_labels, include_chosen=True)
            chosen_ref = reference(**chosen_rows, output_attentions=True)
            chosen_row_logps, _ = sequence_log_probs(chosen_ref.logits, chosen_rows["labels"])
            ref_chosen_logps, ref_text_logps = chosen_row_logps[:batch_size], chosen_row_logps[batch_size:]
            if self.attention_hook is not None and "source_keypoints" in inputs:
                cross_attentions = tuple(
                    layer[:batch_size, :, : labels.shape[1]] for layer in chosen_ref.cross_attentions
                )
                salience = self.accelerator.unwrap_model(reference).salience_from_attentions(
                    cross_attentions, labels, pose_mask
                )
                pose_levels.append("attention")
                rejected_poses.append(self._attention_pose(inputs, salience))
            del chosen_ref

            ref_rejected_logps = ref_text_logps
            if rejected_poses:
                ref_pose_rows = self.pair_rows(pose, pose_mask, labels, rejected_poses, [], include_chosen=False)
                ref_pose_logps, _ = sequence_log_probs(reference(**ref_pose_rows).logits, ref_pose_rows["labels"])
                ref_rejected_logps = torch.cat([ref_pose_logps, ref_text_logps])

        # Policy: every distinct pose is encoded once; the decoder runs over all rows together.
        policy_rows = self.pair_rows(pose, pose_mask, labels, rejected_poses, rejected_labels, include_chosen=True)
        policy_out = model(**policy_rows)
        policy_logps, token_counts = sequence_log_probs(policy_out.logits, policy_rows["labels"])

        chosen_logps, rejected_logps = policy_logps[:batch_size], policy_logps[batch_size:]
        chosen_tokens, rejected_tokens = token_counts[:batch_size], token_counts[batch_size:]
        chosen_logratios = chosen_logps - ref_chosen_logps
        rejected_logratios = (rejected_logps - ref_rejected_logps).view(-1, batch_size)
        levels = pose_levels + text_levels

        loss = torch.zeros((), device=pose.device)
        for index, level in enumerate(levels):
            level_loss = self.preference_loss(
                chosen_logratios,
                rejected_logratios[index],
                chosen_tokens,
                rejected_tokens.view(-1, batch_size)[index],
            )
            loss = loss + self.level_weights.get(level, 1.0) * level_loss
        if "sft" in self.loss_types:
            nll = -(chosen_logps.sum() / chosen_tokens.sum().clamp(min=1))
            loss = loss + self.loss_weights[self.loss_types.index("sft")] * nll
            self._metrics[mode]["nll"].append(self.accelerator.gather_for_metrics(nll.detach()).mean().item())
        self._log_metrics(mode, levels, chosen_logps, rejected_logps, chosen_logratios, rejected_logratios)
        return (loss, policy_out) if return_outputs else loss

    @staticmethod
    def pair_rows(pose, pose_mask, labels, rejected_poses, rejected_labels, include_chosen: bool) -> dict:
        """Model inputs for a block of rows, each distinct pose encoded once.

        Rows are: (if `include_chosen`) the chosen pose with the chosen text, each rejected pose with the chosen text,
        then the chosen pose with each rejected text. `encoder_row_index` maps every decoder row to its encoded pose,
        so the language rows reuse the chosen pose's encoding instead of encoding it again.
        """
        batch_size = pose.shape[0]
        poses = ([pose] if include_chosen else []) + list(rejected_poses)
        chosen_slot = 0 if include_chosen else None
        if rejected_labels and chosen_slot is None:
            chosen_slot = len(poses)
            poses.append(pose)
        num_text_rows = len(rejected_poses) + int(include_chosen)
        rows = torch.arange(batch_size, device=pose.device)
        encoder_row_index = torch.cat(
            [torch.arange(num_text_rows * batch_size, device=pose.device)]
            + [rows + chosen_slot * batch_size for _ in rejected_labels]
        )
        return {
            "pose": torch.cat(poses),
            "pose_mask": pose_mask.repeat(len(poses), 1),
            "labels": pad_labels([labels] * num_text_rows + list(rejected_labels)),
            "encoder_row_index": encoder_row_index,
        }

    def preference_loss(
        self,
        chosen_logratios: torch.Tensor,
        rejected_logratios: torch.Tensor,
        chosen_tokens: torch.Tensor,
        rejected_tokens: torch.Tensor,
    ) -> torch.Tensor:
        """TRL's DPO losses of one level's margin, weighted by `loss_weights` (the `"sft"` anchor is added once)."""
        delta = chosen_logratios - rejected_logratios
        loss = torch.zeros((), device=delta.device)
        for loss_type, weight in zip(self.loss_types, self.loss_weights):
            if loss_type == "sigmoid":
                per_sequence = -F.logsigmoid(self.beta * delta)
            elif loss_type == "hinge":
                per_sequence = torch.relu(1 - self.beta * delta)
            elif loss_type == "ipo":
                # As TRL: the log-ratios are averaged per token before the squared loss.
                ipo_delta = chosen_logratios / chosen_tokens.clamp(min=1) - rejected_logratios / rejected_tokens.clamp(
                    min=1
                )
                per_sequence = (ipo_delta - 1 / (2 * self.beta)) ** 2
            elif loss_type == "robust":
                clean = -(1 - self.label_smoothing) * F.logsigmoid(self.beta * delta)
                flipped = -self.label_smoothing * F.logsigmoid(-self.beta * delta)
                per_sequence = (clean - flipped) / (1 - 2 * self.label_smoothing)
            elif loss_type == "sft":
                continue
            else:
                raise ValueError(f"Unsupported loss_type {loss_type!r}.")
            loss = loss + weight * per_sequence.mean()
        return loss

    # -- metrics -----------------------------------------------------------------------------------------------------

    def _log_metrics(self, mode, levels, chosen_logps, rejected_logps, chosen_logratios, rejected_logratios):
        """Per-level and overall reward metrics, gathered across processes in one call and read in one sync."""
        num_levels = len(levels)
        columns = torch.cat(
            [
                self.beta * chosen_logratios[:, None],
                self.beta * rejected_logratios.T,
                chosen_logps[:, None],
                rejected_logps.view(num_levels, -1).T,
            ],
            dim=1,
        ).detach()
        gathered = self.accelerator.gather_for_metrics(columns)  # (processes x B) x (2 + 2 L)
        chosen_rewards = gathered[:, :1]
        rejected_rewards = gathered[:, 1 : 1 + num_levels]
        margins = chosen_rewards - rejected_rewards
        wins = (margins > 0).float()
        per_level = torch.stack(
            [chosen_rewards.mean(0).expand(num_levels), rejected_rewards.mean(0), wins.mean(0), margins.mean(0)]
        )
        overall = torch.stack(
            [
                chosen_rewards.mean(),
                rejected_rewards.mean(),
                wins.mean(),
                margins.mean(),
                gathered[:, 1 + num_levels].mean(),
                gathered[:, 2 + num_levels :].mean(),
            ]
        )
        values = torch.cat([per_level.T.flatten(), overall]).tolist()
        names = [
            f"rewards/{level}/{stat}" for level in levels for stat in ("chosen", "rejected", "accuracies", "margins")
        ]
        names += ["rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"]
        names += ["logps/chosen", "logps/rejected"]
        for name, value in zip(names, values):
            self._metrics[mode][name].append(value)

    # -- evaluation and model card -----------------------------------------------------------------------------------

    def _get_dataloader(self, dataset, description, batch_size, sampler_fn=None, is_training=False, **kwargs):
        if is_training or not isinstance(self.data_collator, SignPreferenceCollator):
            return super()._get_dataloader(dataset, description, batch_size, sampler_fn, is_training, **kwargs)
        # Evaluation never samples frames at random, and a seeded collator draws the same pairs at every evaluation.
        train_collator = self.data_collator
        self.data_collator = dataclasses.replace(train_collator, frame_sampling="uniform", batch_index=0)
        try:
            return super()._get_dataloader(dataset, description, batch_size, sampler_fn, is_training, **kwargs)
        finally:
            self.data_collator = train_collator

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
        # DPOTrainer.evaluate tokenises text pairs; pose rows go straight to the collator.
        return Trainer.evaluate(self, eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False):
        super().save_model(output_dir, _internal_call)
        if not _internal_call:
            # TRL writes the card with checkpoints only; a model saved by hand gets its card next to its weights.
            self.create_model_card(output_dir=output_dir)

    def create_model_card(self, model_name=None, dataset_name=None, tags=None, output_dir=None):
        args = self.args
        levels = ", ".join(f"`{level}` (weight {weight:g})" for level, weight in self.level_weights.items())
        details = (
            f"Preference levels: {levels}. Loss: {', '.join(args.loss_type)} "
            f"(weights {', '.join(f'{w:g}' for w in self.loss_weights)}), beta {args.beta:g}. "
            "Every pair's chosen side is the clean clip with its reference translation; rejected sides are built on "
            "the fly at each step."
        )
        create_sign_model_card(
            self, details, model_name=model_name, dataset_name=dataset_name, tags=tags, output_dir=output_dir
        )
