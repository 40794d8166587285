"""Tiny builders shared by the trainer tests: a tokenizer, a T5-based `SignTranslationModel` and pose rows.

Everything here is small enough for a CPU step in milliseconds and deterministic for a given seed.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from datasets import Dataset
from transformers import T5Config

from signdpo_trl.data.canonical import CANONICAL_PARTS, NUM_CANONICAL_JOINTS
from signdpo_trl.models import SignTranslationConfig, SignTranslationModel, build_tokenizer, sync_text_config


SENTENCES = (
    "the dog sees the cat",
    "i do not like the rain",
    "my brother goes to school tomorrow",
    "she does not want two apples",
    "we eat the big cake in the morning",
    "the teacher gives my sister a book",
    "they can't find their house",
    "you drink hot tea every evening",
)

# Tensors this small gain nothing from intra-op threads, and on shared CI cores their contention made a forward
# pass forty times slower.
torch.set_num_threads(1)

# Body joints (canonical order: nose, ears, shoulders, elbows, wrists) of a signer facing the camera, in pixels.
BODY_PIXELS = np.array(
    [[256, 120], [236, 118], [276, 118], [206, 190], [306, 190], [186, 270], [326, 270], [220, 300], [292, 300]],
    dtype=np.float32,
)


@functools.cache
def tiny_tokenizer():
    """A Unigram tokenizer trained on `SENTENCES` (pad 0, eos 1, unk 2, byte fallback)."""
    return build_tokenizer(list(SENTENCES) * 4, vocab_size=320, language="en")


def tiny_config(tokenizer=None, dropout: float = 0.1, **overrides) -> SignTranslationConfig:
    """A two-layer T5 of width 32 behind a two-block pose encoder; dropout on so that its removal can be tested."""
    text_config = T5Config(
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        dropout_rate=dropout,
    )
    sync_text_config(text_config, tokenizer if tokenizer is not None else tiny_tokenizer())
    fields = dict(
        text_config=text_config,
        pose_embed_dim=16,
        spatial_channels=[16, 24],
        temporal_channels=[24],
        temporal_kernel_size=3,
        pose_dropout=dropout,
    )
    fields.update(overrides)
    return SignTranslationConfig(**fields)


def tiny_model(seed: int = 0, attn_implementation: str = "eager", **overrides) -> SignTranslationModel:
    """A freshly initialised tiny model.

    Eager attention by default: the SignDPO reference pass requests attention weights (which switches to eager), so
    an eager policy computes bit-for-bit the same log-probabilities as its reference copy.
    """
    torch.manual_seed(seed)
    model = SignTranslationModel(tiny_config(**overrides))
    model.language_model.set_attn_implementation(attn_implementation)
    return model


def skeleton_clip(num_frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A plausible canonical clip (`T x 69 x 2` pixels) and its confidences (`T x 69`), with a few missed points.

    The body sways slowly, the hands circle around their wrists, the face sits around the nose.
    """
    time = np.arange(num_frames, dtype=np.float32)[:, None]
    phase = rng.uniform(0, 2 * np.pi)
    keypoints = np.zeros((num_frames, NUM_CANONICAL_JOINTS, 2), dtype=np.float32)
    body = CANONICAL_PARTS["body"]
    sway = 6 * np.sin(0.3 * time + phase)
    keypoints[:, body.offset : body.offset + body.size] = BODY_PIXELS[None] + sway[..., None]
    # Wrists move more than the rest: they carry the signing.
    wrist_motion = 25 * np.concatenate([np.sin(0.5 * time + phase), np.cos(0.4 * time + phase)], axis=1)
    keypoints[:, [7, 8]] += wrist_motion[:, None, :] * np.array([[1.0], [-1.0]], dtype=np.float32)
    for part_name, anchor_joint, spread in (("left_hand", 7, 18.0), ("right_hand", 8, 18.0), ("face", 0, 22.0)):
        part = CANONICAL_PARTS[part_name]
        layout = rng.uniform(-spread, spread, size=(part.size, 2)).astype(np.float32)
        layout[part.anchor] = 0.0
        wiggle = rng.normal(0, 1.5, size=(num_frames, part.size, 2)).astype(np.float32)
        keypoints[:, part.offset : part.offset + part.size] = keypoints[:, None, anchor_joint] + layout + wiggle
    keypoints += rng.normal(0, 0.5, size=keypoints.shape).astype(np.float32)
    confidence = rng.uniform(0.5, 1.0, size=(num_frames, NUM_CANONICAL_JOINTS)).astype(np.float32)
    missed = rng.random(size=confidence.shape) < 0.05
    confidence[missed] = 0.1
    return keypoints, confidence


def pose_rows(num_rows: int = 8, seed: int = 0, min_frames: int = 6, max_frames: int = 14) -> list[dict]:
    """Dataset rows (`id`, `keypoints`, `confidence`, `fps`, `text`) of varying lengths, texts from `SENTENCES`."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(num_rows):
        keypoints, confidence = skeleton_clip(int(rng.integers(min_frames, max_frames + 1)), rng)
        rows.append(
            {
                "id": f"clip{index:02d}",
                "keypoints": keypoints,
                "confidence": confidence,
                "fps": 25.0,
                "text": SENTENCES[index % len(SENTENCES)],
            }
        )
    return rows


def pose_dataset(num_rows: int = 8, seed: int = 0, **kwargs) -> Dataset:
    """`pose_rows` as an in-memory `datasets.Dataset` (float32 arrays, as `Dataset.with_format("numpy")` keeps)."""
    rows = pose_rows(num_rows, seed, **kwargs)
    return Dataset.from_list(
        [{**row, "keypoints": row["keypoints"].tolist(), "confidence": row["confidence"].tolist()} for row in rows]
    )
