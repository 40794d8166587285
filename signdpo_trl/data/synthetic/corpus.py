"""Generating the SynthSign corpus: a `datasets.DatasetDict`, or files with a manifest."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from datasets import Array2D, Array3D, Dataset, DatasetDict, Features, Value

from ..canonical import NUM_CANONICAL_JOINTS
from ..pose import PoseSequence
from .config import SynthSignConfig
from .grammar import Sentence, SentenceSampler, realise
from .lexicon import SynthSignLexicon, build_lexicon
from .render import RenderedClip, render_clip
from .signers import Signer, sample_signers


SPLITS = ("train", "validation", "test")
SOURCE_LAYOUT = "coco_wholebody133"
NEGATION_SIGN = "NEG"  # gloss convention for the head-shake marker
QUESTION_SIGN = "Y/N-Q"  # gloss convention for the yes/no-question marker
_PROBE = {
    "kind": Value("string"),
    "sign": Value("string"),
    "word": Value("string"),
    "present": Value("bool"),
    "start": Value("int32"),
    "end": Value("int32"),
}


def synthsign_features(keypoint_dtype: str = "float16") -> Features:
    """The features of a SynthSign split (canonical keypoints, as in `dataset_features`, plus SynthSign's columns)."""
    return Features(
        {
            "id": Value("string"),
            "keypoints": Array3D(shape=(None, NUM_CANONICAL_JOINTS, 2), dtype=keypoint_dtype),
            "confidence": Array2D(shape=(None, NUM_CANONICAL_JOINTS), dtype=keypoint_dtype),
            "fps": Value("float32"),
            "text": Value("string"),
            "split": Value("string"),
            "signer": Value("string"),
            "gloss": Value("string"),
            "marker": Value("string"),
            "pattern": Value("string"),
            "probes": [_PROBE],
        }
    )


@dataclass
class SynthSignClip:
    """One generated clip, before it is stored.

    Args:
        id (`str`): Clip identifier.
        split (`str`): Its split.
        signer (`Signer`): Who signs it.
        sentence (`Sentence`): What is signed, with its English translation.
        rendered (`RenderedClip`): The COCO-WholeBody-133 keypoints and scores, with sign and marker spans.
        probes (`list[dict]`): Its probes (see `clip_probes`).
    """

    id: str
    split: str
    signer: Signer
    sentence: Sentence
    rendered: RenderedClip
    probes: list[dict[str, Any]]


class SynthSignGenerator:
    """Draws SynthSign clips one at a time; clip `i` depends only on the configuration and `i`.

    Args:
        config (`SynthSignConfig`): What to generate.
    """

    def __init__(self, config: SynthSignConfig):
        self.config = config
        self.sampler = SentenceSampler(
            self.lexicon, config.negation_rate, config.question_rate, config.min_signs, config.max_signs
        )
        train_signers = config.num_signers - config.validation_signers - config.test_signers
        groups = [train_signers, config.validation_signers, config.test_signers]
        signers = sample_signers(config.num_signers, config.left_handed_rate, groups, config.seed)
        bounds = np.cumsum([0] + groups)
        self.signers = {split: signers[bounds[k] : bounds[k + 1]] for k, split in enumerate(SPLITS)}
        sizes = config.split_sizes
        self.splits = [split for split, size in zip(SPLITS, sizes) for _ in range(size)]
        self.index_in_split = [i for size in sizes for i in range(size)]

    @cached_property
    def lexicon(self) -> SynthSignLexicon:
        return build_lexicon(self.config.lexicon_seed, self.config.minimal_pair_rate)

    def clip(self, index: int, marker: str | None = None, signer: Signer | None = None) -> SynthSignClip:
        """Clip `index` of the corpus.

        Args:
            index (`int`): Position in the corpus (train clips first, then validation, then test).
            marker (`str`, *optional*): Render the same sentence under this non-manual marker instead of its own
                (the hands stay exactly the same; the text follows the marker).
            signer (`Signer`, *optional*): Render with this signer instead (for studies of signer variation).
        """
        config, split = self.config, self.splits[index]
        rng = np.random.default_rng([config.seed, 2, index])
        split_signers = self.signers[split]
        chosen = split_signers[int(rng.integers(len(split_signers)))]
        signer = signer or chosen
        sentence = self.sampler.sample(rng)
        if marker is not None and marker != sentence.marker:
            sentence = realise(sentence.clause, marker)
        rendered = render_clip(
            [self.lexicon[gloss] for gloss in sentence.glosses],
            sentence.marker,
            signer,
            np.random.default_rng([config.seed, 0, index]),
            np.random.default_rng([config.seed, 1, index]),
            fps=config.fps,
            sign_frames=(config.min_sign_frames, config.max_sign_frames),
            transition_frames=config.transition_frames,
            frame_size=config.frame_size,
            jitter=config.jitter,
            motion_blur=config.motion_blur,
            occlusion=config.occlusion,
            drop_rate=config.drop_rate,
            missing_frame_rate=config.missing_frame_rate,
        )
        return SynthSignClip(
            id=f"synthsign-{split}-{self.index_in_split[index]:05d}",
            split=split,
            signer=signer,
            sentence=sentence,
            rendered=rendered,
            probes=clip_probes(sentence, rendered, self.lexicon),
        )

    def pose_sequence(self, clip: SynthSignClip) -> PoseSequence:
        """The clip as a COCO-WholeBody-133 `PoseSequence` (what a pose estimator would have written)."""
        return PoseSequence(
            clip.rendered.keypoints, clip.rendered.scores, layout=SOURCE_LAYOUT, fps=self.config.fps, source=clip.id
        )

    def row(self, index: int) -> dict[str, Any]:
        """Clip `index` as a dataset row, canonicalised through the same path as real data."""
        clip = self.clip(index)
        canonical = self.pose_sequence(clip).to_canonical()
        dtype = np.dtype(self.config.keypoint_dtype)
        return {
            "id": clip.id,
            "keypoints": canonical.keypoints.astype(dtype),
            "confidence": canonical.confidence.astype(dtype),
            "fps": float(self.config.fps),
            "text": clip.sentence.text,
            "split": clip.split,
            "signer": clip.signer.name,
            "gloss": " ".join(clip.sentence.glosses),
            "marker": clip.sentence.marker,
            "pattern": clip.sentence.clause.pattern,
            "probes": clip.probes,
        }


def clip_probes(sentence: Sentence, rendered: RenderedClip, lexicon: SynthSignLexicon) -> list[dict[str, Any]]:
    """The probes of a clip, as the dataset's `probes` column holds them.

    One `minimal_pair` probe per sign that has a minimal-pair partner in the lexicon and English of its own: its
    word must appear in a correct translation (for a multi-word sign, the token that tells it apart from its
    partners). One `negation` probe ("not") and one `question` probe ("?") per clip, `present` when the clip
    carries that marker, with the marker's frame span (-1 otherwise).
    """
    probes = []
    for gloss, surface, (start, end) in zip(sentence.glosses, sentence.surface, rendered.sign_spans):
        partners = lexicon.minimal_pair_of(gloss)
        if not partners or not surface:
            continue
        tokens = surface.split()
        partner_tokens = {token for other, _ in partners for token in lexicon[other].word.english.split()}
        word = next((token for token in tokens if token not in partner_tokens), tokens[-1])
        probes.append(
            {"kind": "minimal_pair", "sign": gloss, "word": word, "present": True, "start": start, "end": end}
        )
    for kind, sign, word in (("negation", NEGATION_SIGN, "not"), ("question", QUESTION_SIGN, "?")):
        present = sentence.marker == kind
        start, end = rendered.marker_span if present else (-1, -1)
        probes.append({"kind": kind, "sign": sign, "word": word, "present": present, "start": start, "end": end})
    return probes


def _rows(config: SynthSignConfig, indices: range) -> list[dict[str, Any]]:
    generator = SynthSignGenerator(config)
    return [generator.row(i) for i in indices]


def _iter_rows(config: SynthSignConfig, num_proc: int) -> Iterator[dict[str, Any]]:
    if num_proc <= 1:
        generator = SynthSignGenerator(config)
        yield from (generator.row(i) for i in range(config.num_clips))
        return
    chunk = max(1, -(-config.num_clips // (num_proc * 8)))
    ranges = [range(i, min(i + chunk, config.num_clips)) for i in range(0, config.num_clips, chunk)]
    with ProcessPoolExecutor(num_proc) as pool:
        for rows in pool.map(_rows, [config] * len(ranges), ranges):
            yield from rows


def generate_synthsign(config: SynthSignConfig | None = None, num_proc: int | None = None) -> DatasetDict:
    """Generate the SynthSign corpus.

    Args:
        config (`SynthSignConfig`, *optional*): What to generate; the default configuration gives the 10,000-clip
            corpus.
        num_proc (`int`, *optional*): Worker processes; the result does not depend on it.

    Returns:
        `datasets.DatasetDict` with `train`, `validation` and `test`, signer-disjoint. Rows: `id`, `keypoints`
        (canonical, `T x 69 x 2`, frame fractions), `confidence` (`T x 69`), `fps`, `text` (English), `split`,
        `signer`, `gloss` (the signs, for analysis only), `marker` (`none`, `negation`, `question`), `pattern`
        (sentence pattern) and `probes` (see `clip_probes`).
    """
    config = config or SynthSignConfig()
    columns: dict[str, dict[str, list]] = {split: {} for split in SPLITS}
    for row in _iter_rows(config, num_proc or 1):
        split_columns = columns[row["split"]]
        for name, value in row.items():
            split_columns.setdefault(name, []).append(value)
    features = synthsign_features(config.keypoint_dtype)
    return DatasetDict({split: Dataset.from_dict(columns[split], features=features, split=split) for split in SPLITS})


def write_synthsign(
    config: SynthSignConfig | None,
    out_dir: str | os.PathLike,
    format: Literal["pkl", "pose"] = "pkl",
) -> Path:
    """Write SynthSign as one pose file per clip plus a JSONL manifest, to exercise the file path of the pipeline.

    Args:
        config (`SynthSignConfig`, *optional*): What to generate (default: the 10,000-clip corpus).
        out_dir (`str`): Output folder; clips go to `<out_dir>/<split>/<id>.<format>`.
        format (`str`, defaults to `"pkl"`): `"pkl"` writes Uni-Sign pose pickles (COCO-WholeBody-133, keypoints in
            [0, 1] of the frame, with scores); `"pose"` writes pose-format files in the same layout.

    Returns:
        `Path`: The manifest, `<out_dir>/manifest.jsonl`, one line per clip with `id`, `path` (relative to the
        manifest), `text`, `split`, `signer`, `gloss`.
    """
    from ..readers import save_pose, save_unisign_pickle

    if format not in ("pkl", "pose"):
        raise ValueError(f"format must be 'pkl' or 'pose'; got {format!r}.")
    config = config or SynthSignConfig()
    save = save_unisign_pickle if format == "pkl" else save_pose
    out_dir = Path(out_dir)
    generator = SynthSignGenerator(config)
    manifest = out_dir / "manifest.jsonl"
    for split in SPLITS:
        (out_dir / split).mkdir(parents=True, exist_ok=True)
    with manifest.open("w", encoding="utf-8") as stream:
        for index in range(config.num_clips):
            clip = generator.clip(index)
            relative = f"{clip.split}/{clip.id}.{format}"
            save(out_dir / relative, generator.pose_sequence(clip))
            line = {
                "id": clip.id,
                "path": relative,
                "text": clip.sentence.text,
                "split": clip.split,
                "signer": clip.signer.name,
                "gloss": " ".join(clip.sentence.glosses),
            }
            stream.write(json.dumps(line) + "\n")
    return manifest
