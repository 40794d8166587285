"""The folder a checkpoint is published as, and its push to the Hugging Face Hub.

A recipe's `output_dir` holds a full model or, with `--use_peft`, a LoRA adapter whose base is a local folder (the
MLE checkpoint) that nobody else can load. The published folder is always a full model: the adapter merged into its
base, with the modelling code that `trust_remote_code=True` loads, the tokenizer, and the card and test metrics the
recipe wrote.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .inference import load_translation_model


# Written by the recipes next to the weights; published as they are.
CARD_FILES = ("README.md", "test_metrics.json")
# What a peft adapter folder holds besides the tokenizer and card: deleted from the repository when the merged model
# is pushed, since the Trainer's checkpoint pushes (`hub_strategy`) may have uploaded them, and a repository with an
# `adapter_config.json` loads as an adapter.
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


def save_hub_folder(checkpoint: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """Writes into `folder` the files a push of `checkpoint` uploads.

    Args:
        checkpoint (`str` or `os.PathLike`): A folder a recipe or trainer saved (a model, or a peft adapter with its
            tokenizer).
        folder (`str` or `os.PathLike`): Where to write `model.safetensors`, `config.json` (with its `auto_map`), the
            modelling code, the tokenizer and the checkpoint's `README.md` and `test_metrics.json`.

    Returns:
        `Path`: `folder`.
    """
    checkpoint, folder = Path(checkpoint), Path(folder)
    model, tokenizer = load_translation_model(checkpoint)  # an adapter comes back merged into its base
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    for name in CARD_FILES:
        if (checkpoint / name).is_file():
            shutil.copyfile(checkpoint / name, folder / name)
    return folder


def push_checkpoint(
    checkpoint: str | os.PathLike,
    repo_id: str,
    *,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str | None = None,
):
    """Pushes `checkpoint` to the Hub repository `repo_id` as the full model `save_hub_folder` writes.

    Args:
        checkpoint (`str` or `os.PathLike`): The saved model or peft adapter.
        repo_id (`str`): `user/name`, or a bare name for the logged-in user's namespace; created if absent.
        private (`bool`, *optional*): Create the repository as private.
        token (`str`, *optional*): Hub token; defaults to the logged-in one.
        commit_message (`str`, *optional*): The commit's message.

    Returns:
        The `CommitInfo` of the upload, which also deletes the files of an adapter pushed earlier (`ADAPTER_FILES`).
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory() as folder:
        save_hub_folder(checkpoint, folder)
        repo = api.create_repo(repo_id, private=private, exist_ok=True)
        return api.upload_folder(
            repo_id=repo.repo_id,
            folder_path=folder,
            commit_message=commit_message or f"Upload {Path(checkpoint).name}",
            delete_patterns=list(ADAPTER_FILES),
        )


__all__ = ["ADAPTER_FILES", "CARD_FILES", "push_checkpoint", "save_hub_folder"]
