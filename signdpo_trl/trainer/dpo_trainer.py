"""SignDPO on top of TRL's DPOTrainer: multi-level preference pairs built on the fly from poses and text."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections import defaultdict
from collections.abc import Callable

import numpy as np
import torch
from accelerate.utils import is_peft_model
from datasets import Dataset
from torch import nn
from transformers import PreTrainedTokenizerBase, TrainerCallback
from transformers.trainer import Trainer
from trl import DPOTrainer
from trl.trainer.base_trainer import _BaseTrainer

from ..data.collation import pose_normalization_of
from .checkpointing import AtomicCheckpointMixin
from .collators import CollatorResumeCallback, PoseBatch, PoseCollator, count_passes, pose_array_format
from .dpo_config import SignDPOConfig
from .hooks import PoseHook
from .levels import LEVEL_TABLE, build_preference_hooks
from .losses import (
    NLL_LOSS_TYPE,
    band_weights,
    chosen_anchor_loss,
    fused_rows,
    generated_to_labels,
    nll_loss,
    preference_loss,
    reference_margin,
    same_sequences,
    sequence_log_probs,
    uniform_log_probs,
    weighted_batch_mean,
)
from .model_card import SIGNDPO_PAPER, create_sign_model_card
from .preference_collator import SignPreferenceCollator


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


class SignDPOTrainer(AtomicCheckpointMixin, DPOTrainer):
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
            `args.levels` and the input convention of the model's config (`pose_normalization`); a `PoseCollator`
            passed here must build that convention too.
        train_dataset ([`~datasets.Dataset`]): Pose rows.
        eval_dataset ([`~datasets.Dataset`] or `dict[str, Dataset]`, *optional*): Pose rows for evaluation.
        processing_class ([`~transformers.PreTrainedTokenizerBase`]): The target-text tokenizer.
        callbacks (`list[TrainerCallback]`, *optional*), optimizers (`tuple`, *optional*): As in `Trainer`.
        peft_config (`peft.PeftConfig`, *optional*): Wraps the model in a PEFT adapter (e.g. LoRA on the language
            model); the reference is then the model with the adapter disabled.
    """

    _tag_names = ["trl", "dpo", "signdpo", "signdpo-trl", "sign-language-translation"]
    _name = "SignDPO"
    _paper = SIGNDPO_PAPER

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

        if ref_model is not None and pose_normalization_of(ref_model) != pose_normalization_of(model):
            raise ValueError(
                f"The model was trained on {pose_normalization_of(model)!r} inputs and ref_model on "
                f"{pose_normalization_of(ref_model)!r} inputs (their configs' `pose_normalization`); both score the "
                "same preference pairs, so they must read the same input convention."
            )
        if data_collator is None:
            data_collator = SignPreferenceCollator.for_model(
                model,
                tokenizer=processing_class,
                hooks=build_preference_hooks(args),
                text_column=args.text_column,
                max_target_length=args.max_target_length,
                max_frames=args.max_frames,
                confidence_threshold=args.confidence_threshold,
                frame_sampling="uniform",
                seed=(args.seed, args.process_index),
            )
        elif isinstance(data_collator, PoseCollator):
            data_collator.check_model(model)
        # The frames a clip is sampled to, kept with the model for translation (`Translator`).
        model.config.max_frames = getattr(data_collator, "max_frames", args.max_frames)

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
        self.level_betas = args.level_beta
        self.attention_hook = next(
            (hook for hook in getattr(data_collator, "hooks", ()) if hook.level == "attention"), None
        )
        # Pose levels built in the step (`pose_levels_in_step`), in the collator's order.
        self.step_pose_hooks = [
            hook for hook in getattr(data_collator, "hooks", ()) if isinstance(hook, PoseHook) and hook.in_step
        ]
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

    @staticmethod
    def _source_batch(inputs: dict[str, torch.Tensor]) -> PoseBatch:
        """The chosen clips in source space, as the collator ships them for the hooks that run in the step."""
        return PoseBatch(
            inputs["source_keypoints"],
            inputs["source_mask"],
            inputs["source_lengths"],
            inputs.get("source_confidence"),
        )

    @staticmethod
    def _step_generator(inputs: dict[str, torch.Tensor], stream: int = 0) -> torch.Generator:
        """A CPU generator of the in-step hooks' draws, seeded from the collator's seeded stream (`step_seed`), never
        from torch's global generator, so a resumed run draws the same pairs. Stream 0 is the attention level's; the
        pose levels built in the step take streams 1, 2, ... in the collator's order. The operators are tensor code
        and run where the batch is; only the generator (its draws) lives on the CPU."""
        seed = int(inputs["step_seed"].reshape(-1)[0]) if "step_seed" in inputs else int(torch.randint(0, 2**62, ()))
        if stream:
            seed = int(np.random.SeedSequence([seed, stream]).generate_state(1, np.uint64)[0])
        return torch.Generator().manual_seed(seed)

    def _attention_pose(self, inputs: dict[str, torch.Tensor], salience: torch.Tensor) -> torch.Tensor:
        """Builds the attention-guided rejected pose from the reference model's salience over the chosen pair.

        Its random draws (operators, and the frames themselves with `attention_placement="random"`) come from the
        step's generator (see `_step_generator`).
        """
        source = self._source_batch(inputs)
        generator = self._step_generator(inputs)
        if self.args.attention_placement == "random":
            salience = torch.rand(salience.shape, generator=generator)
        perturbed = self.attention_hook(source, salience.to(source.keypoints.device), generator)
        return self.data_collator.encode(perturbed)["pose"]

    @torch.no_grad()
    def _step_pose_levels(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The rejected poses of the pose levels built in the step (`pose_levels_in_step`): each hook on the chosen
        clips where the batch is, encoded as the collator encodes (the model's input convention)."""
        source = self._source_batch(inputs)
        return {
            hook.level: self.data_collator.encode(hook(source, (), self._step_generator(inputs, stream)))["pose"]
            for stream, hook in enumerate(self.step_pose_hooks, start=1)
        }

    @torch.no_grad()
    def _decode_rejected(self, reference: nn.Module, rejected_poses: list[torch.Tensor], pose_mask: torch.Tensor):
        """The reference's greedy translations of perturbed poses, as label blocks (one per pose), in one batch."""
        generator_model = self.accelerator.unwrap_model(reference)
        sequences = generator_model.generate(
            pose=torch.cat(rejected_poses),
            pose_mask=pose_mask.repeat(len(rejected_poses), 1),
            num_beams=1,
            do_sample=False,
            max_new_tokens=self.args.max_target_length,
        )
        labels = generated_to_labels(sequences, self._tokenizer.eos_token_id, self._tokenizer.pad_token_id)
        return list(labels.split(pose_mask.shape[0]))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        mode = "train" if self.model.training else "eval"
        pose, pose_mask, labels = inputs["pose"], inputs["pose_mask"], inputs["labels"]
        batch_size = pose.shape[0]
        decoded = set(self.args.decoded_levels)
        # Levels in the collator's hook order, read from the batch: a user's own hook needs no entry in `args.levels`.
        pose_levels = [key.removeprefix("rejected_pose_") for key in inputs if key.startswith("rejected_pose_")]
        text_levels = [key.removeprefix("rejected_labels_") for key in inputs if key.startswith("rejected_labels_")]
        rejected_poses = {level: inputs[f"rejected_pose_{level}"] for level in pose_levels}
        if self.step_pose_hooks and "source_keypoints" in inputs:
            rejected_poses.update(self._step_pose_levels(inputs))
            pose_levels = list(rejected_poses)
        rejected_labels = [inputs[f"rejected_labels_{level}"] for level in text_levels]

        reference = self._reference_model()
        with torch.no_grad(), self._reference_context():
            # The chosen pose is encoded once for its own text and the rejected texts; its cross-attention on the
            # chosen pair is the salience the attention level perturbs.
            chosen_rows = fused_rows(pose, pose_mask, labels, [], rejected_labels, include_chosen=True)
            chosen_ref = reference(**chosen_rows, output_attentions=self.attention_hook is not None)
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
                rejected_poses["attention"] = self._attention_pose(inputs, salience)
            del chosen_ref

            # Decoded levels turn (x~, y) into (x, y_hat): the reference's translation of the perturbed pose.
            decoded_levels = [level for level in pose_levels if level in decoded]
            pose_levels = [level for level in pose_levels if level not in decoded]
            decoded_labels = (
                self._decode_rejected(reference, [rejected_poses[level] for level in decoded_levels], pose_mask)
                if decoded_levels
                else []
            )
            ref_rejected_logps = ref_text_logps
            if pose_levels or decoded_levels:
                ref_rows = fused_rows(
                    pose, pose_mask, labels, [rejected_poses[level] for level in pose_levels], decoded_labels, False
                )
                ref_rows_logps, _ = sequence_log_probs(reference(**ref_rows).logits, ref_rows["labels"])
                split = len(pose_levels) * batch_size
                ref_rejected_logps = torch.cat([ref_rows_logps[:split], ref_text_logps, ref_rows_logps[split:]])

        # Policy: every distinct pose is encoded once; the decoder runs over all rows together.
        policy_rows = fused_rows(
            pose,
            pose_mask,
            labels,
            [rejected_poses[level] for level in pose_levels],
            rejected_labels + decoded_labels,
            include_chosen=True,
        )
        policy_out = model(**policy_rows)
        policy_logps, token_counts = sequence_log_probs(policy_out.logits, policy_rows["labels"])

        levels = pose_levels + text_levels + decoded_levels
        chosen_logps, rejected_logps = policy_logps[:batch_size], policy_logps[batch_size:]
        chosen_tokens = token_counts[:batch_size]
        rejected_tokens = token_counts[batch_size:].view(-1, batch_size)
        chosen_logratios = chosen_logps - ref_chosen_logps
        rejected_logratios = (rejected_logps - ref_rejected_logps).view(-1, batch_size)
        reference_margins = reference_margin(ref_chosen_logps[None], ref_rejected_logps.view(-1, batch_size))
        # A decoded translation equal to the reference is no pair.
        skipped = {level: same_sequences(labels, block) for level, block in zip(decoded_levels, decoded_labels)}

        loss = torch.zeros((), device=pose.device)
        kept, total_weight = [], 0.0
        for index, level in enumerate(levels):
            weights = self.pair_weights(level, reference_margins[index], skipped.get(level))
            kept.append(weights > 0 if weights is not None else torch.ones_like(chosen_logratios, dtype=torch.bool))
            level_weight = self.level_weights.get(level, 1.0)
            level_loss = self.level_loss(
                level,
                chosen_logratios,
                rejected_logratios[index],
                chosen_tokens,
                rejected_tokens[index],
                weights,
            )
            loss = loss + level_weight * level_loss
            total_weight += level_weight
        if self.args.level_reduction == "mean" and total_weight > 0:
            loss = loss / total_weight
        if self.args.chosen_anchor_weight:
            anchor = chosen_anchor_loss(chosen_logratios, self.beta).mean()
            loss = loss + self.args.chosen_anchor_weight * anchor
        if NLL_LOSS_TYPE in self.loss_types:
            smoothing = self.args.nll_label_smoothing
            uniform = (
                uniform_log_probs(policy_out.logits[:batch_size], policy_rows["labels"][:batch_size])
                if smoothing
                else None
            )
            nll = nll_loss(chosen_logps, chosen_tokens, self.args.nll_normalization, smoothing, uniform)
            loss = loss + self.loss_weights[self.loss_types.index(NLL_LOSS_TYPE)] * nll
            self._metrics[mode]["nll"].append(self.accelerator.gather_for_metrics(nll.detach()).mean().item())
        self._log_metrics(
            mode, levels, chosen_logps, rejected_logps, chosen_logratios, rejected_logratios, torch.stack(kept)
        )
        return (loss, policy_out) if return_outputs else loss

    @staticmethod
    def pair_rows(pose, pose_mask, labels, rejected_poses, rejected_labels, include_chosen: bool) -> dict:
        """See [`~signdpo_trl.trainer.losses.fused_rows`]."""
        return fused_rows(pose, pose_mask, labels, rejected_poses, rejected_labels, include_chosen)

    def pair_weights(
        self, level: str, reference_margins: torch.Tensor, skipped: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        """Per-pair weights of a level: its reference-margin band, and 0 for pairs that are no pairs (a decoded
        translation equal to the reference). `None` when every pair counts fully."""
        weights = None
        if level in self.args.levels and (
            self.args.reference_margin_min is not None or self.args.reference_margin_max is not None
        ):
            low, high = self.args.level_band(level)
            if low is not None or high is not None:
                weights = band_weights(reference_margins, low, high, self.args.band_outside_weight)
        if skipped is not None:
            weights = torch.ones_like(reference_margins) if weights is None else weights
            weights = weights.masked_fill(skipped, 0.0)
        return weights

    def level_loss(
        self,
        level: str,
        chosen_logratios: torch.Tensor,
        rejected_logratios: torch.Tensor,
        chosen_tokens: torch.Tensor,
        rejected_tokens: torch.Tensor,
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One level's DPO loss: TRL's loss forms in `loss_type` weighted by `loss_weights` (the `"sft"` anchor is
        added once, not per level), at the level's temperature, averaged over the batch with the pair weights."""
        beta = self.level_betas.get(level, self.beta)
        loss = torch.zeros((), device=chosen_logratios.device)
        for loss_type, weight in zip(self.loss_types, self.loss_weights):
            if loss_type == NLL_LOSS_TYPE:
                continue
            output = preference_loss(
                chosen_logratios,
                rejected_logratios,
                loss_type=loss_type,
                beta=beta,
                label_smoothing=self.label_smoothing if loss_type == "robust" else 0.0,
                chosen_tokens=chosen_tokens,
                rejected_tokens=rejected_tokens,
                dpop_lambda=self.args.dpop_lambda,
            )
            loss = loss + weight * weighted_batch_mean(output.losses, weights)
        return loss

    # -- metrics -----------------------------------------------------------------------------------------------------

    def _log_metrics(self, mode, levels, chosen_logps, rejected_logps, chosen_logratios, rejected_logratios, kept):
        """Per-level and overall reward metrics, gathered across processes in one call and read in one sync.

        `kept` (`L x B` bool) marks the pairs that count (inside their band, not skipped); `kept/<level>` is its
        share."""
        num_levels = len(levels)
        columns = torch.cat(
            [
                self.beta * chosen_logratios[:, None],
                self.beta * rejected_logratios.T,
                chosen_logps[:, None],
                rejected_logps.view(num_levels, -1).T,
                kept.T.to(chosen_logps.dtype),
            ],
            dim=1,
        ).detach()
        gathered = self.accelerator.gather_for_metrics(columns)  # (processes x B) x (2 + 3 L)
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
                gathered[:, 2 + num_levels : 2 + 2 * num_levels].mean(),
            ]
        )
        kept_share = gathered[:, 2 + 2 * num_levels :].mean(0)
        values = torch.cat([per_level.T.flatten(), overall, kept_share]).tolist()
        names = [
            f"rewards/{level}/{stat}" for level in levels for stat in ("chosen", "rejected", "accuracies", "margins")
        ]
        names += ["rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"]
        names += ["logps/chosen", "logps/rejected"]
        names += [f"kept/{level}" for level in levels]
        for name, value in zip(names, values):
            self._metrics[mode][name].append(value)

    # -- evaluation and model card -----------------------------------------------------------------------------------

    def _get_dataloader(self, dataset, description, batch_size, sampler_fn=None, is_training=False, **kwargs):
        # Rows reach the collator as arrays, not nested lists.
        dataset = pose_array_format(dataset)
        if is_training or not isinstance(self.data_collator, SignPreferenceCollator):
            dataloader = super()._get_dataloader(dataset, description, batch_size, sampler_fn, is_training, **kwargs)
            if is_training:
                count_passes(self.data_collator, dataloader)
            return dataloader
        # Evaluation never samples frames at random, and a seeded collator draws the same pairs at every evaluation
        # (persistent workers included).
        train_collator = self.data_collator
        self.data_collator = dataclasses.replace(train_collator, frame_sampling="uniform", batch_index=0)
        try:
            dataloader = super()._get_dataloader(dataset, description, batch_size, sampler_fn, is_training, **kwargs)
            count_passes(self.data_collator, dataloader, repeat_passes=True)
            return dataloader
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

    def create_model_card(self, model_name=None, dataset_name=None, tags=None, output_dir=None, test_metrics=None):
        """Writes `README.md`: the method, each level with its operators, weight and temperature, the objective, the
        data, the base model, the test scores (`test_metrics`, as `recipes/dpo.py` writes them) and the paper."""
        create_sign_model_card(
            self,
            self._training_details(),
            model_name=model_name,
            dataset_name=dataset_name,
            tags=tags,
            output_dir=output_dir,
            test_metrics=test_metrics,
        )

    def _training_details(self) -> str:
        args = self.args
        rows = ["| level | rejected sample | weight | beta | settings |", "|---|---|---:|---:|---|"]
        for level, weight in self.level_weights.items():
            entry = LEVEL_TABLE.get(level)
            side = "wrong text, clean pose (x, y~)" if entry and entry.side == "text" else "perturbed pose (x~, y)"
            if level in args.decoded_levels:
                side = "reference's translation of the perturbed pose (x, y_hat)"
            settings = "; ".join(f"`{name}`: {getattr(args, name)}" for name in (entry.fields if entry else ()))
            beta = args.level_beta.get(level, args.beta)
            rows.append(f"| `{level}` | {side} | {weight:g} | {beta:g} | {settings} |")
        objective = [
            f"- loss: {', '.join(f'`{t}` (weight {w:g})' for t, w in zip(self.loss_types, self.loss_weights))}, "
            f"beta {args.beta:g}, level losses combined by `{args.level_reduction}`",
            f"- NLL anchor (`sft`): `nll_normalization={args.nll_normalization}`, "
            f"`nll_label_smoothing={args.nll_label_smoothing:g}`"
            if NLL_LOSS_TYPE in self.loss_types
            else "- no NLL anchor",
            f"- mDPO anchor `chosen_anchor_weight={args.chosen_anchor_weight:g}`, "
            f"DPOP penalty `dpop_lambda={args.dpop_lambda:g}`",
            f"- reference-margin band per level: min {args.reference_margin_min}, max {args.reference_margin_max}; "
            f"pairs outside weigh {args.band_outside_weight:g}"
            if args.reference_margin_min is not None or args.reference_margin_max is not None
            else "- every pair kept (no reference-margin band)",
            f"- learning rate {args.learning_rate:g}, {self.state.global_step} steps, "
            f"{args.per_device_train_batch_size} clips per device and step",
        ]
        return "\n".join(
            [
                "Every pair's chosen side is the clean clip with its reference translation; rejected sides are built "
                "on the fly at each step, one per level. The reference model is the checkpoint training started from.",
                "",
                *rows,
                "",
                "Objective:",
                "",
                *objective,
            ]
        )
