"""Configuration of SignDPO: multi-level DPO over preference pairs built on the fly from pose and text."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from trl import DPOConfig

from .collators import check_dataloader_order
from .levels import LEVEL_TABLE, POSE_LEVELS, SIGNDPO_LEVELS, check_level_operators, resolve_level
from .losses import LEVEL_REDUCTIONS, NLL_LOSS_TYPE, NLL_NORMALIZATIONS, PREFERENCE_LOSS_TYPES
from .precision import hardware_bf16


SUPPORTED_LOSS_TYPES = (*PREFERENCE_LOSS_TYPES, NLL_LOSS_TYPE)
ATTENTION_PLACEMENTS = ("salient", "random")


@dataclass
class SignDPOConfig(DPOConfig):
    r"""
    Configuration class for the [`SignDPOTrainer`].

    A drop-in for [`~trl.DPOConfig`]: every DPO option that makes sense for an encoder-decoder pose-to-text model keeps
    its meaning (`beta`, `loss_type`, `loss_weights`, `label_smoothing`, `disable_dropout`, `sync_ref_model`, ...).
    The dataset holds pose rows, not pairs: every step builds, for each clip (chosen side: the clean pose and its
    reference text), one rejected sample per level.

    Parameters:
        > Parameters that control the preference levels

        levels (`list[str]`, *optional*, defaults to all six):
            Levels to train on, among `"spatial_global"`, `"spatial_local"`, `"temporal_global"`,
            `"temporal_local"`, `"attention"` and `"language"`. Input levels pair (x, y) with (x~, y); the language
            level pairs (x, y) with (x, y~).
        level_weights (`list[float]`, *optional*):
            Weight of each level's DPO loss, in the order of `levels`. Defaults to 1 for every level. Levels that a
            user's own hooks add (a custom `data_collator`) weigh 1.
        spatial_global_operators, spatial_local_operators, temporal_global_operators, temporal_local_operators
        (`list[str]`):
            Registered perturbation operators a level draws from (one per clip and step, uniformly). Any operator
            registered with [`~signdpo_trl.perturbations.register_operator`] may be named.
        attention_operators (`list[str]`):
            Local operators the attention level applies at the frames (and parts) the reference model attends to most.
        spatial_global_strength, spatial_local_strength, temporal_global_strength, temporal_local_strength,
        attention_strength (`float`):
            Strength in [0, 1] passed to that level's operators.
        attention_top_k (`int`, *optional*, defaults to `8`):
            Number of most salient frames the attention level perturbs.
        attention_placement (`str`, *optional*, defaults to `"salient"`):
            Where the attention level perturbs: `"salient"` (the top-k frames of the reference model's
            cross-attention) or `"random"` (top-k frames of a random salience: the control for attention guidance).
        pose_levels_in_step (`bool`, *optional*, defaults to `False`):
            Build the rejected poses of the spatial and temporal levels inside the training step, where the batch is
            (on the accelerator), instead of in the collator. The collator then samples frames, pads, tokenises and
            corrupts texts, and ships the clean clip in source space with a seed for the step's draws (as it does for
            the attention level); the operators and the per-part normalisation run as tensor code on the device.
            Use it when the CPU cores per GPU cannot collate fast enough (see `benchmarks/data_throughput.py`). Draws
            stay seeded, so a resumed run draws what an uninterrupted one does; they are not the pairs the collator
            would draw for the same seed.
        rejected_texts_column (`str`, *optional*, defaults to `"rejected_texts"`):
            Column with a list of corrupted translations per row (e.g. the reference's own mined errors, see
            [`~signdpo_trl.corrupter.mine_translation_errors`]); one is drawn per step. Rows without it get a
            rule-based corruption of their reference text.
        decoded_levels (`list[str]`, *optional*, defaults to `[]`):
            Input levels whose pairs are decoded: the reference model translates the perturbed pose greedily,
            y_hat = decode(pi_ref, x~), and the pair becomes (x, y) over (x, y_hat), which shares the input (standard
            DPO: the normaliser Z(x) cancels) and turns the perturbation into a plausible wrong translation. Rows
            where y_hat equals y are skipped.

        > Parameters that control the data preprocessing

        text_column (`str`, *optional*, defaults to `"text"`):
            Column holding the reference translation (the chosen text).
        max_frames (`int`, *optional*, defaults to `256`):
            Clips longer than this are sub-sampled (evenly, deterministically) to `max_frames` frames.
        max_target_length (`int`, *optional*, defaults to `128`):
            Maximum number of target tokens; texts are truncated before padding.
        confidence_threshold (`float`, *optional*, defaults to `0.3`):
            Keypoints at or below this confidence are masked.
        language (`str`, *optional*, defaults to `"en"`):
            Transcript language, `"en"` or `"zh"`, for the rule-based corruptions of the language level.

        > Parameters that control the loss

        loss_type (`list[str]`, *optional*, defaults to `["sigmoid"]`):
            DPO loss applied to every level's margin: `"sigmoid"`, `"ipo"`, `"hinge"`, `"robust"`; add `"sft"` for the
            NLL anchor on the chosen text, weighted by its entry in `loss_weights` (as TRL's RPO setting).
        beta (`float`, *optional*, defaults to `0.1`): DPO temperature.
        level_betas (`list[float]`, *optional*):
            A temperature per level, in the order of `levels`, instead of `beta` for all.
        level_reduction (`str`, *optional*, defaults to `"sum"`):
            How the weighted level losses combine: `"sum"`, or `"mean"` (divided by the sum of the weights of the
            levels in the batch), so that the anchor weights mean the same whatever the number of levels.
        nll_normalization (`str`, *optional*, defaults to `"per_token"`):
            Scale of the `"sft"` NLL term: `"per_token"` (mean over the batch's tokens, TRL's RPO term) or
            `"per_sequence"` (mean over clips of each text's summed NLL: the scale of the preference terms, whose
            log-ratios are sums over tokens too, so that its weight means the same at any text length).
        nll_label_smoothing (`float`, *optional*, defaults to `0.0`):
            Label smoothing of the `"sft"` NLL term, as in MLE training (`label_smoothing_factor`): with the value
            the reference was trained with, the anchor is that very MLE loss.
        chosen_anchor_weight (`float`, *optional*, defaults to `0.0`):
            Weight of mDPO's anchor on the chosen reward, `-log sigmoid(beta * (log pi(y|x) - log pi_ref(y|x)))`.
        dpop_lambda (`float`, *optional*, defaults to `0.0`):
            DPOP's penalty `lambda * max(0, log pi_ref(y|x) - log pi(y|x))`, subtracted inside every level's margin.
        reference_margin_min, reference_margin_max (`list[float]`, *optional*):
            A difficulty band per level (order of `levels`; `-inf`/`inf` for no bound) on the reference margin
            `log pi_ref(chosen) - log pi_ref(rejected)`: pairs the reference already separates by more than the upper
            bound teach nothing, pairs below the lower bound are nuisance rather than meaning. Pairs outside get
            `band_outside_weight`. The share kept is logged as `kept/<level>`.
        band_outside_weight (`float`, *optional*, defaults to `0.0`):
            Weight of a pair outside its level's band: 0 drops it, a value in (0, 1) down-weights it.

    Defaults that differ from [`~trl.DPOConfig`]: `bf16` follows the hardware (on only where CUDA supports it),
    activation checkpointing off, `remove_unused_columns=False`, `learning_rate=5e-6`, `max_length=None`.

    [`~trl.DPOConfig`] options that do not apply to pose rows are refused when set, each with the option to use
    instead: `max_length` (use `max_target_length` and `max_frames`), `truncation_mode="keep_end"` (targets keep
    their start), `pad_to_multiple_of`, `padding_free`, `dataset_num_proc` (use `dataloader_num_workers`),
    `precompute_ref_log_probs` and `precompute_ref_batch_size`, `use_weighting`, `ld_alpha`, `router_aux_loss_coef`,
    `activation_offloading` (use `activation_checkpointing`), `pad_token` (set the tokenizer's),
    `f_divergence_type` other than `"reverse_kl"`, `label_smoothing` without the `"robust"` loss, and the
    `Trainer`'s `label_smoothing_factor` (use `nll_label_smoothing`). Every number is checked to be finite and in
    range, and every operator name against the registry, when the configuration is built.
    """

    levels: list[str] = field(
        default_factory=lambda: list(SIGNDPO_LEVELS),
        metadata={"help": f"Preference levels to train on, among {list(SIGNDPO_LEVELS)}."},
    )
    level_weights: list[float] | None = field(
        default=None, metadata={"help": "Weight of each level's loss, in the order of `levels` (default 1 each)."}
    )
    spatial_global_operators: list[str] = field(
        default_factory=lambda: ["joint_permutation", "hand_swap", "skeleton_displacement"],
        metadata={"help": "Operators of the spatial_global level."},
    )
    spatial_local_operators: list[str] = field(
        default_factory=lambda: ["handshape_change", "hand_relocation", "face_freeze"],
        metadata={"help": "Operators of the spatial_local level."},
    )
    temporal_global_operators: list[str] = field(
        default_factory=lambda: ["sequence_reversal", "segment_shuffle"],
        metadata={"help": "Operators of the temporal_global level."},
    )
    temporal_local_operators: list[str] = field(
        default_factory=lambda: ["window_shuffle", "window_drop", "window_repeat", "window_freeze"],
        metadata={"help": "Operators of the temporal_local level."},
    )
    attention_operators: list[str] = field(
        default_factory=lambda: ["salient_part", "window_freeze"],
        metadata={"help": "Local operators the attention level applies at the most salient frames."},
    )
    spatial_global_strength: float = field(default=0.5, metadata={"help": "Strength of spatial_global operators."})
    spatial_local_strength: float = field(default=0.5, metadata={"help": "Strength of spatial_local operators."})
    temporal_global_strength: float = field(default=0.5, metadata={"help": "Strength of temporal_global operators."})
    temporal_local_strength: float = field(default=0.3, metadata={"help": "Strength of temporal_local operators."})
    attention_strength: float = field(default=0.5, metadata={"help": "Strength of the attention-guided operators."})
    attention_top_k: int = field(default=8, metadata={"help": "Number of most salient frames to perturb."})
    attention_placement: str = field(
        default="salient",
        metadata={"help": "Where the attention level perturbs: 'salient' frames, or 'random' ones (the control)."},
    )
    pose_levels_in_step: bool = field(
        default=False,
        metadata={"help": "Build the spatial and temporal rejected poses in the training step, on the accelerator."},
    )
    decoded_levels: list[str] = field(
        default_factory=list,
        metadata={"help": "Input levels whose rejected side is the reference's greedy translation of x~: (x, y_hat)."},
    )
    level_betas: list[float] | None = field(
        default=None, metadata={"help": "A DPO temperature per level, in the order of `levels` (default: beta)."}
    )
    level_reduction: str = field(
        default="sum", metadata={"help": "Combine weighted level losses by 'sum' or 'mean' (over the weights)."}
    )
    nll_normalization: str = field(
        default="per_token",
        metadata={"help": "Scale of the 'sft' NLL term: 'per_token' (TRL's RPO) or 'per_sequence' (summed per text)."},
    )
    nll_label_smoothing: float = field(
        default=0.0, metadata={"help": "Label smoothing of the 'sft' NLL term (as the MLE training's)."}
    )
    chosen_anchor_weight: float = field(
        default=0.0, metadata={"help": "Weight of mDPO's anchor -log sigmoid(beta * chosen log-ratio)."}
    )
    dpop_lambda: float = field(
        default=0.0, metadata={"help": "DPOP penalty on a chosen likelihood below the reference's, inside the margin."}
    )
    reference_margin_min: list[float] | None = field(
        default=None, metadata={"help": "Per level: lower bound of the reference margin band (-inf: none)."}
    )
    reference_margin_max: list[float] | None = field(
        default=None, metadata={"help": "Per level: upper bound of the reference margin band (inf: none)."}
    )
    band_outside_weight: float = field(
        default=0.0, metadata={"help": "Weight of pairs outside their level's band (0 drops them)."}
    )
    rejected_texts_column: str = field(
        default="rejected_texts", metadata={"help": "Column with corrupted translations (a list per row)."}
    )
    text_column: str = field(default="text", metadata={"help": "Column holding the reference translation."})
    language: str = field(
        default="en", metadata={"help": "Transcript language ('en' or 'zh'), for the rule-based text corruptions."}
    )
    max_frames: int = field(default=256, metadata={"help": "Clips longer than this are sub-sampled."})
    max_target_length: int = field(default=128, metadata={"help": "Maximum number of target tokens."})
    confidence_threshold: float = field(default=0.3, metadata={"help": "Keypoints at or below this are masked."})

    # Overridden defaults of DPOConfig.
    learning_rate: float = field(default=5e-6, metadata={"help": "Initial learning rate for AdamW."})
    # None defers to transformers' `activation_checkpointing` (off by default) instead of TRL's True.
    gradient_checkpointing: bool | None = field(
        default=None, metadata={"help": "Deprecated alias of `activation_checkpointing` (off by default)."}
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Must stay False: the collator reads the pose columns."}
    )
    # DPOConfig truncates its prompt-completion sequences at 1024 tokens; SignDPO has none, and refuses a value.
    max_length: int | None = field(
        default=None, metadata={"help": "Not used: set max_target_length (target tokens) and max_frames instead."}
    )

    def __post_init__(self):
        if self.bf16 is None:
            self.bf16 = hardware_bf16(self.fp16, self.use_cpu)
        self._refuse_unused_options()
        super().__post_init__()

        if not self.levels:
            raise ValueError(f"levels must be a non-empty subset of {list(SIGNDPO_LEVELS)}; got {self.levels}.")
        self.levels = [resolve_level(level) for level in self.levels]
        if len(set(self.levels)) != len(self.levels):
            raise ValueError(f"levels lists a level twice: {self.levels}.")
        if self.level_weights is None:
            self.level_weights = [1.0] * len(self.levels)
        self._check_per_level("level_weights", self.level_weights, minimum=0.0)
        if self.level_betas is not None:
            self._check_per_level("level_betas", self.level_betas, minimum=0.0, strict=True)
        for name in ("reference_margin_min", "reference_margin_max"):
            bounds = getattr(self, name)
            if bounds is not None and (len(bounds) != len(self.levels) or any(math.isnan(b) for b in bounds)):
                raise ValueError(
                    f"{name} must hold one bound per level ({len(self.levels)} for {self.levels}; -inf/inf for none); "
                    f"got {bounds}."
                )
        for level in self.levels:
            low, high = self.level_band(level)
            if low is not None and high is not None and low > high:
                raise ValueError(
                    f"The reference-margin band of level {level!r} is empty: reference_margin_min {low} exceeds "
                    f"reference_margin_max {high}, so every pair would lie outside it."
                )
        if not math.isfinite(self.beta) or self.beta <= 0:
            raise ValueError(f"beta must be a positive finite number; got {self.beta}.")
        if not math.isfinite(self.learning_rate) or self.learning_rate < 0:
            raise ValueError(f"learning_rate must be a non-negative finite number; got {self.learning_rate}.")
        if self.loss_weights is not None and any(not math.isfinite(w) or w < 0 for w in self.loss_weights):
            raise ValueError(
                f"loss_weights must be non-negative finite numbers, one per loss_type entry; got {self.loss_weights}."
            )
        if not 0.0 <= self.ref_model_mixup_alpha <= 1.0:
            raise ValueError(f"ref_model_mixup_alpha must lie in [0, 1]; got {self.ref_model_mixup_alpha}.")
        if self.ref_model_sync_steps < 1:
            raise ValueError(f"ref_model_sync_steps must be at least 1; got {self.ref_model_sync_steps}.")
        for name in ("chosen_anchor_weight", "dpop_lambda", "band_outside_weight"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative finite number; got {value}.")
        if not 0.0 <= self.nll_label_smoothing < 1.0:
            raise ValueError(f"nll_label_smoothing must lie in [0, 1); got {self.nll_label_smoothing}.")
        if self.band_outside_weight > 1:
            raise ValueError(f"band_outside_weight must lie in [0, 1]; got {self.band_outside_weight}.")
        if self.level_reduction not in LEVEL_REDUCTIONS:
            raise ValueError(f"level_reduction must be one of {list(LEVEL_REDUCTIONS)}; got {self.level_reduction!r}.")
        if self.nll_normalization not in NLL_NORMALIZATIONS:
            raise ValueError(
                f"nll_normalization must be one of {list(NLL_NORMALIZATIONS)}; got {self.nll_normalization!r}."
            )
        if self.attention_placement not in ATTENTION_PLACEMENTS:
            raise ValueError(
                f"attention_placement must be one of {list(ATTENTION_PLACEMENTS)}; got {self.attention_placement!r}."
            )
        self.decoded_levels = [resolve_level(level) for level in self.decoded_levels]
        for level in self.decoded_levels:
            if level not in self.levels or LEVEL_TABLE[level].side != "pose":
                raise ValueError(
                    f"decoded_levels names {level!r}, which is not an input (pose) level in levels={self.levels}; "
                    "decoding applies to perturbed poses only."
                )
        unsupported = [loss for loss in self.loss_type if loss not in SUPPORTED_LOSS_TYPES]
        if unsupported:
            raise ValueError(
                f"loss_type {unsupported} is not supported by SignDPO; choose among {list(SUPPORTED_LOSS_TYPES)}."
            )
        if all(loss == "sft" for loss in self.loss_type):
            raise ValueError("loss_type needs a preference loss besides 'sft', e.g. ['sigmoid', 'sft'].")
        if "robust" in self.loss_type and not 0.0 <= self.label_smoothing < 0.5:
            # The robust loss divides by 1 - 2 * label_smoothing.
            raise ValueError(
                f"The 'robust' loss needs label_smoothing in [0, 0.5); got {self.label_smoothing}. Set it to the "
                "assumed fraction of flipped preferences, e.g. 0.1."
            )
        if "robust" not in self.loss_type and self.label_smoothing != 0.0:
            raise ValueError(
                f"label_smoothing={self.label_smoothing} would be ignored: in SignDPO it is the flip rate of the "
                f"'robust' loss only, and loss_type is {self.loss_type}. Add 'robust' to loss_type, or set "
                "label_smoothing=0.0 (for label smoothing of the NLL anchor, set nll_label_smoothing)."
            )
        if self.f_divergence_type != "reverse_kl":
            raise ValueError(
                f"f_divergence_type={self.f_divergence_type!r} is not supported by SignDPO, whose margins are plain "
                "log-ratios; set f_divergence_type='reverse_kl'."
            )
        for level in POSE_LEVELS:
            strength = getattr(self, f"{level}_strength")
            if not 0.0 <= strength <= 1.0:
                raise ValueError(f"{level}_strength must lie in [0, 1]; got {strength}.")
        check_level_operators(self, built="SignDPOConfig")
        if self.language not in ("en", "zh"):
            raise ValueError(f"language must be 'en' or 'zh'; got {self.language!r}.")
        if isinstance(self.attention_top_k, bool) or not isinstance(self.attention_top_k, int):
            raise ValueError(f"attention_top_k is a number of frames, a whole number; got {self.attention_top_k!r}.")
        if self.attention_top_k < 1:
            raise ValueError(f"attention_top_k must be at least 1; got {self.attention_top_k}.")
        if self.max_frames < 1 or self.max_target_length < 2:
            raise ValueError("max_frames must be >= 1 and max_target_length >= 2.")
        if not 0.0 <= self.confidence_threshold < 1.0:
            raise ValueError(f"confidence_threshold must lie in [0, 1); got {self.confidence_threshold}.")

    def _refuse_unused_options(self) -> None:
        """Refuses the options of `DPOConfig` (and `TrainingArguments`) that SignDPO would otherwise ignore, each with
        what to set instead."""
        pad_to_multiple_of = self.pad_to_multiple_of
        # TRL's own spellings of "no padding multiple" ("auto" is none off Neuron; the CLI passes strings).
        pads_to_a_multiple = pad_to_multiple_of is not None and not (
            isinstance(pad_to_multiple_of, str) and pad_to_multiple_of.lower() in ("auto", "none", "null")
        )
        refused = [
            (
                self.precompute_ref_log_probs,
                "precompute_ref_log_probs=True is unsound for SignDPO: rejected samples are drawn at random at every "
                "step, so reference log-probs computed once before training belong to other pairs. "
                "Set precompute_ref_log_probs=False.",
            ),
            (
                self.precompute_ref_batch_size is not None,
                f"precompute_ref_batch_size={self.precompute_ref_batch_size} is not used by SignDPO, which computes "
                "the reference log-probs inside every step; remove it (the step's batch is "
                "per_device_train_batch_size).",
            ),
            (
                self.padding_free,
                "padding_free=True packs causal-LM sequences and does not apply to SignDPO; set it False.",
            ),
            (
                self.use_weighting,
                "use_weighting (WPO) is not supported by SignDPO; set use_weighting=False.",
            ),
            (
                self.ld_alpha is not None,
                "ld_alpha (LD-DPO) is not supported by SignDPO: input-level pairs share the same text. Leave ld_alpha "
                "unset (None).",
            ),
            (
                self.remove_unused_columns,
                "remove_unused_columns=True would strip the pose columns; set it to False.",
            ),
            (
                self.max_length is not None,
                f"max_length={self.max_length} is not used by SignDPO, which has no prompt-completion sequence to "
                "truncate: set max_target_length (target tokens, end-of-sequence included) and max_frames (frames "
                "per clip) instead.",
            ),
            (
                self.truncation_mode != "keep_start",
                f"truncation_mode={self.truncation_mode!r} is not supported by SignDPO, which cuts target texts at "
                "max_target_length tokens keeping their start; set truncation_mode='keep_start'.",
            ),
            (
                pads_to_a_multiple,
                f"pad_to_multiple_of={pad_to_multiple_of!r} is not used by SignDPO, whose collator pads every batch "
                "to its longest clip and text; set pad_to_multiple_of=None.",
            ),
            (
                self.dataset_num_proc is not None,
                f"dataset_num_proc={self.dataset_num_proc} is not used by SignDPO, which preprocesses nothing: the "
                "collator builds every batch, its pairs included, when it is drawn. Set dataloader_num_workers to "
                "build batches in parallel instead.",
            ),
            (
                self.router_aux_loss_coef is not None,
                f"router_aux_loss_coef={self.router_aux_loss_coef} applies to Mixture-of-Experts language models; "
                "SignDPO's pose-to-text models have no router loss. Remove it.",
            ),
            (
                self.activation_offloading,
                "activation_offloading=True is not supported by SignDPO, whose step does not offload activations; "
                "set activation_checkpointing=True to save activation memory instead.",
            ),
            (
                self.pad_token is not None,
                f"pad_token={self.pad_token!r} is not used by SignDPO (and deprecated in TRL): set the tokenizer's "
                "pad_token and pass the tokenizer as processing_class.",
            ),
            (
                self.label_smoothing_factor != 0.0,
                f"label_smoothing_factor={self.label_smoothing_factor} is not used by SignDPO, whose loss is its own "
                "(the Trainer's label smoother never runs): set nll_label_smoothing to smooth the 'sft' NLL term.",
            ),
        ]
        for is_set, message in refused:
            if is_set:
                raise ValueError(message)
        check_dataloader_order(self)

    def _check_per_level(self, name: str, values: list[float], minimum: float, strict: bool = False) -> None:
        bad = [v for v in values if not math.isfinite(v) or v < minimum or (strict and v == minimum)]
        if len(values) != len(self.levels) or bad:
            kind = "positive" if strict else "non-negative"
            raise ValueError(
                f"{name} must hold one {kind} finite value per level ({len(self.levels)} for {self.levels}); "
                f"got {values}."
            )

    @property
    def level_beta(self) -> dict[str, float]:
        """The DPO temperature of each level."""
        return dict(zip(self.levels, self.level_betas or [self.beta] * len(self.levels)))

    def level_band(self, level: str) -> tuple[float | None, float | None]:
        """`(low, high)` of a level's reference-margin band; `None` where unbounded."""
        index = self.levels.index(level)
        low = self.reference_margin_min[index] if self.reference_margin_min is not None else -math.inf
        high = self.reference_margin_max[index] if self.reference_margin_max is not None else math.inf
        return (None if low == -math.inf else low), (None if high == math.inf else high)
