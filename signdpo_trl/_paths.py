"""The check that a model name meant as a local path exists, before transformers takes it for a Hub id."""

from __future__ import annotations

import os


def check_local_model_path(name: str, what: str) -> None:
    """Raises `FileNotFoundError` if `name` reads as a local path (starts with `.`, `/` or `~`, or has more than one
    `/`) and does not exist: said before any download is tried, instead of a Hub error about a repository id.

    Args:
        name (`str`): The model name or path as the user gave it.
        what (`str`): What it names, leading the message (e.g. `"The saved corrupter"`).
    """
    if not os.path.exists(name) and (name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep in name[:1]):
        raise FileNotFoundError(
            f"{what} {name!r} does not exist; pass the folder of a saved model or a Hub id such as 'google/mt5-small'."
        )
