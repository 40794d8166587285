"""The people who sign SynthSign: body proportions, speed, place and size in the frame, handedness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Signer:
    """One signer.

    Args:
        name (`str`): Identifier stored in the dataset's `signer` column.
        left_handed (`bool`): Whether the dominant hand is the left one (the whole signing is mirrored).
        shoulder_width (`float`): Shoulder width as a fraction of the frame height (the signer's size in the frame).
        center (`tuple[float, float]`): Point between the shoulders, as fractions of the frame width and height.
        head_size (`float`), neck_length (`float`), arm_length (`float`), hand_size (`float`),
            finger_length (`float`), torso_length (`float`): Body proportions relative to the average signer.
        speed (`float`): Signing speed; durations are divided by it.
        amplitude (`float`): Size of movements relative to the average signer.
        head_motion (`float`): Amount of head movement that carries no meaning.
        noise (`float`): How noisy the pose estimator is on this signer's video (multiplies the jitter).
    """

    name: str
    left_handed: bool
    shoulder_width: float
    center: tuple[float, float]
    head_size: float
    neck_length: float
    arm_length: float
    hand_size: float
    finger_length: float
    torso_length: float
    speed: float
    amplitude: float
    head_motion: float
    noise: float


def sample_signers(num_signers: int, left_handed_rate: float, groups: list[int], seed: int) -> list[Signer]:
    """Draw the signers, handedness spread over the groups (train, validation, test) they are assigned to.

    Args:
        num_signers (`int`): How many.
        left_handed_rate (`float`): Fraction of left-handed signers; each group of two or more gets at least one
            when the rate is positive.
        groups (`list[int]`): Sizes of the consecutive signer groups (summing to `num_signers`).
        seed (`int`): Seed.
    """
    rng = np.random.default_rng([seed, 1])
    left = np.zeros(num_signers, dtype=bool)
    start = 0
    for size in groups:
        count = int(round(left_handed_rate * size))
        if left_handed_rate > 0 and size >= 2:
            count = max(count, 1)
        left[start + rng.choice(size, size=min(count, size), replace=False)] = True
        start += size
    u = rng.uniform(size=(num_signers, 13))
    return [
        Signer(
            name=f"signer{i:02d}",
            left_handed=bool(left[i]),
            shoulder_width=float(0.24 + 0.08 * u[i, 0]),
            center=(float(0.42 + 0.16 * u[i, 1]), float(0.46 + 0.08 * u[i, 2])),
            head_size=float(0.9 + 0.2 * u[i, 3]),
            neck_length=float(0.85 + 0.3 * u[i, 4]),
            arm_length=float(0.92 + 0.16 * u[i, 5]),
            hand_size=float(0.88 + 0.24 * u[i, 6]),
            finger_length=float(0.92 + 0.16 * u[i, 7]),
            torso_length=float(0.9 + 0.2 * u[i, 8]),
            speed=float(0.8 + 0.45 * u[i, 9]),
            amplitude=float(0.8 + 0.4 * u[i, 10]),
            head_motion=float(0.5 + 1.0 * u[i, 11]),
            noise=float(0.7 + 0.6 * u[i, 12]),
        )
        for i in range(num_signers)
    ]
