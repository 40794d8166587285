"""Draw a SynthSign clip and a real pose recording as skeletons, to see that the synthetic signing looks like signing.

    python examples/render_skeletons.py outputs/skeletons
    python examples/render_skeletons.py outputs/skeletons --fixture path/to/recording.pose --no-gif

Writes `synthsign_<id>.png` (a few frames of one clip: one per sign), `synthsign_<id>_markers.png` (the same
sentence with no marker, under negation and as a question: only the head and face differ), `fixture_<name>.png`
and, unless `--no-gif`, a GIF of each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from signdpo_trl.data.readers import load_pose
from signdpo_trl.data.synthetic import SynthSignConfig, SynthSignGenerator
from signdpo_trl.visualization import plot_pose_comparison, plot_skeleton_frames, save_skeleton_gif


DEFAULT_FIXTURE = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "pose" / "mediapipe.pose"


def main(out_dir: Path, fixture: Path, clip_index: int, seed: int, gif: bool) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    config = SynthSignConfig(num_clips=max(clip_index + 1, 3), validation_size=1, test_size=1, seed=seed)
    generator = SynthSignGenerator(config)
    clip = generator.clip(clip_index)
    pose = generator.pose_sequence(clip)
    width, height = config.frame_size
    aspect = height / width  # keypoints are fractions of a width x height frame
    middles = [(start + end) // 2 for start, end in clip.rendered.sign_spans]
    title = f"{clip.sentence.text}  [{' '.join(clip.sentence.glosses)}]  {clip.signer.name}"
    written = [out_dir / f"synthsign_{clip.id}.png"]
    plot_skeleton_frames(pose, frames=[0] + middles, path=written[-1], title=title, aspect=aspect)

    plain, negated = (generator.pose_sequence(generator.clip(clip_index, marker=m)) for m in ("none", "negation"))
    written.append(out_dir / f"synthsign_{clip.id}_markers.png")
    plot_pose_comparison(
        plain,
        negated,
        frames=middles,
        labels=("no marker", "negation"),
        path=written[-1],
        title="The same signs with and without the head shake",
        aspect=aspect,
    )

    recording = load_pose(fixture)
    written.append(out_dir / f"fixture_{fixture.stem}.png")
    plot_skeleton_frames(recording, frames=6, path=written[-1], title=f"{fixture.name} ({recording.layout})")
    if gif:
        written.append(
            Path(save_skeleton_gif(pose, out_dir / f"synthsign_{clip.id}.gif", aspect=aspect, title=clip.id))
        )
        written.append(Path(save_skeleton_gif(recording, out_dir / f"fixture_{fixture.stem}.gif", title=fixture.stem)))
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="Folder for the pictures.")
    parser.add_argument("--fixture", type=Path, default=DEFAULT_FIXTURE, help="A real pose file to draw.")
    parser.add_argument("--clip", type=int, default=0, help="Index of the SynthSign clip to draw.")
    parser.add_argument("--seed", type=int, default=0, help="SynthSign seed.")
    parser.add_argument("--no-gif", dest="gif", action="store_false", help="Skip the GIFs.")
    arguments = parser.parse_args()
    for path in main(arguments.out_dir, arguments.fixture, arguments.clip, arguments.seed, arguments.gif):
        print(path)
