"""Translate pose files with a trained model from Python (`signdpo translate` on the command line does the same).

    python examples/translate.py outputs/sft_synthsign clip.pose clip.pkl openpose_frames/

The model is a folder written by a recipe (`recipes/sft_synthsign.py`, `recipes/dpo_synthsign.py`, with or without
`--use_peft`) or a Hub id. Any file `load_pose` reads works: `.pose`, Uni-Sign `.pkl`, `.npz`, a folder of OpenPose
`*_keypoints.json` frames, or an `.npy` with `layout=` given to the `Translator`.
"""

from __future__ import annotations

import sys

from signdpo_trl import Translator


def main(model: str, files: list[str]) -> int:
    # max_frames: the value the model was trained with (the trainers' default is 256).
    translator = Translator.from_pretrained(model, max_frames=256)
    results = translator.translate_files(files, num_beams=4, max_new_tokens=64, batch_size=16)
    for result in results:
        if result.ok:
            print(f"{result.file}: {result.translation}")
        else:
            print(f"could not translate {result.error}", file=sys.stderr)
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
