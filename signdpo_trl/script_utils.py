"""Argument dataclasses and builders shared by the recipes and the `signdpo` command line.

The recipes stay short, readable files that wire these parts together (as torchtune recipes do); the knobs live in
the YAML configs next to them.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset, DatasetDict, load_from_disk
from transformers import AutoTokenizer, PreTrainedTokenizerBase, T5Config, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint
from trl import TrlParser

from .models import SignTranslationConfig, SignTranslationModel, build_tokenizer, sync_text_config


logger = logging.getLogger(__name__)


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
        use_peft (`bool`), lora_r, lora_alpha (`int`), lora_dropout (`float`), lora_target_modules (`list[str]`):
            LoRA adapters on the language model (TRL's `ModelConfig` names).
        train_pose_encoder (`bool`): With LoRA, train the whole pose encoder as well (peft `modules_to_save`).
        load_in_4bit (`bool`), bnb_4bit_quant_type (`str`): QLoRA: the language model's linear layers in 4-bit
            (bitsandbytes, CUDA only); the pose encoder and output head stay in full precision.
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
    use_peft: bool = field(default=False, metadata={"help": "Train LoRA adapters on the language model."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q", "k", "v", "o", "wi_0", "wi_1", "wo"],
        metadata={"help": "Language-model modules that get LoRA adapters (T5/mT5 names by default)."},
    )
    train_pose_encoder: bool = field(
        default=True, metadata={"help": "With LoRA, keep training the whole pose encoder (modules_to_save)."}
    )
    load_in_4bit: bool = field(default=False, metadata={"help": "QLoRA: load the language model in 4-bit."})
    bnb_4bit_quant_type: str = field(default="nf4", metadata={"help": "4-bit quantisation type."})


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
        benchmark (`str`, *optional*): Build the corpus from a benchmark release (`"openasl"`, `"how2sign"`,
            `"csl_daily"`) found at `labels_path` and `pose_root`.
        labels_path, pose_root, pose_pattern (`str`): Where the benchmark's label files and poses are.
        num_proc (`int`, *optional*): Processes used to build the dataset.
        dataset_cache (`str`, *optional*): Where a built benchmark dataset is saved and reloaded.
        rejected_texts_path (`str`, *optional*): A dataset saved with `save_to_disk` holding the training split's
            `text` and `rejected_texts` columns, row for row (what `recipes/corrupter.py` writes to
            `<output_dir>/rejected_texts`, or `signdpo corrupter generate`). Its `rejected_texts` are attached to the
            training split, where SignDPO's language level draws its rejected side from them.
    """

    dataset_path: str | None = field(default=None, metadata={"help": "DatasetDict saved with save_to_disk."})
    synthsign_num_clips: int = field(default=10_000, metadata={"help": "Clips of a generated SynthSign corpus."})
    synthsign_seed: int = field(default=0, metadata={"help": "Seed of the generated SynthSign corpus."})
    synthsign_cache: str | None = field(default=None, metadata={"help": "Where to save/reload SynthSign."})
    train_split: str = field(default="train", metadata={"help": "Training split."})
    eval_split: str = field(default="validation", metadata={"help": "Evaluation split."})
    test_split: str = field(default="test", metadata={"help": "Test split."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Evaluate on the first N rows only."})
    benchmark: str | None = field(
        default=None, metadata={"help": "Build the corpus from a benchmark release: openasl, how2sign or csl_daily."}
    )
    labels_path: str | None = field(
        default=None,
        metadata={"help": "OpenASL TSV file, How2Sign folder of realigned CSVs, or CSL-Daily folder of label files."},
    )
    pose_root: str | None = field(default=None, metadata={"help": "Folder of the benchmark's pose files."})
    pose_pattern: str = field(
        default="{vid}.pose", metadata={"help": "OpenASL: pose file of a clip, formatted with vid and yid."}
    )
    num_proc: int | None = field(default=None, metadata={"help": "Processes used to build the dataset."})
    dataset_cache: str | None = field(
        default=None, metadata={"help": "Where a built benchmark dataset is saved and reloaded (save_to_disk)."}
    )
    rejected_texts_path: str | None = field(
        default=None,
        metadata={
            "help": "Dataset (save_to_disk) with the training split's text and rejected_texts columns, e.g. "
            "outputs/corrupter_synthsign/rejected_texts: the learned corrupter's samples for the language level."
        },
    )


@dataclass
class CorrupterScriptArguments:
    """What the corrupter recipe mines and which model it tunes.

    Args:
        model_name_or_path (`str`): The MLE `SignTranslationModel` (a saved folder or Hub id, e.g.
            `outputs/sft_synthsign`) whose translation errors on the training split are mined.
        corrupter_model_name_or_path (`str`, *optional*): Base of the corrupter: a seq2seq or causal LM (e.g.
            `"google/mt5-small"`, `"Qwen/Qwen2.5-0.5B"` with `load_in_4bit`). Defaults to the MLE model's own
            language model, which already writes the corpus's sentences.
        mining_num_beams (`int`, defaults to `4`): Beam width of the mining decode.
        mining_num_candidates (`int`, defaults to `4`): n-best hypotheses examined per training clip.
        mining_batch_size (`int`, defaults to `32`): Clips decoded together while mining.
        max_frames (`int`, defaults to `256`): Longer clips are sub-sampled to this many frames while mining; the
            value the MLE model was trained with.
        min_pairs_per_row (`int`, defaults to `1`): Training clips with fewer mined errors are topped up with
            rule-based corruptions (see `corrupter_pairs`).
        max_pairs_per_row (`int`, *optional*, defaults to `2`): Mined errors kept per clip, best-ranked first.
    """

    model_name_or_path: str = field(
        metadata={"help": "MLE SignTranslationModel whose translation errors are mined, e.g. outputs/sft_synthsign."}
    )
    corrupter_model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Base of the corrupter (seq2seq or causal LM); default: the MLE model's language model."},
    )
    mining_num_beams: int = field(default=4, metadata={"help": "Beam width of the mining decode."})
    mining_num_candidates: int = field(default=4, metadata={"help": "n-best hypotheses examined per clip."})
    mining_batch_size: int = field(default=32, metadata={"help": "Clips decoded together while mining."})
    max_frames: int = field(default=256, metadata={"help": "Frames per clip while mining (as in MLE training)."})
    min_pairs_per_row: int = field(default=1, metadata={"help": "Clips with fewer mined errors are topped up."})
    max_pairs_per_row: int | None = field(default=2, metadata={"help": "Mined errors kept per clip."})


def load_corpus(data_args: SignDataArguments) -> DatasetDict:
    """The corpus of `data_args`: a saved `DatasetDict`, a benchmark release built on first use, or SynthSign."""
    if data_args.dataset_path is not None:
        if not Path(data_args.dataset_path).exists():
            raise FileNotFoundError(f"dataset_path {data_args.dataset_path!r} does not exist.")
        return load_from_disk(data_args.dataset_path)
    if data_args.benchmark is not None:
        return _cached(data_args.dataset_cache, lambda: _build_benchmark(data_args))
    from .data.synthetic import SynthSignConfig, generate_synthsign

    config = SynthSignConfig(num_clips=data_args.synthsign_num_clips, seed=data_args.synthsign_seed)
    return _cached(data_args.synthsign_cache, lambda: generate_synthsign(config))


def load_splits(data_args: SignDataArguments) -> tuple[Dataset, Dataset, Dataset]:
    """The training, evaluation (cut to `max_eval_samples`) and test splits of the corpus of `data_args`; the
    training split carries the `rejected_texts` of `rejected_texts_path` when it is set."""
    corpus = load_corpus(data_args)
    train_dataset = corpus[data_args.train_split]
    if data_args.rejected_texts_path is not None:
        train_dataset = attach_rejected_texts(train_dataset, data_args.rejected_texts_path)
    eval_dataset = corpus[data_args.eval_split]
    if data_args.max_eval_samples is not None:
        eval_dataset = eval_dataset.select(range(min(data_args.max_eval_samples, len(eval_dataset))))
    return train_dataset, eval_dataset, corpus[data_args.test_split]


REJECTED_TEXTS_COLUMNS = ("text", "rejected_texts")


def attach_rejected_texts(train_dataset: Dataset, path: str | Path) -> Dataset:
    """`train_dataset` with the `rejected_texts` column of the dataset saved at `path` (replacing its own, if any).

    The saved dataset must hold the same references, in the same order: its `text` column is compared with the
    training split's row by row, so that samples written for another corpus, split or seed are never attached.

    Raises:
        `FileNotFoundError`: If `path` does not exist.
        `ValueError`: If it is not a saved `Dataset` with `text` and `rejected_texts` columns, has another number of
            rows, or a `text` differs (the message names the first such row and both texts).
    """
    if not Path(path).exists():
        raise FileNotFoundError(
            f"rejected_texts_path {str(path)!r} does not exist; write it with the corrupter recipe of the corpus, "
            "recipes/corrupter_<benchmark>.py (python recipes/corrupter_synthsign.py writes "
            "outputs/corrupter_synthsign/rejected_texts), or with `signdpo corrupter generate`."
        )
    saved = load_from_disk(str(path))
    if not isinstance(saved, Dataset):
        raise ValueError(
            f"rejected_texts_path {str(path)!r} holds a DatasetDict; it must be the single Dataset of the training "
            "split's text and rejected_texts columns that the corrupter recipe writes."
        )
    missing = [column for column in REJECTED_TEXTS_COLUMNS if column not in saved.column_names]
    if missing:
        raise ValueError(
            f"rejected_texts_path {str(path)!r} lacks the column(s) {missing} (it has {saved.column_names}); it must "
            "hold the training split's text and rejected_texts columns."
        )
    if "text" not in train_dataset.column_names:
        raise ValueError(
            f"The training split has no text column (it has {train_dataset.column_names}) to match the references of "
            f"rejected_texts_path {str(path)!r} against."
        )
    if len(saved) != len(train_dataset):
        raise ValueError(
            f"rejected_texts_path {str(path)!r} has {len(saved)} rows and the training split {len(train_dataset)}; "
            "its rejected texts were written for another corpus or split."
        )
    for row, (expected, found) in enumerate(zip(train_dataset["text"], saved["text"])):
        if expected != found:
            raise ValueError(
                f"rejected_texts_path {str(path)!r} does not match the training split at row {row}: the split's text "
                f"is {expected!r}, the saved one {found!r}; its rejected texts were written for another corpus, "
                "split or order."
            )
    if "rejected_texts" in train_dataset.column_names:
        train_dataset = train_dataset.remove_columns("rejected_texts")
    return train_dataset.add_column(
        "rejected_texts", saved["rejected_texts"], feature=saved.features["rejected_texts"]
    )


def parse_recipe_arguments(
    training_config_class, default_config: str | Path | None = None, script_arguments_class=SignModelArguments
) -> tuple:
    """`(data_args, training_args, script_args)` from the command line: a `--config` YAML (`default_config` when the
    command line names none) and field overrides, as TRL's scripts parse them. `script_args` are the recipe's own
    arguments: `SignModelArguments` by default."""
    parser = TrlParser((SignDataArguments, training_config_class, script_arguments_class))
    argv = sys.argv[1:]
    if default_config is not None and "--config" not in argv:
        argv = ["--config", str(default_config), *argv]
    return parser.parse_args_and_config(args=argv)


def checkpoint_to_resume(training_args: TrainingArguments) -> str | None:
    """The checkpoint a recipe resumes training from, as alignment-handbook's scripts choose it, and says which.

    `--resume_from_checkpoint <path>` names one; unset, the last `checkpoint-*` folder in `output_dir` is taken when
    there is one, so that a run stopped midway continues where it stopped; `--resume_from_checkpoint false` trains
    from scratch whatever `output_dir` holds (and `true` insists on a checkpoint there).

    Raises:
        `FileNotFoundError`: If the named checkpoint does not exist, or `true` finds none in `output_dir`.
    """
    requested = training_args.resume_from_checkpoint
    output_dir = training_args.output_dir
    if str(requested).lower() == "false":
        return None
    if requested is not None and str(requested).lower() != "true":
        if not Path(requested).is_dir():
            raise FileNotFoundError(f"resume_from_checkpoint {str(requested)!r} is not a checkpoint folder.")
        if training_args.should_log:
            logger.warning(f"Resuming training from {requested} (--resume_from_checkpoint).")
        return str(requested)
    last = get_last_checkpoint(output_dir) if output_dir is not None and Path(output_dir).is_dir() else None
    if last is None and requested is not None:
        raise FileNotFoundError(f"--resume_from_checkpoint true, but output_dir {output_dir!r} holds no checkpoint.")
    if last is not None and training_args.should_log:
        logger.warning(
            f"Resuming training from {last}, the last checkpoint in output_dir; pass --resume_from_checkpoint false "
            "(or another output_dir) to train from scratch."
        )
    return last


def _cached(cache: str | None, build) -> DatasetDict:
    # Saving then reloading memory-maps the corpus instead of keeping it in RAM.
    if cache is not None and (Path(cache) / "dataset_dict.json").exists():
        return load_from_disk(cache)
    corpus = build()
    if cache is None:
        return corpus
    corpus.save_to_disk(cache)
    return load_from_disk(cache)


def _build_benchmark(data_args: SignDataArguments) -> DatasetDict:
    from .data import load_csl_daily, load_how2sign, load_openasl

    if data_args.labels_path is None or data_args.pose_root is None:
        raise ValueError(f"benchmark={data_args.benchmark!r} needs --labels_path and --pose_root.")
    if data_args.benchmark == "openasl":
        return load_openasl(
            data_args.labels_path,
            data_args.pose_root,
            pose_pattern=data_args.pose_pattern,
            num_proc=data_args.num_proc,
        )
    if data_args.benchmark == "how2sign":
        return load_how2sign(data_args.labels_path, data_args.pose_root, num_proc=data_args.num_proc)
    if data_args.benchmark == "csl_daily":
        return load_csl_daily(data_args.labels_path, data_args.pose_root, num_proc=data_args.num_proc)
    raise ValueError(f"Unknown benchmark {data_args.benchmark!r}; choose openasl, how2sign or csl_daily.")


def load_tokenizer(model_args: SignModelArguments, texts, language: str = "en") -> PreTrainedTokenizerBase:
    """The tokenizer of a saved model or pretrained LM, or one trained offline on `texts`."""
    name = model_args.tokenizer_name_or_path or model_args.model_name_or_path or model_args.text_model_name_or_path
    if name is not None:
        return AutoTokenizer.from_pretrained(name)
    return build_tokenizer(texts, vocab_size=model_args.vocab_size, language=language)


def quantization_config_from(model_args: SignModelArguments):
    """A bitsandbytes 4-bit configuration for QLoRA, or None."""
    if not model_args.load_in_4bit:
        return None
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=model_args.bnb_4bit_quant_type,
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
        llm_int8_skip_modules=["pose_encoder", "lm_head"],
    )


def peft_config_from(model_args: SignModelArguments):
    """A LoRA configuration for the language model (the pose encoder fully trained alongside), or None."""
    if not model_args.use_peft:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        # Only the language model's layers: a regex anchored on its module names.
        target_modules=rf".*language_model.*\.({'|'.join(model_args.lora_target_modules)})$",
        modules_to_save=["pose_encoder"] if model_args.train_pose_encoder else None,
        bias="none",
    )


def _prepare_quantized(model: SignTranslationModel) -> SignTranslationModel:
    from peft import prepare_model_for_kbit_training

    # Casts layer norms and the (unquantised) pose encoder to float32 and enables input gradients for LoRA.
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


def build_model(model_args: SignModelArguments, tokenizer: PreTrainedTokenizerBase) -> SignTranslationModel:
    """Loads a saved model, or builds one around a pretrained LM or a T5 made from the configured sizes."""
    lm_kwargs = {"attn_implementation": model_args.attn_implementation} if model_args.attn_implementation else {}
    quantization_config = quantization_config_from(model_args)
    if quantization_config is not None:
        lm_kwargs["quantization_config"] = quantization_config
    if model_args.model_name_or_path is not None:
        model = SignTranslationModel.from_pretrained(model_args.model_name_or_path, **lm_kwargs)
        return _prepare_quantized(model) if quantization_config is not None else model
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
        model = SignTranslationModel.from_text_pretrained(
            model_args.text_model_name_or_path,
            prompt=model_args.prompt,
            tokenizer=tokenizer,
            text_model_kwargs=lm_kwargs,
            **encoder_kwargs,
        )
        return _prepare_quantized(model) if quantization_config is not None else model
    if quantization_config is not None:
        raise ValueError("load_in_4bit quantises a pretrained language model: set text_model_name_or_path as well.")
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


def dataset_name_of(data_args: SignDataArguments) -> str | None:
    """The corpus as a model card names it: the benchmark, `"synthsign"`, or `None` for a saved `dataset_path`."""
    if data_args.dataset_path is not None:
        return None
    return data_args.benchmark or "synthsign"


def save_final_model(trainer, dataset_name: str | None = None, test_metrics: dict | None = None) -> None:
    """Leaves a recipe's result in `output_dir` and, with `--push_to_hub`, pushes that folder (on every process).

    `output_dir` then holds the model's safetensors weights and configuration with its modelling code (loadable with
    `trust_remote_code=True` where signdpo_trl is not installed), the tokenizer, `trainer_state.json`,
    `test_metrics.json` and a model card that carries the test metrics with their sacrebleu signature. The push comes
    last, so the pushed card has the test metrics too. A peft model's `output_dir` holds its adapter, whose base is
    a local folder; the push then publishes the merged model (`signdpo_trl.hub.push_checkpoint`).

    Args:
        trainer: A signdpo-trl trainer whose `create_model_card` takes `dataset_name` and `test_metrics`.
        dataset_name (`str`, *optional*): The corpus (see [`dataset_name_of`]).
        test_metrics (`dict`, *optional*): The test scores, as written to `test_metrics.json`.
    """
    output_dir = trainer.args.output_dir
    # The weights, the configuration, the modelling code and the tokenizer; not pushed yet (`_internal_call`): the
    # push below comes with the card that carries the test metrics.
    trainer.save_model(output_dir, _internal_call=True)
    trainer.save_state()  # trainer_state.json: the log history, for curves
    if trainer.is_world_process_zero():
        if test_metrics is not None:
            (Path(output_dir) / "test_metrics.json").write_text(json.dumps(test_metrics, indent=2))
        trainer.create_model_card(dataset_name=dataset_name, test_metrics=test_metrics)
    if trainer.args.push_to_hub:
        if _is_peft_model(trainer.model):
            # The adapter's base is a local folder (the MLE checkpoint): publish the merged model instead.
            trainer.accelerator.wait_for_everyone()
            if trainer.is_world_process_zero():
                from .hub import push_checkpoint

                args = trainer.args
                repo_id = args.hub_model_id or Path(output_dir).name
                push_checkpoint(output_dir, repo_id, private=args.hub_private_repo, token=args.hub_token)
        else:
            trainer.push_to_hub(dataset_name=dataset_name, test_metrics=test_metrics)


def _is_peft_model(model) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


def end_training(trainer) -> None:
    """Ends a recipe's run on every process: waits for all of them, drops the trainer's and accelerate's references
    to the distributed wrapper of the model, and only then destroys the process group.

    A gloo process group destroyed while a DDP wrapper still holds it can deadlock at exit: the wrapper's destructor
    then joins gloo's threads with the GIL held (pytorch/pytorch#56297). `trainer.model` (the unwrapped model) stays
    usable.
    """
    import gc

    accelerator = trainer.accelerator
    accelerator.wait_for_everyone()
    trainer.model_wrapped = trainer.model
    accelerator.free_memory()
    gc.collect()
    accelerator.end_training()
