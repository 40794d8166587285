"""Translating pose files with a trained `SignTranslationModel`.

A file becomes exactly the row a training dataset holds of it (`load_pose`, then `canonical_arrays`: the canonical
69 points, the model's coordinate channels, rounded to float16 as `build_pose_dataset` stores them by default), and
rows are batched by the model's own collator (`PoseCollator.for_model`: its input convention, evenly spaced frames,
never random ones), so a model translates a file as it was evaluated on that clip.

```python
from signdpo_trl.inference import Translator

translator = Translator.from_pretrained("outputs/dpo_synthsign")
for result in translator.translate_files(["clip.pose", "clip.pkl", "openpose_frames/"], num_beams=4):
    print(result.file, result.translation if result.ok else result.error)
```

A file that cannot be read becomes a `Translation` with an `error` naming it; the other files are still translated.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from ._paths import check_local_model_path
from .data.collation import PoseCollator
from .data.dataset import KEYPOINT_DTYPES, canonical_arrays
from .data.layouts import SkeletonLayout, get_layout
from .data.readers import PoseFileError, load_pose
from .data.safe_pickle import UnsafePickleError
from .models import SignTranslationModel


# The trainers' default `max_frames` (`SignSFTConfig`, `SignDPOConfig`) and the collator's: what a model whose config
# does not record its training `max_frames` (saved before the field existed, or built by hand) is fed.
DEFAULT_MAX_FRAMES = PoseCollator.max_frames
# The files that `layout` applies to: ``.npy`` carries no layout, and an ``.npz`` may not.
NUMPY_SUFFIXES = (".npy", ".npz")
# What reading one file may raise: reported for that file, the others are still translated.
_READ_ERRORS = (PoseFileError, UnsafePickleError, OSError, ValueError)


@dataclass(frozen=True)
class Translation:
    """The translation of one pose file, or why there is none.

    Args:
        file (`str`): The file (or OpenPose folder) as it was given.
        translation (`str`, *optional*): The decoded text; `None` when the file could not be read.
        error (`str`, *optional*): Why the file could not be read, naming it; `None` on success.
    """

    file: str
    translation: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, str]:
        """`{"file": ..., "translation": ...}`, or `{"file": ..., "error": ...}` for a file that failed."""
        if self.ok:
            return {"file": self.file, "translation": self.translation}
        return {"file": self.file, "error": self.error}


def load_translation_model(
    model_name_or_path: str | os.PathLike, *, tokenizer_name_or_path: str | None = None
) -> tuple[SignTranslationModel, Any]:
    """Loads a saved `SignTranslationModel` (folder or Hub id) and its tokenizer, in eval mode.

    A folder with an ``adapter_config.json`` (what the recipes write with ``--use_peft``) is a peft adapter: its base
    model (the adapter's ``base_model_name_or_path``) is loaded, the adapter applied and merged into it.

    Args:
        model_name_or_path (`str` or `os.PathLike`): The saved model or adapter.
        tokenizer_name_or_path (`str`, *optional*): Tokenizer to load; defaults to the one saved with the model (for
            an adapter folder without one, the base model's).

    Returns:
        `(model, tokenizer)`.

    Raises:
        `FileNotFoundError`: A local path that does not exist (before any download is tried).
    """
    from transformers import AutoTokenizer

    name = str(model_name_or_path)
    check_local_model_path(name, "The model")
    adapter = _is_adapter(name)
    if adapter:
        from peft import PeftConfig, PeftModel

        base_name = PeftConfig.from_pretrained(name).base_model_name_or_path
        base = SignTranslationModel.from_pretrained(base_name)
        model = PeftModel.from_pretrained(base, name).merge_and_unload()
    else:
        model = SignTranslationModel.from_pretrained(name)
    if tokenizer_name_or_path is None:
        tokenizer_name_or_path = name
        if adapter and os.path.isdir(name) and not os.path.isfile(os.path.join(name, "tokenizer_config.json")):
            tokenizer_name_or_path = base_name
    return model.eval(), AutoTokenizer.from_pretrained(tokenizer_name_or_path)


def _is_adapter(name: str) -> bool:
    if os.path.isdir(name):
        return os.path.isfile(os.path.join(name, "adapter_config.json"))
    from huggingface_hub import file_exists

    return file_exists(name, "adapter_config.json")


class Translator:
    """Translates pose files with a `SignTranslationModel`, reading them as the training data was built.

    Args:
        model (`SignTranslationModel`): The model; it is put in eval mode and stays on its device.
        tokenizer: Its tokenizer.
        max_frames (`int`, *optional*): Longer clips are sub-sampled to this many evenly spaced frames. Defaults to
            the frames the model was trained on (its config's `max_frames`, which the trainers record), else 256.
        confidence_threshold (`float`, *optional*, defaults to `0.3`): Points at or below it are left out of the
            model input, as in training (`confidence_threshold` of the training configuration).
        keypoint_dtype (`str`, *optional*, defaults to `"float16"`): Precision the poses are rounded to before they
            are fed, as the training dataset stored them (`build_pose_dataset` and SynthSign store float16).
        layout (`str` or `SkeletonLayout`, *optional*): Layout of the ``.npy`` and ``.npz`` files, which ``.npy`` files
            need (they carry none); the other formats always use their own.
        person (`int` or `"most_confident"`, *optional*, defaults to `0`): Which person of a multi-person file.
    """

    def __init__(
        self,
        model: SignTranslationModel,
        tokenizer,
        *,
        max_frames: int | None = None,
        confidence_threshold: float = 0.3,
        keypoint_dtype: str = "float16",
        layout: str | SkeletonLayout | None = None,
        person: int | Literal["most_confident"] = 0,
    ):
        if keypoint_dtype not in KEYPOINT_DTYPES:
            raise ValueError(f"keypoint_dtype must be one of {KEYPOINT_DTYPES}, got {keypoint_dtype!r}.")
        self.model = model.eval()
        self.tokenizer = tokenizer
        if max_frames is None:
            max_frames = getattr(model.config, "max_frames", None) or DEFAULT_MAX_FRAMES
        self.collator = PoseCollator.for_model(
            model, max_frames=max_frames, confidence_threshold=confidence_threshold, frame_sampling="uniform"
        )
        self.keypoint_dtype = keypoint_dtype
        # An unknown layout is a mistake for every file: refused here, not reported file by file.
        self.layout = get_layout(layout) if layout is not None else None
        self.person = person

    @classmethod
    def from_pretrained(
        cls,
        model_name_or_path: str | os.PathLike,
        *,
        device: str | torch.device | None = None,
        tokenizer_name_or_path: str | None = None,
        **kwargs,
    ) -> Translator:
        """A translator for a saved model or peft adapter (see `load_translation_model`).

        Args:
            model_name_or_path (`str` or `os.PathLike`): Folder or Hub id of the model or adapter.
            device (`str` or `torch.device`, *optional*): Defaults to `"cuda"` when available, else `"cpu"`.
            tokenizer_name_or_path (`str`, *optional*): Tokenizer to load instead of the model's own.
            kwargs: The other arguments of `Translator` (`max_frames`, `layout`, ...).
        """
        model, tokenizer = load_translation_model(model_name_or_path, tokenizer_name_or_path=tokenizer_name_or_path)
        device = device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(model.to(device), tokenizer, **kwargs)

    def read(self, path: str | os.PathLike) -> dict[str, np.ndarray]:
        """The row of `path` the model is fed: `keypoints` (frames x 69 x the model's `coord_dims`) and `confidence`
        (frames x 69), canonical and rounded to `keypoint_dtype`, as `build_pose_dataset` stores a clip.

        Raises:
            `PoseFileError`: the file cannot be read or has no usable point; the message names it.
            `FileNotFoundError`, `UnsafePickleError`: as `load_pose` raises them.
        """
        numpy_file = Path(path).suffix.lower() in NUMPY_SUFFIXES
        pose = load_pose(path, layout=self.layout if numpy_file else None, person=self.person)
        try:
            row = canonical_arrays(pose, coords=self.model.config.coord_dims, keypoint_dtype=self.keypoint_dtype)
        except ValueError as error:
            raise PoseFileError(f"{path}: {error}") from error
        return {"keypoints": row["keypoints"], "confidence": row["confidence"]}

    @torch.no_grad()
    def translate(
        self,
        rows: Sequence[dict[str, Any]],
        *,
        num_beams: int = 4,
        max_new_tokens: int = 64,
        batch_size: int = 16,
        sort_by_length: bool = True,
        show_progress: bool = False,
        **generate_kwargs,
    ) -> list[str]:
        """Translates pose rows (`keypoints` T x 69 x C and `confidence` T x 69, e.g. from `read` or the rows of a
        dataset built by `build_pose_dataset`), `batch_size` clips per `generate` call.

        Args:
            rows (`Sequence[dict]`): The clips.
            num_beams (`int`, *optional*, defaults to `4`): Beam width (1: greedy decoding).
            max_new_tokens (`int`, *optional*, defaults to `64`): Longest translation, in tokens.
            batch_size (`int`, *optional*, defaults to `16`): Clips decoded together.
            sort_by_length (`bool`, *optional*, defaults to `True`): Batch clips of similar length together (longest
                first) to pad less; the translations come back in the order of `rows` either way.
            show_progress (`bool`, *optional*, defaults to `False`): Show a progress bar.
            generate_kwargs: Further arguments of `generate` (`length_penalty`, `no_repeat_ngram_size`, ...).

        Returns:
            `list[str]`: one translation per row, in order.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        order = list(range(len(rows)))
        if sort_by_length:
            order.sort(key=lambda index: -len(rows[index]["keypoints"]))
        first_parameter = next(self.model.parameters())
        # The pose encoder computes in the dtype of the model's first floating-point weight.
        device, dtype = first_parameter.device, getattr(self.model, "dtype", first_parameter.dtype)
        translations: list[str | None] = [None] * len(rows)
        with tqdm(total=len(rows), desc="Translating", unit="clip", disable=not show_progress) as progress:
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                inputs = self.collator([rows[index] for index in batch])
                generated = self.model.generate(
                    pose=inputs["pose"].to(device=device, dtype=dtype),
                    pose_mask=inputs["pose_mask"].to(device),
                    num_beams=num_beams,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    **generate_kwargs,
                )
                texts = self.tokenizer.batch_decode(generated.cpu(), skip_special_tokens=True)
                for index, text in zip(batch, texts):
                    translations[index] = text.strip()
                progress.update(len(batch))
        return translations

    def translate_files(self, files: Sequence[str | os.PathLike], **kwargs) -> list[Translation]:
        """Reads and translates pose files: ``.pose``, Uni-Sign ``.pkl``, ``.npy`` / ``.npz`` or folders of OpenPose
        ``*_keypoints.json`` frames (see `load_pose`).

        Args:
            files (`Sequence[str | os.PathLike]`): The files.
            kwargs: Decoding arguments of `translate` (`num_beams`, `max_new_tokens`, `batch_size`, ...).

        Returns:
            `list[Translation]`, one per file in order; a file that cannot be read has an `error` naming it, and the
            others are translated all the same.
        """
        rows, errors = {}, {}
        for index, path in enumerate(files):
            try:
                rows[index] = self.read(path)
            except _READ_ERRORS as error:
                errors[index] = _naming(path, error)
        texts = dict(zip(rows, self.translate(list(rows.values()), **kwargs)))
        return [
            Translation(str(path), translation=texts.get(index), error=errors.get(index))
            for index, path in enumerate(files)
        ]


def _naming(path: str | os.PathLike, error: Exception) -> str:
    """The error's message, led by `path` unless it already names it (the readers' messages do)."""
    message = str(error)
    return message if str(path) in message or str(Path(path)) in message else f"{path}: {message}"


__all__ = ["DEFAULT_MAX_FRAMES", "Translation", "Translator", "load_translation_model"]
