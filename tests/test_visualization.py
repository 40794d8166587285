"""Skeleton drawings are written as non-empty pictures, for canonical arrays and for real recordings."""

import numpy as np
import pytest

from signdpo_trl.data.readers import load_pose
from signdpo_trl.data.synthetic import SynthSignConfig, SynthSignGenerator
from signdpo_trl.visualization import plot_pose_comparison, plot_skeleton_frames, save_skeleton_gif


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _synthetic_pose():
    generator = SynthSignGenerator(SynthSignConfig(num_clips=3, validation_size=1, test_size=1, seed=0))
    return generator.pose_sequence(generator.clip(0))


def test_plot_skeleton_frames_writes_a_png(tmp_path):
    path = tmp_path / "frames.png"
    plot_skeleton_frames(_synthetic_pose(), frames=3, path=path, title="SynthSign")
    assert path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 5_000


def test_plot_skeleton_frames_draws_a_real_recording(tmp_path, fixtures_dir):
    path = tmp_path / "fixture.png"
    plot_skeleton_frames(load_pose(fixtures_dir / "mediapipe.pose"), frames=[0, 80], path=path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 5_000


def test_plot_skeleton_frames_skips_masked_points():
    keypoints = np.random.default_rng(0).uniform(size=(2, 69, 2))
    confidence = np.zeros((2, 69))
    confidence[:, :9] = 1.0
    figure = plot_skeleton_frames((keypoints, confidence), frames=[0])
    drawn = np.concatenate([c.get_offsets() for c in figure.axes[0].collections if len(c.get_offsets())])
    assert len(drawn) == 9


def test_plot_pose_comparison_writes_a_png(tmp_path):
    pose = _synthetic_pose().to_canonical()
    shifted = (pose.keypoints + 0.05, pose.confidence)
    path = tmp_path / "comparison.png"
    plot_pose_comparison(pose, shifted, frames=2, labels=("clean", "shifted"), path=path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 5_000


def test_save_skeleton_gif_writes_an_animation(tmp_path):
    pose = _synthetic_pose().select_frames(slice(0, 5))
    path = save_skeleton_gif(pose, tmp_path / "clip.gif", fps=10)
    assert open(path, "rb").read(6) in (b"GIF89a", b"GIF87a")


def test_save_skeleton_gif_plays_several_sequences_side_by_side(tmp_path):
    from PIL import Image

    pose = _synthetic_pose().to_canonical()
    clip = (pose.keypoints[:5], pose.confidence[:5])
    shorter = (pose.keypoints[:3] + 0.05, pose.confidence[:3])
    single = Image.open(save_skeleton_gif(clip, tmp_path / "one.gif", fps=10))
    panels = Image.open(save_skeleton_gif([clip, shorter], tmp_path / "two.gif", fps=10, labels=["clip", "shifted"]))
    assert panels.n_frames == 5  # the longer sequence's length; the shorter one holds its last frame
    assert panels.size[0] > single.size[0]
    with pytest.raises(ValueError, match="labels has 1 names for 2"):
        save_skeleton_gif([clip, shorter], tmp_path / "bad.gif", labels=["clip"])
