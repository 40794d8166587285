"""A column of texts cached on disk with the key it was computed from: shared by the miner and the corrupter.

Both decode a dataset with a model, which takes minutes to hours, and add a column of texts. Only that column is
saved (`Dataset.save_to_disk`; the pose columns are never copied), next to a JSON file holding the key (the
parameters, the dataset's fingerprint and fingerprints of the model and tokenizer) and a report; a later call with
the same key attaches it to the dataset instead of decoding again, any difference recomputes it and replaces the
cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, List, Value, load_from_disk


logger = logging.getLogger(__name__)


def model_fingerprint(model: torch.nn.Module) -> dict[str, Any]:
    """Identifies the weights (and generation defaults) without hashing gigabytes: the names, shapes and dtypes of
    all tensors of the state dict plus, per tensor, its sum and norm in float64, computed where the tensor lives."""
    digest = hashlib.sha256()
    statistics = []
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
            values = tensor if tensor.is_floating_point() else tensor.to(torch.float64)
            total = values.sum(dtype=torch.float64)
            norm = torch.linalg.vector_norm(values, dtype=torch.float64)
            statistics.append(torch.stack([total, norm]).cpu())
    if statistics:
        digest.update(torch.cat(statistics).numpy().tobytes())
    generation_config = getattr(model, "generation_config", None)
    config = getattr(model, "config", None)
    return {
        "class": type(model).__name__,
        "name_or_path": str(getattr(config, "_name_or_path", "") or ""),
        "weights_sha256": digest.hexdigest(),
        # Decoding defaults (length penalty, repetition constraints, ...) change the decoded texts too.
        "generation_config": (
            generation_config.to_json_string(use_diff=True, ignore_metadata=True) if generation_config else None
        ),
    }


def tokenizer_fingerprint(tokenizer) -> dict[str, Any]:
    vocabulary = json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False)
    return {
        "class": type(tokenizer).__name__,
        "name_or_path": str(getattr(tokenizer, "name_or_path", "") or ""),
        "vocabulary_sha256": hashlib.sha256(vocabulary.encode()).hexdigest(),
    }


def cache_key(**parts: Any) -> dict[str, Any]:
    """`parts` through JSON, so that it compares equal to what the cache's JSON file gives back."""
    return json.loads(json.dumps(parts))


def check_cache_dir(cache_path: Path, dataset: Dataset, config_file: str, owner: str):
    """Refuses a `cache_dir` that is a file, a foreign non-empty folder, or the folder the dataset is read from."""
    if cache_path.exists() and not cache_path.is_dir():
        raise ValueError(f"cache_dir {str(cache_path)!r} is a file; pass a directory for the cached dataset.")
    if cache_path.is_dir() and any(cache_path.iterdir()) and not (cache_path / config_file).is_file():
        raise ValueError(
            f"cache_dir {str(cache_path)!r} is not empty and holds no {config_file}, so it is not a cache of "
            f"{owner}, which replaces the contents of its cache_dir. Pass a new or empty directory."
        )
    resolved = cache_path.resolve()
    for cache_file in dataset.cache_files:
        if resolved in Path(cache_file["filename"]).resolve().parents:
            raise ValueError(
                f"The dataset is read from cache_dir {str(cache_path)!r}, which a new result of {owner} would "
                "replace. Pass another cache_dir."
            )


def with_text_column(dataset: Dataset, column: str, values: list[list[str]]) -> Dataset:
    """`dataset` with `column` (a list of strings per row) added, or replaced if present."""
    if column in dataset.column_names:
        dataset = dataset.remove_columns(column)
    # An explicit feature: with no text anywhere, the inferred type would be a list of nulls.
    return dataset.add_column(column, values, feature=List(Value("string")))


def load_cached_column(
    cache_path: Path, key: dict[str, Any], config_file: str, output_column: str, dataset: Dataset
) -> tuple[Dataset, dict[str, Any]] | None:
    """`dataset` with the cached column and the stored report when it was computed with exactly `key`, else None."""
    config_path = cache_path / config_file
    if not config_path.is_file():
        return None
    try:
        stored = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        logger.warning(f"Ignoring the unreadable cache {str(config_path)!r} ({error}); computing again.")
        return None
    if {name: value for name, value in stored.items() if name != "report"} != key:
        logger.info(f"The cache in {str(cache_path)!r} was made with other settings or inputs; computing again.")
        return None
    try:
        cached = load_from_disk(str(cache_path))
        report = dict(stored["report"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        logger.warning(f"Ignoring the damaged cache in {str(cache_path)!r} ({error}); computing again.")
        return None
    if not isinstance(cached, Dataset) or output_column not in cached.column_names or len(cached) != len(dataset):
        logger.warning(f"The cache in {str(cache_path)!r} does not match its {config_file}; computing again.")
        return None
    logger.info(f"Loaded the cached {output_column!r} column from {str(cache_path)!r}.")
    return with_text_column(dataset, output_column, cached[output_column]), report


def save_cached_column(dataset: Dataset, output_column: str, cache_path: Path, config_file: str, config: dict):
    """Saves `output_column` of `dataset` (alone) and `config` as the cache in `cache_path`."""
    # Written beside the cache and moved into place at the end, so an interrupted save never leaves a config file next
    # to incomplete data.
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{cache_path.name}.", dir=cache_path.parent))
    try:
        dataset.select_columns([output_column]).save_to_disk(str(staging))
        (staging / config_file).write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
        if cache_path.exists():
            shutil.rmtree(cache_path)
        os.replace(staging, cache_path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


class ColumnCache:
    """The cache of one function's text column in `cache_dir` (None: no caching), keyed by its inputs.

    Args:
        cache_dir (`str` or `os.PathLike` or `None`): The folder; new, empty or an earlier cache of `owner`.
        config_file (`str`): Name of the JSON file holding the key and the report.
        owner (`str`): The function whose results it caches, for error messages.
        format_version (`int`): Bumped by the owner when its selection or layout changes, so stale caches recompute.
    """

    def __init__(self, cache_dir: str | os.PathLike | None, config_file: str, owner: str, format_version: int):
        self.path = Path(cache_dir) if cache_dir is not None else None
        self.config_file, self.owner, self.format_version = config_file, owner, format_version
        self.key: dict[str, Any] | None = None

    def lookup(
        self, dataset: Dataset, model: torch.nn.Module, tokenizer, parameters: dict[str, Any], output_column: str
    ) -> tuple[Dataset, dict[str, Any]] | None:
        """`(dataset with the cached column, stored report)` when the cache holds this exact computation, else None
        (the key is kept for `save`)."""
        if self.path is None:
            return None
        check_cache_dir(self.path, dataset, self.config_file, self.owner)
        self.key = cache_key(
            format_version=self.format_version,
            dataset_fingerprint=dataset._fingerprint,
            num_rows=len(dataset),
            model=model_fingerprint(model),
            tokenizer=tokenizer_fingerprint(tokenizer),
            parameters=parameters,
        )
        return load_cached_column(self.path, self.key, self.config_file, output_column, dataset)

    def save(self, dataset: Dataset, output_column: str, report):
        """Stores `output_column` of `dataset` with the key of the last `lookup` and the owner's report (a dataclass
        with a `from_cache` field, which is not stored); a no-op without a folder."""
        if self.path is not None:
            fields = {name: value for name, value in dataclasses.asdict(report).items() if name != "from_cache"}
            save_cached_column(dataset, output_column, self.path, self.config_file, {**self.key, "report": fields})
