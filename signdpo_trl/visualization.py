"""Skeleton drawings: frames of a pose sequence side by side, two sequences overlaid, and animated GIFs.

Everything is drawn in the canonical four-part skeleton (a `PoseSequence` in another layout is canonicalised first),
one colour per part, with masked points (and the edges that touch them) left out. Image coordinates grow downwards,
so the y axis is inverted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib


matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .data.canonical import CANONICAL_PARTS, NUM_CANONICAL_JOINTS  # noqa: E402


PART_COLORS = {"body": "#4c72b0", "left_hand": "#dd8452", "right_hand": "#55a868", "face": "#c44e52"}
OVERLAY_COLORS = ("#333333", "#d62728")


def _as_arrays(pose, confidence_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Canonical `(T, 69, 2)` coordinates and a `(T, 69)` visibility mask from any accepted pose input."""
    if hasattr(pose, "to_canonical"):
        pose = pose.to_canonical()
        keypoints, confidence = pose.keypoints, pose.confidence
    elif isinstance(pose, dict):
        keypoints, confidence = pose["keypoints"], pose.get("confidence")
    elif isinstance(pose, (tuple, list)) and len(pose) == 2:
        keypoints, confidence = pose
    else:
        keypoints, confidence = pose, None
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.ndim == 2:
        keypoints = keypoints[None]
    if keypoints.ndim != 3 or keypoints.shape[1] != NUM_CANONICAL_JOINTS:
        raise ValueError(
            f"Expected canonical keypoints of shape (frames, {NUM_CANONICAL_JOINTS}, C) or a PoseSequence; got "
            f"shape {keypoints.shape}. Canonicalise other layouts with PoseSequence.to_canonical()."
        )
    if confidence is None:
        visible = np.ones(keypoints.shape[:2], dtype=bool)
    else:
        visible = np.asarray(confidence, dtype=np.float32).reshape(keypoints.shape[:2]) > confidence_threshold
    return keypoints[..., :2], visible & np.isfinite(keypoints[..., :2]).all(-1)


def _pick_frames(num_frames: int, frames: Sequence[int] | int | None) -> list[int]:
    if frames is None:
        frames = min(6, num_frames)
    if isinstance(frames, int):
        return [int(i) for i in np.linspace(0, num_frames - 1, frames).round()]
    frames = [int(i) for i in frames]
    bad = [i for i in frames if not -num_frames <= i < num_frames]
    if bad:
        raise ValueError(f"Frames {bad} are out of range for a sequence of {num_frames} frames.")
    return [i % num_frames for i in frames]


def _limits(keypoints: np.ndarray, visible: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    points = keypoints[visible]
    if len(points) == 0:
        return (0.0, 1.0), (0.0, 1.0)
    low, high = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
    margin = 0.08 * (high - low).max() + 1e-6
    return (low[0] - margin, high[0] + margin), (low[1] - margin, high[1] + margin)


def draw_skeleton(
    ax: plt.Axes,
    keypoints: np.ndarray,
    visible: np.ndarray,
    color: str | None = None,
    alpha: float = 1.0,
    label: str | None = None,
) -> None:
    """Draw one canonical frame on `ax`: edges and points of every part, masked points left out.

    Args:
        ax (`matplotlib.axes.Axes`): Where to draw.
        keypoints (`np.ndarray` of shape `(69, 2)`): Canonical points of one frame.
        visible (`np.ndarray` of shape `(69,)`): Which points to draw.
        color (`str`, *optional*): One colour for the whole skeleton; by default each part has its own.
        alpha (`float`, defaults to `1.0`): Opacity.
        label (`str`, *optional*): Legend label (attached to the first part drawn).
    """
    for part in CANONICAL_PARTS.values():
        part_color = color or PART_COLORS[part.name]
        points, shown = (
            keypoints[part.offset : part.offset + part.size],
            visible[part.offset : part.offset + part.size],
        )
        edges = np.array([(a, b) for a, b in part.edges if shown[a] and shown[b]]).reshape(-1, 2)
        if len(edges):
            segments = points[edges]  # (E, 2, 2)
            xs = np.concatenate([segments[:, :, 0], np.full((len(edges), 1), np.nan)], axis=1).ravel()
            ys = np.concatenate([segments[:, :, 1], np.full((len(edges), 1), np.nan)], axis=1).ravel()
            ax.plot(xs, ys, "-", color=part_color, lw=1.2, alpha=alpha, label=label)
            label = None
        size = 4 if part.name != "body" else 10
        ax.scatter(points[shown, 0], points[shown, 1], s=size, color=part_color, alpha=alpha, zorder=3, label=label)
        label = None


def _grid(num_panels: int, aspect: float, panel_size: float = 2.6) -> tuple[Figure, list[plt.Axes]]:
    figure, axes = plt.subplots(1, num_panels, figsize=(panel_size * num_panels, panel_size * 1.25), squeeze=False)
    for ax in axes[0]:
        ax.set_aspect(aspect)
        ax.set_xticks([])
        ax.set_yticks([])
    return figure, list(axes[0])


def _finish(figure: Figure, title: str | None, path: str | os.PathLike | None) -> Figure:
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        figure.savefig(path, dpi=110)
        plt.close(figure)
    return figure


def plot_skeleton_frames(
    pose,
    frames: Sequence[int] | int | None = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    *,
    confidence_threshold: float = 0.3,
    aspect: float = 1.0,
) -> Figure:
    """Draw a few frames of a pose sequence side by side.

    Args:
        pose: A `PoseSequence` (any layout; it is canonicalised), a dataset row (a dict with `keypoints` and
            `confidence`), a `(keypoints, confidence)` pair, or canonical keypoints `(T, 69, C)`.
        frames (`list[int]` or `int`, *optional*): Which frames, or how many evenly spaced ones (default 6).
        path (`str`, *optional*): Where to save the picture (PNG by suffix); the figure is closed after saving.
        title (`str`, *optional*): Figure title.
        confidence_threshold (`float`, defaults to `0.3`): Points at or below this confidence are not drawn.
        aspect (`float`, defaults to `1.0`): Displayed height of one y unit over one x unit; for coordinates that are
            fractions of a W x H frame, pass `H / W` to see true proportions.

    Returns:
        `matplotlib.figure.Figure`: The figure.
    """
    keypoints, visible = _as_arrays(pose, confidence_threshold)
    chosen = _pick_frames(len(keypoints), frames)
    xlim, ylim = _limits(keypoints[chosen], visible[chosen])
    figure, axes = _grid(len(chosen), aspect)
    for ax, frame in zip(axes, chosen):
        draw_skeleton(ax, keypoints[frame], visible[frame])
        ax.set_xlim(*xlim)
        ax.set_ylim(ylim[1], ylim[0])
        ax.set_title(f"frame {frame}", fontsize=9)
    return _finish(figure, title, path)


def plot_pose_comparison(
    original,
    perturbed,
    frames: Sequence[int] | int | None = None,
    labels: tuple[str, str] = ("original", "perturbed"),
    path: str | os.PathLike | None = None,
    title: str | None = None,
    *,
    confidence_threshold: float = 0.3,
    aspect: float = 1.0,
) -> Figure:
    """Overlay two pose sequences of the same length frame by frame (a clip and its perturbation, say).

    Args:
        original, perturbed: Pose inputs as accepted by `plot_skeleton_frames`.
        frames (`list[int]` or `int`, *optional*): Which frames, or how many evenly spaced ones (default 6).
        labels (`tuple[str, str]`): Legend labels of the two sequences.
        path, title, confidence_threshold, aspect: As in `plot_skeleton_frames`.

    Returns:
        `matplotlib.figure.Figure`: The figure.
    """
    first, first_visible = _as_arrays(original, confidence_threshold)
    second, second_visible = _as_arrays(perturbed, confidence_threshold)
    if len(first) != len(second):
        raise ValueError(f"Both sequences need the same number of frames; got {len(first)} and {len(second)}.")
    chosen = _pick_frames(len(first), frames)
    xlim, ylim = _limits(
        np.concatenate([first[chosen], second[chosen]]),
        np.concatenate([first_visible[chosen], second_visible[chosen]]),
    )
    figure, axes = _grid(len(chosen), aspect)
    for ax, frame in zip(axes, chosen):
        draw_skeleton(ax, first[frame], first_visible[frame], OVERLAY_COLORS[0], 0.8, labels[0])
        draw_skeleton(ax, second[frame], second_visible[frame], OVERLAY_COLORS[1], 0.8, labels[1])
        ax.set_xlim(*xlim)
        ax.set_ylim(ylim[1], ylim[0])
        ax.set_title(f"frame {frame}", fontsize=9)
    axes[0].legend(loc="lower left", fontsize=7)
    return _finish(figure, title, path)


def save_skeleton_gif(
    pose,
    path: str | os.PathLike,
    fps: float | None = None,
    *,
    confidence_threshold: float = 0.3,
    aspect: float = 1.0,
    title: str | None = None,
    labels: Sequence[str] | None = None,
) -> str:
    """Animate a pose sequence as a GIF (matplotlib's Pillow writer), or several side by side on shared axes (a clip
    and its perturbations, say).

    Args:
        pose: Pose input as accepted by `plot_skeleton_frames`, or a list of them (with `labels`): one panel each,
            played in step; a shorter sequence holds its last frame.
        path (`str`): Output `.gif` path.
        fps (`float`, *optional*): Frame rate; defaults to the (first) sequence's own, else 25.
        confidence_threshold, aspect, title: As in `plot_skeleton_frames`.
        labels (`list[str]`, *optional*): One panel title per sequence when `pose` is a list.

    Returns:
        `str`: The path written.
    """
    poses = list(pose) if labels is not None else [pose]
    if labels is not None and len(labels) != len(poses):
        raise ValueError(f"labels has {len(labels)} names for {len(poses)} pose sequences; give one per sequence.")
    fps = fps or getattr(poses[0], "fps", None) or 25.0
    arrays = [_as_arrays(one, confidence_threshold) for one in poses]
    xlim, ylim = _limits(
        np.concatenate([keypoints for keypoints, _ in arrays]), np.concatenate([visible for _, visible in arrays])
    )
    num_frames = max(len(keypoints) for keypoints, _ in arrays)
    figure, axes = _grid(len(arrays), aspect, panel_size=3.2 if len(arrays) == 1 else 2.4)
    if title and labels is not None:
        figure.suptitle(title, fontsize=9)

    def draw(frame: int):
        for ax, (keypoints, visible), label in zip(axes, arrays, labels or [title]):
            shown = min(frame, len(keypoints) - 1)
            ax.clear()
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlim(*xlim)
            ax.set_ylim(ylim[1], ylim[0])
            ax.set_aspect(aspect)
            ax.set_title(f"{label + ' - ' if label else ''}frame {shown}", fontsize=8)
            draw_skeleton(ax, keypoints[shown], visible[shown])
        return []

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    animation = FuncAnimation(figure, draw, frames=num_frames, blit=False)
    animation.save(str(path), writer=PillowWriter(fps=fps), dpi=80)
    plt.close(figure)
    return str(path)


def plot_salience(
    salience,
    part_names: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
) -> Figure:
    """Where the decoder looks: a clip's cross-attention salience over frames (and parts).

    Args:
        salience (array-like): `T` (frames) or `T x P` (frames x parts), as returned by
            `SignTranslationModel.salience` for one clip.
        part_names (`Sequence[str]`, *optional*): Names of the `P` parts; defaults to the canonical four.
        path (`str`, *optional*): Where to save the PNG; the figure is returned either way.
        title (`str`, *optional*): Figure title.
    """
    values = np.asarray(salience, dtype=np.float32)
    figure, ax = plt.subplots(figsize=(8, 2.2 if values.ndim == 1 else 2.8))
    if values.ndim == 1:
        ax.bar(np.arange(len(values)), values, width=1.0, color=PART_COLORS["body"])
        ax.set_ylabel("salience")
    else:
        names = list(part_names or CANONICAL_PARTS)
        image = ax.imshow(values.T, aspect="auto", cmap="magma", interpolation="nearest")
        ax.set_yticks(range(len(names)), names)
        figure.colorbar(image, ax=ax, label="salience")
    ax.set_xlabel("frame")
    return _finish(figure, title, path)


def plot_training_curves(
    log_history: Sequence[dict],
    keys: Sequence[str],
    path: str | os.PathLike | None = None,
    title: str | None = None,
) -> Figure:
    """Training curves from a Trainer's `state.log_history`, one panel per metric.

    Args:
        log_history (`Sequence[dict]`): The `trainer.state.log_history` (or `trainer_state.json`'s `log_history`).
        keys (`Sequence[str]`): Metrics to plot; a key ending in `*` plots every metric with that prefix in one panel
            (`"eval_bleu*"`), and `"rewards/*/margins"` every level's margin.
        path (`str`, *optional*): Where to save the PNG.
        title (`str`, *optional*): Figure title.
    """
    figure, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        names = sorted({name for entry in log_history for name in entry if _matches(name, key)})
        for name in names:
            points = [(entry["step"], entry[name]) for entry in log_history if name in entry and "step" in entry]
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, label=name, linewidth=1.4, marker="o" if len(points) <= 12 else None, ms=3)
        ax.set_xlabel("step")
        ax.set_title(key)
        if len(names) > 1:
            ax.legend(fontsize=6)
    return _finish(figure, title, path)


def _matches(name: str, key: str) -> bool:
    if "*" not in key:
        return name == key
    prefix, suffix = key.split("*", 1)
    return name.startswith(prefix) and name.endswith(suffix)
