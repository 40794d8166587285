"""Argument dataclasses and builders shared by the recipes and the `signdpo` command line.

The recipes stay short, readable files that wire these parts together (as torchtune recipes do); the knobs live in
the YAML configs next to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from datasets import DatasetDict, load_from_disk
from transformers import AutoTokenizer, PreTrainedTokenizerBase, T5Config

from .models import SignTranslationConfig, SignTranslationModel, build_tokenizer, sync_text_config


@dataclass
class SignModelArguments:
    """How to build or load the pose-to-text model and its tokenizer.

    Args:
        model_name_or_path (`str`, *optional*): A saved `SignTranslationModel` (local directory or Hub id) to start
            from, e.g. the MLE checkpoint for SignDPO. When set, the other model fields are ignored.
        text_model_name_or_path (`str`, *optional*): A pretrained encoder-decoder LM (e.g. `"google/mt5-base"`) to
            build a new model around. When neither is set, a T5 is built from the sizes below (random weights) with a
            tokenizer trained on the corpus.
        tokenizer_name_or_path (`str`, *optional*): Tokenizer to load; defaults to the model's own.
        vocab_size (`int`): Size of a tokenizer trained on the corpus.
        d_model, d_ff, num_layers, num_decoder_layers, num_heads, d_kv (`int`): Sizes of a T5 built from a config.
        dropout_rate (`float`): Dropout of that T5.
        pose_embed_dim (`int`), spatial_channels, temporal_channels (`list[int]`), temporal_kernel_size,
        temporal_stride (`int`), per_part_tokens (`bool`), pose_dropout (`float`): Pose encoder sizes.
        prompt (`str`, *optional*): Text put before the pose tokens.
        attn_implementation (`str`, *optional*): Attention kernel of the language model (`"eager"`, `"sdpa"`).
    """

    model_name_or_path: str | None = field(default=None, metadata={"help": "Saved SignTranslationModel to load."})
    text_model_name_or_path: str | None = field(
        default=None, metadata={"help": "Pretrained encoder-decoder LM to build around, e.g. google/mt5-base."}
    )
    tokenizer_name_or_path: str | None = field(default=None, metadata={"help": "Tokenizer to load."})
    vocab_size: int = field(default=2000, metadata={"help": "Vocabulary of a tokenizer trained on the corpus."})
    d_model: int = field(default=256, metadata={"help": "T5 width (model built from a config)."})
    d_ff: int = field(default=512, metadata={"help": "T5 feed-forward width."})
    num_layers: int = field(default=3, metadata={"help": "T5 encoder layers."})
    num_decoder_layers: int = field(default=3, metadata={"help": "T5 decoder layers."})
    num_heads: int = field(default=4, metadata={"help": "T5 attention heads."})
    d_kv: int = field(default=64, metadata={"help": "T5 key/value width per head."})
    dropout_rate: float = field(default=0.1, metadata={"help": "T5 dropout."})
    pose_embed_dim: int = field(default=64, metadata={"help": "Joint embedding width of the pose encoder."})
    spatial_channels: list[int] = field(default_factory=lambda: [64, 128], metadata={"help": "Spatial GCN widths."})
    temporal_channels: list[int] = field(default_factory=lambda: [256], metadata={"help": "ST-GCN block widths."})
    temporal_kernel_size: int = field(default=5, metadata={"help": "Temporal convolution kernel."})
    temporal_stride: int = field(default=2, metadata={"help": "Temporal down-sampling of the pose tokens."})
    per_part_tokens: bool = field(default=False, metadata={"help": "One token per part per step."})
    pose_dropout: float = field(default=0.1, metadata={"help": "Pose encoder dropout."})
    prompt: str | None = field(default=None, metadata={"help": "Text put before the pose tokens."})
    attn_implementation: str | None = field(default=None, metadata={"help": "Language model attention kernel."})


@dataclass
class SignDataArguments:
    """Which corpus to train on.

    Args:
        dataset_path (`str`, *optional*): A `DatasetDict` saved with `save_to_disk` (e.g. built by `signdpo build`).
            When unset, the bundled SynthSign corpus is generated (and cached at `synthsign_cache`).
        synthsign_num_clips (`int`): Clips of a generated SynthSign corpus.
        synthsign_seed (`int`): Seed of the generated corpus.
        synthsign_cache (`str`, *optional*): Directory where the generated corpus is saved and reloaded.
        train_split, eval_split, test_split (`str`): Split names.
        max_eval_samples (`int`, *optional*): Evaluate during training on the first N rows only (speed).
        language (`str`): Transcript language, `"en"` or `"zh"`.
    """

    dataset_path: str | None = field(default=None, metadata={"help": "DatasetDict saved with save_to_disk."})
    synthsign_num_clips: int = field(default=10_000, metadata={"help": "Clips of a generated SynthSign corpus."})
    synthsign_seed: int = field(default=0, metadata={"help": "Seed of the generated SynthSign corpus."})
    synthsign_cache: str | None = field(default=None, metadata={"help": "Where to save/reload SynthSign."})
    train_split: str = field(default="train", metadata={"help": "Training split."})
    eval_split: str = field(default="validation", metadata={"help": "Evaluation split."})
    test_split: str = field(default="test", metadata={"help": "Test split."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Evaluate on the first N rows only."})
    language: str = field(default="en", metadata={"help": "Transcript language: en or zh."})


def load_corpus(data_args: SignDataArguments) -> DatasetDict:
    """The corpus of `data_args`: a saved `DatasetDict`, or SynthSign generated (and cached) on first use."""
    if data_args.dataset_path is not None:
        if not Path(data_args.dataset_path).exists():
            raise FileNotFoundError(f"dataset_path {data_args.dataset_path!r} does not exist.")
        return load_from_disk(data_args.dataset_path)
    from .data.synthetic import SynthSignConfig, generate_synthsign

    cache = Path(data_args.synthsign_cache) if data_args.synthsign_cache else None
    if cache is not None and (cache / "dataset_dict.json").exists():
        return load_from_disk(str(cache))
    corpus = generate_synthsign(
        SynthSignConfig(num_clips=data_args.synthsign_num_clips, seed=data_args.synthsign_seed)
    )
    if cache is not None:
        corpus.save_to_disk(str(cache))
        corpus = load_from_disk(str(cache))
    return corpus


def load_tokenizer(model_args: SignModelArguments, texts, language: str = "en") -> PreTrainedTokenizerBase:
    """The tokenizer of a saved model or pretrained LM, or one trained offline on `texts`."""
    name = model_args.tokenizer_name_or_path or model_args.model_name_or_path or model_args.text_model_name_or_path
    if name is not None:
        return AutoTokenizer.from_pretrained(name)
    return build_tokenizer(texts, vocab_size=model_args.vocab_size, language=language)


def build_model(model_args: SignModelArguments, tokenizer: PreTrainedTokenizerBase) -> SignTranslationModel:
    """Loads a saved model, or builds one around a pretrained LM or a T5 made from the configured sizes."""
    lm_kwargs = {"attn_implementation": model_args.attn_implementation} if model_args.attn_implementation else {}
    if model_args.model_name_or_path is not None:
        return SignTranslationModel.from_pretrained(model_args.model_name_or_path, **lm_kwargs)
    encoder_kwargs = {
        "pose_embed_dim": model_args.pose_embed_dim,
        "spatial_channels": list(model_args.spatial_channels),
        "temporal_channels": list(model_args.temporal_channels),
        "temporal_kernel_size": model_args.temporal_kernel_size,
        "temporal_stride": model_args.temporal_stride,
        "per_part_tokens": model_args.per_part_tokens,
        "pose_dropout": model_args.pose_dropout,
    }
    if model_args.text_model_name_or_path is not None:
        return SignTranslationModel.from_text_pretrained(
            model_args.text_model_name_or_path,
            prompt=model_args.prompt,
            tokenizer=tokenizer,
            text_model_kwargs=lm_kwargs,
            **encoder_kwargs,
        )
    text_config = T5Config(
        d_model=model_args.d_model,
        d_ff=model_args.d_ff,
        d_kv=model_args.d_kv,
        num_layers=model_args.num_layers,
        num_decoder_layers=model_args.num_decoder_layers,
        num_heads=model_args.num_heads,
        dropout_rate=model_args.dropout_rate,
        feed_forward_proj="gated-gelu",
        **lm_kwargs,
    )
    text_config = sync_text_config(text_config, tokenizer)
    config = SignTranslationConfig.from_text_model(
        text_config, prompt=model_args.prompt, tokenizer=tokenizer if model_args.prompt else None, **encoder_kwargs
    )
    return SignTranslationModel(config)
