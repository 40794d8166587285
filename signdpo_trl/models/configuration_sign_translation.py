"""Configuration of `SignTranslationModel`: a per-part pose encoder feeding an encoder-decoder language model.

This file is saved next to the weights and loaded with `trust_remote_code=True`: it imports only `transformers`
(and the standard library), never `signdpo_trl`.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from transformers import CONFIG_MAPPING, AutoConfig, PretrainedConfig
from transformers.configuration_utils import SubConfigSpec


def _hand_edges() -> list[list[int]]:
    return [
        [a, b]
        for base in (1, 5, 9, 13, 17)
        for a, b in ((0, base), (base, base + 1), (base + 1, base + 2), (base + 2, base + 3))
    ]


# The canonical four-part skeleton (Uni-Sign's 69 points from COCO-WholeBody), copied as plain lists from
# `signdpo_trl.data.canonical` so that this file stays self-contained; a test keeps the two in agreement.
DEFAULT_PART_NAMES = ["body", "left_hand", "right_hand", "face"]
DEFAULT_PART_SIZES = [9, 21, 21, 18]
DEFAULT_PART_EDGES = [
    [[0, 1], [0, 2], [0, 3], [0, 4], [3, 4], [3, 5], [5, 7], [4, 6], [6, 8]],
    _hand_edges(),
    _hand_edges(),
    [[i, i + 1] for i in range(8)] + [[9 + i, 9 + (i + 1) % 8] for i in range(8)] + [[17, 4], [17, 9], [17, 13]],
]
# Body joint whose features are added to a part: left wrist -> left hand, right wrist -> right hand, nose -> face.
DEFAULT_PART_ANCHORS = {"left_hand": 7, "right_hand": 8, "face": 0}
# Parts that reuse another part's encoder weights (the two hands share one encoder, as in Uni-Sign).
DEFAULT_SHARED_PARTS = {"right_hand": "left_hand"}
# How the collator turns source poses into `pose`: `signdpo_trl.data.collation.POSE_NORMALIZATIONS`, copied here so
# that this file stays self-contained (a test keeps the two in agreement). New models get the first.
POSE_NORMALIZATIONS = ("unisign", "masked")
# What the models saved before `pose_normalization` existed were trained on.
LEGACY_POSE_NORMALIZATION = "masked"


class SignTranslationConfig(PretrainedConfig):
    r"""
    Configuration of [`SignTranslationModel`].

    The pose input is `B x T x J x (coord_dims + 1)`: normalised coordinates then a confidence channel, the `J`
    joints grouped into parts in the order of `part_names` (the canonical layout: body 9, left hand 21, right hand 21,
    face 18).

    Parameters that describe the skeleton and its input convention:
        pose_normalization (`str`, *optional*): How source poses become `pose`, so that a checkpoint is always fed the
            input it was trained on (`PoseCollator.for_model` reads it). `"unisign"`: Uni-Sign's `load_part_kp`, the
            detector's confidence (clipped to 1) as the confidence channel, hands and face relative to their stored
            anchors whatever the anchors' confidence. `"masked"`: points at or below the confidence threshold are
            removed before normalisation and the confidence channel is 0/1 visibility, so a low-confidence anchor
            counts as missing (the convention of the checkpoints trained before this field existed). Defaults to
            `"unisign"` for a new configuration; a configuration read from a file written before the field existed
            (it has a `transformers_version` but no `pose_normalization`) resolves to `"masked"`.
        coord_dims (`int`, defaults to 2): Number of coordinate channels (2 for x, y; 3 with z).
        max_frames (`int`, *optional*): Frames per clip the model was trained on (longer clips are evenly
            sub-sampled to it). `SignSFTTrainer` and `SignDPOTrainer` record their `max_frames` here, and
            `signdpo_trl.Translator` samples to it.
        part_names (`list[str]`): Part names, in the order of the joint axis.
        part_sizes (`list[int]`): Number of joints in each part.
        part_edges (`list[list[list[int]]]`): Skeleton edges of each part, as joint-index pairs within the part.
        body_part (`str`, defaults to `"body"`): The part whose joints serve as anchors.
        part_anchors (`dict[str, int]`): For a part, the body joint whose features are added to it (wrists to hands,
            nose to face).
        shared_parts (`dict[str, str]`): A part that reuses the encoder of another part with the same graph.

    Parameters of the pose encoder:
        pose_embed_dim (`int`, defaults to 64): Width of the linear embedding of each joint's channels.
        spatial_channels (`list[int]`, defaults to `[64, 128, 256]`): Widths of the spatial graph-convolution blocks
            (no temporal mixing); anchors are added after them.
        temporal_channels (`list[int]`, defaults to `[256, 256]`): Widths of the spatio-temporal blocks (graph
            convolution then temporal convolution).
        temporal_kernel_size (`int`, defaults to 5): Kernel of the temporal convolutions (odd).
        temporal_stride (`int`, defaults to 1): Temporal down-sampling of the pose tokens (masked average pooling).
        per_part_tokens (`bool`, defaults to `False`): Keep one token per part per step (`T' x len(part_names)`
            tokens, time-major) instead of fusing the parts into one token per step.
        detach_anchor_features (`bool`, defaults to `True`): Stop gradients from a part into the body anchor
            features, as Uni-Sign does.
        pose_dropout (`float`, defaults to 0.1): Dropout inside the pose encoder.

    Parameters of the language model:
        text_config (`PretrainedConfig` or `dict`): Configuration of the encoder-decoder language model (any
            `AutoModelForSeq2SeqLM`; T5 by default).
        prompt (`str`, *optional*): Text put before the pose tokens, kept for reference.
        prompt_token_ids (`list[int]`, *optional*): Token ids of the prompt, embedded with the language model's own
            embedding table.
    """

    model_type = "sign_translation"
    sub_configs_defaults = {"text_config": SubConfigSpec(config_class=AutoConfig, model_type="t5")}

    text_config: dict | PretrainedConfig | None = None
    pose_normalization: str | None = None
    coord_dims: int = 2
    max_frames: int | None = None
    part_names: list[str] = field(default_factory=lambda: list(DEFAULT_PART_NAMES))
    part_sizes: list[int] = field(default_factory=lambda: list(DEFAULT_PART_SIZES))
    part_edges: list[list[list[int]]] = field(default_factory=lambda: [list(map(list, e)) for e in DEFAULT_PART_EDGES])
    body_part: str = "body"
    part_anchors: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PART_ANCHORS))
    shared_parts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SHARED_PARTS))
    pose_embed_dim: int = 64
    spatial_channels: list[int] = field(default_factory=lambda: [64, 128, 256])
    temporal_channels: list[int] = field(default_factory=lambda: [256, 256])
    temporal_kernel_size: int = 5
    temporal_stride: int = 1
    per_part_tokens: bool = False
    detach_anchor_features: bool = True
    pose_dropout: float = 0.1
    prompt: str | None = None
    prompt_token_ids: list[int] | None = None
    is_encoder_decoder: bool = True
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.pose_normalization is None:
            # Every saved configuration carries `transformers_version`; one without `pose_normalization` predates it.
            saved_before_the_field = self.transformers_version is not None
            self.pose_normalization = LEGACY_POSE_NORMALIZATION if saved_before_the_field else POSE_NORMALIZATIONS[0]
        self.validate_pose_encoder()

    def validate_pose_encoder(self):
        if self.pose_normalization not in POSE_NORMALIZATIONS:
            raise ValueError(
                f"`pose_normalization` must be one of {', '.join(map(repr, POSE_NORMALIZATIONS))}; got "
                f"{self.pose_normalization!r}."
            )
        num_parts = len(self.part_names)
        if not (len(self.part_sizes) == len(self.part_edges) == num_parts):
            raise ValueError(
                f"`part_names`, `part_sizes` and `part_edges` must have one entry per part; got {num_parts} names, "
                f"{len(self.part_sizes)} sizes and {len(self.part_edges)} edge lists."
            )
        for name, size, edges in zip(self.part_names, self.part_sizes, self.part_edges):
            if any(not (0 <= a < size and 0 <= b < size) for a, b in edges):
                raise ValueError(f"Part {name!r} has {size} joints but an edge in {edges} points outside them.")
        if self.body_part not in self.part_names:
            raise ValueError(f"`body_part={self.body_part!r}` is not one of `part_names={self.part_names}`.")
        body_size = self.part_sizes[self.part_names.index(self.body_part)]
        for part, joint in self.part_anchors.items():
            if part not in self.part_names or part == self.body_part:
                raise ValueError(f"`part_anchors` names {part!r}, which is not a non-body part of {self.part_names}.")
            if not 0 <= joint < body_size:
                raise ValueError(f"`part_anchors[{part!r}]={joint}` is outside the {body_size} body joints.")
        for part, owner in self.shared_parts.items():
            if part not in self.part_names or owner not in self.part_names or owner in self.shared_parts:
                raise ValueError(
                    f"`shared_parts` maps {part!r} to {owner!r}: both must be parts of {self.part_names} and the "
                    "owner must not itself share another part's encoder."
                )
            i, j = self.part_names.index(part), self.part_names.index(owner)
            same_graph = self.part_sizes[i] == self.part_sizes[j] and sorted(map(tuple, self.part_edges[i])) == sorted(
                map(tuple, self.part_edges[j])
            )
            if not same_graph:
                raise ValueError(f"Parts {part!r} and {owner!r} can share an encoder only if their graphs are equal.")
        if self.temporal_kernel_size < 1 or self.temporal_kernel_size % 2 == 0:
            raise ValueError(f"`temporal_kernel_size` must be odd and positive, got {self.temporal_kernel_size}.")
        if self.temporal_stride < 1:
            raise ValueError(f"`temporal_stride` must be at least 1, got {self.temporal_stride}.")
        if not self.spatial_channels or not self.temporal_channels:
            raise ValueError("`spatial_channels` and `temporal_channels` need at least one block each.")

    @property
    def num_joints(self) -> int:
        return sum(self.part_sizes)

    @property
    def num_prompt_tokens(self) -> int:
        return len(self.prompt_token_ids or [])

    @classmethod
    def from_text_model(
        cls,
        text_model: str | PretrainedConfig,
        prompt: str | None = None,
        tokenizer: Any | None = None,
        prompt_token_ids: list[int] | None = None,
        **kwargs,
    ) -> SignTranslationConfig:
        """Builds a configuration around a language model given by Hub name, local path or configuration.

        Args:
            text_model (`str` or `PretrainedConfig`): e.g. `"google/mt5-base"`, or `T5Config(d_model=64, ...)`.
            prompt (`str`, *optional*): Text put before the pose tokens, e.g. `"Translate sign language to English:"`.
            tokenizer (*optional*): Tokenizer used to turn `prompt` into `prompt_token_ids` (no special tokens added).
            prompt_token_ids (`list[int]`, *optional*): The prompt's token ids, if already known.
            kwargs: Other fields of this configuration (pose encoder sizes, ...).
        """
        text_config = AutoConfig.from_pretrained(text_model) if isinstance(text_model, str) else text_model
        if prompt is not None and prompt_token_ids is None:
            if tokenizer is None:
                raise ValueError("Pass `tokenizer` (or `prompt_token_ids`) so that `prompt` can be turned into ids.")
            prompt_token_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        return cls(text_config=text_config, prompt=prompt, prompt_token_ids=prompt_token_ids, **kwargs)


# `AutoTokenizer.from_pretrained(checkpoint)` reads config.json before the tokenizer files, and a model type that
# `AutoConfig` does not know, with an `auto_map`, makes it ask "Do you wish to run the custom code? [y/N]" although
# the tokenizer needs no custom code. Registered here, the type is known wherever this file has run: in
# `signdpo_trl.models` (which registers its own classes over it) and, where signdpo_trl is not installed, in a process
# that loaded the model with `trust_remote_code=True`.
if SignTranslationConfig.model_type not in CONFIG_MAPPING:
    AutoConfig.register(SignTranslationConfig.model_type, SignTranslationConfig)


__all__ = ["SignTranslationConfig"]
