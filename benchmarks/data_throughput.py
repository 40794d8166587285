"""Throughput of the data pipeline: reading pose files, building a dataset from a manifest, generating SynthSign.

    python benchmarks/data_throughput.py                          # 1,000 clips per stage, 10,000 SynthSign clips
    python benchmarks/data_throughput.py --num-clips 5000 --num-proc 1 2 4

Measures, on this machine's CPU, with every file already in the page cache (warm reads):

- reading + canonicalising: `load_pose(path).to_canonical()` over copies of real recordings (the pose fixtures:
  MediaPipe reduced holistic and OpenPose-137 `.pose` files) and over a Uni-Sign `.pkl` (COCO-WholeBody-133, as
  CSL-Daily is distributed), in clips and frames per second;
- building: `build_pose_dataset` into a fresh Arrow cache, for each `--num-proc`, from a JSONL manifest mixing those
  three kinds of file and from the manifest `write_synthsign(format="pose")` writes (COCO-WholeBody-133 `.pose`);
- SynthSign: `generate_synthsign` of `--synth-clips` clips (in memory, one process).

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
from datasets import DatasetDict
from datasets.utils.logging import disable_progress_bar

from signdpo_trl.data.dataset import build_pose_dataset
from signdpo_trl.data.pose import PoseSequence
from signdpo_trl.data.readers import load_pose, save_unisign_pickle
from signdpo_trl.data.synthetic import SynthSignConfig, generate_synthsign, write_synthsign


FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "pose"
FIXTURE_CLIPS = {
    ".pose, MediaPipe reduced holistic (178 points)": "mediapipe.pose",
    ".pose, OpenPose-137": "openpose.pose",
}


def write_unisign_pickle(path: Path, num_frames: int) -> Path:
    rng = np.random.default_rng(0)
    clip = PoseSequence(
        rng.uniform(0, 1, (num_frames, 133, 2)), rng.uniform(0, 1, (num_frames, 133)), layout="coco_wholebody133"
    )
    save_unisign_pickle(path, clip)
    return path


def copies(source: Path, folder: Path, count: int) -> list[Path]:
    """`count` distinct files with the content of `source`, so that nothing is served from a per-path cache."""
    folder.mkdir(parents=True)
    paths = [folder / f"clip{i:06d}{source.suffix}" for i in range(count)]
    for path in paths:
        shutil.copyfile(source, path)
    return paths


def measure_reading(paths: list[Path]) -> tuple[float, int]:
    start = time.perf_counter()
    frames = sum(load_pose(path).to_canonical().num_frames for path in paths)
    return time.perf_counter() - start, frames


def write_manifest(paths: list[Path], manifest: Path) -> Path:
    with manifest.open("w") as stream:
        for i, path in enumerate(paths):
            stream.write(json.dumps({"id": f"clip{i}", "path": str(path), "text": f"sentence {i}"}) + "\n")
    return manifest


def num_frames(dataset_dict: DatasetDict) -> int:
    """Total frames of a dataset, counted from the Arrow list lengths without decoding the keypoints."""
    return sum(
        pc.sum(pc.list_value_length(chunk.storage)).as_py() or 0
        for dataset in dataset_dict.values()
        for chunk in dataset.data.column("keypoints").chunks
    )


def measure_building(manifest: Path, cache_dir: Path, num_proc: int) -> tuple[float, int]:
    start = time.perf_counter()
    dataset_dict = build_pose_dataset(manifest, num_proc=num_proc, cache_dir=cache_dir)
    return time.perf_counter() - start, num_frames(dataset_dict)


def row(stage: str, clips: int, seconds: float, frames: int | None = None) -> str:
    frames_per_second = f"{frames / seconds:,.0f}" if frames is not None else "-"
    return f"| {stage} | {clips:,} | {seconds:.2f} | {clips / seconds:,.1f} | {frames_per_second} |"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-clips", type=int, default=1000, help="Clips per reading and building measurement.")
    parser.add_argument("--num-proc", type=int, nargs="+", default=[1, 2], help="Process counts for the build.")
    parser.add_argument("--synth-clips", type=int, default=10_000, help="SynthSign clips to generate.")
    args = parser.parse_args()
    disable_progress_bar()

    lines = ["| stage | clips | seconds | clips/s | frames/s |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources = {stage: FIXTURES / name for stage, name in FIXTURE_CLIPS.items()}
        sources[".pkl, Uni-Sign COCO-WholeBody-133"] = write_unisign_pickle(work / "unisign.pkl", num_frames=170)
        all_paths = []
        for i, (stage, source) in enumerate(sources.items()):
            paths = copies(source, work / f"kind{i}", args.num_clips)
            seconds, frames = measure_reading(paths)
            lines.append(row(f"read + canonicalise: {stage}", len(paths), seconds, frames))
            all_paths.extend(paths)

        # A manifest mixing the three kinds, as many clips as one reading measurement.
        mixed = write_manifest(all_paths[:: len(sources)][: args.num_clips], work / "mixed.jsonl")
        synthsign = write_synthsign(SynthSignConfig(num_clips=args.num_clips), work / "synthsign", format="pose")
        for name, manifest in (("real-file mix", mixed), ("SynthSign .pose", synthsign)):
            for num_proc in args.num_proc:
                seconds, frames = measure_building(manifest, work / f"cache-{name}-{num_proc}", num_proc)
                lines.append(row(f"build_pose_dataset ({name}), num_proc={num_proc}", args.num_clips, seconds, frames))

    if args.synth_clips:
        start = time.perf_counter()
        corpus = generate_synthsign(SynthSignConfig(num_clips=args.synth_clips))
        lines.append(row("generate_synthsign", args.synth_clips, time.perf_counter() - start, num_frames(corpus)))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
