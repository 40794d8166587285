"""Configuration of SignDPO: multi-level DPO over preference pairs built on the fly from pose and text."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from trl import DPOConfig


SIGNDPO_LEVELS = ("spatial_global", "spatial_local", "temporal_global", "temporal_local", "attention", "language")
SUPPORTED_LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust", "sft")


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
        rejected_texts_column (`str`, *optional*, defaults to `"rejected_texts"`):
            Column with a list of corrupted translations per row; one is drawn per step. Rows without it get a
            rule-based corruption of their reference text.

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

    Defaults that differ from [`~trl.DPOConfig`]: `bf16` follows the hardware (on only where CUDA supports it),
    activation checkpointing off, `remove_unused_columns=False`, `learning_rate=5e-6`.
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

    def __post_init__(self):
        if self.bf16 is None:
            self.bf16 = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported()) and not self.fp16
        if self.precompute_ref_log_probs:
            raise ValueError(
                "precompute_ref_log_probs=True is unsound for SignDPO: rejected samples are drawn at random at every "
                "step, so reference log-probs computed once before training belong to other pairs. "
                "Set precompute_ref_log_probs=False."
            )
        if self.padding_free:
            raise ValueError(
                "padding_free=True packs causal-LM sequences and does not apply to SignDPO; set it False."
            )
        if self.use_weighting:
            raise ValueError("use_weighting (WPO) is not supported by SignDPO; set use_weighting=False.")
        if self.ld_alpha is not None:
            raise ValueError("ld_alpha (LD-DPO) is not supported by SignDPO: input-level pairs share the same text.")
        if self.remove_unused_columns:
            raise ValueError("remove_unused_columns=True would strip the pose columns; set it to False.")
        super().__post_init__()

        unknown = [level for level in self.levels if level not in SIGNDPO_LEVELS]
        if unknown or not self.levels:
            raise ValueError(f"levels must be a non-empty subset of {list(SIGNDPO_LEVELS)}; got {self.levels}.")
        if len(set(self.levels)) != len(self.levels):
            raise ValueError(f"levels lists a level twice: {self.levels}.")
        if self.level_weights is None:
            self.level_weights = [1.0] * len(self.levels)
        if len(self.level_weights) != len(self.levels) or any(weight < 0 for weight in self.level_weights):
            raise ValueError(
                f"level_weights must hold one non-negative weight per level ({len(self.levels)} for {self.levels}); "
                f"got {self.level_weights}."
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
        if self.f_divergence_type != "reverse_kl":
            raise ValueError(
                f"f_divergence_type={self.f_divergence_type!r} is not supported by SignDPO, whose margins are plain "
                "log-ratios; set f_divergence_type='reverse_kl'."
            )
        for level in ("spatial_global", "spatial_local", "temporal_global", "temporal_local", "attention"):
            strength = getattr(self, f"{level}_strength")
            if not 0.0 <= strength <= 1.0:
                raise ValueError(f"{level}_strength must lie in [0, 1]; got {strength}.")
            if level in self.levels and not getattr(self, f"{level}_operators"):
                raise ValueError(f"Level {level!r} is on but {level}_operators is empty; name at least one operator.")
        if self.language not in ("en", "zh"):
            raise ValueError(f"language must be 'en' or 'zh'; got {self.language!r}.")
        if self.attention_top_k < 1:
            raise ValueError(f"attention_top_k must be at least 1; got {self.attention_top_k}.")
        if self.max_frames < 1 or self.max_target_length < 2:
            raise ValueError("max_frames must be >= 1 and max_target_length >= 2.")
