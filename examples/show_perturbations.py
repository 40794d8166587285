"""Draw what each perturbation operator does to a clip: the clean skeleton in grey, the rejected one in red.

    python examples/show_perturbations.py path/to/clip.pose --output perturbations.png

Any file `signdpo_trl.data.readers.load_pose` reads works (`.pose`, Uni-Sign `.pkl`, OpenPose JSON folder, ...).
Without a path, the shared test fixture `../shared/fixtures/pose/sgg_kinder.pose` is used when it is there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib


matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from signdpo_trl.data.canonical import canonical_edges  # noqa: E402
from signdpo_trl.data.readers import load_pose  # noqa: E402
from signdpo_trl.perturbations import build_operator  # noqa: E402


DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "pose" / "sgg_kinder.pose"
# One operator per row, with the strength it is drawn at.
OPERATORS = (
    ("hand_swap", 1.0),
    ("skeleton_displacement", 0.3),
    ("handshape_change", 1.0),
    ("hand_relocation", 1.0),
    ("face_freeze", 1.0),
    ("sequence_reversal", 1.0),
    ("window_freeze", 0.3),
)


def draw_skeleton(axis, keypoints: torch.Tensor, mask: torch.Tensor, color: str, width: float) -> None:
    for a, b in canonical_edges():
        if mask[a] and mask[b]:
            axis.plot(keypoints[[a, b], 0], keypoints[[a, b], 1], color=color, linewidth=width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", nargs="?", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--output", type=Path, default=Path("perturbations.png"))
    parser.add_argument("--frames", type=int, default=5, help="Frames drawn per operator, evenly spaced.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.clip.exists():
        parser.error(f"No clip at {args.clip}; pass the path of a pose file.")

    pose = load_pose(args.clip).to_canonical()
    keypoints = torch.from_numpy(pose.keypoints)[None]
    mask = torch.from_numpy(pose.confidence > 0.3)[None]
    lengths = torch.tensor([pose.num_frames])
    frames = torch.linspace(0, pose.num_frames - 1, args.frames).round().long().tolist()

    figure, axes = plt.subplots(
        len(OPERATORS), len(frames), figsize=(2.2 * len(frames), 2.4 * len(OPERATORS)), squeeze=False
    )
    for row, (name, strength) in enumerate(OPERATORS):
        operator = build_operator(name, strength=strength)
        rejected = operator(keypoints, mask, lengths, torch.Generator().manual_seed(args.seed))
        for column, frame in enumerate(frames):
            axis = axes[row, column]
            draw_skeleton(axis, keypoints[0, frame], mask[0, frame], color="0.75", width=2.5)
            draw_skeleton(axis, rejected.keypoints[0, frame], rejected.mask[0, frame], color="tab:red", width=1.0)
            axis.set_aspect("equal")
            axis.invert_yaxis()  # image coordinates: y grows downwards
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(f"frame {frame}", fontsize=9)
            if column == 0:
                axis.set_ylabel(f"{name}\n({operator.level}, s={strength})", fontsize=8)
    figure.tight_layout()
    figure.savefig(args.output, dpi=110)
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
