"""Batched perturbation operators that build the rejected poses of SignDPO's input-level preference pairs.

Importing this package registers the built-in operators:

| level | operators |
|---|---|
| `spatial_global` | `joint_permutation`, `hand_swap`, `skeleton_displacement` |
| `spatial_local` | `handshape_change`, `hand_relocation`, `face_freeze`, `face_drop` |
| `temporal_global` | `sequence_reversal`, `segment_shuffle` |
| `temporal_local` | `window_shuffle`, `window_drop`, `window_repeat`, `window_freeze` |
| `attention` (alias `attention_guided`) | `attention_guided` (needs the model's salience; runs in the training step) |
"""

from .attention import attention_guided_perturbation, salience_per_frame, salience_top_k
from .probe import ProbeReport, probe
from .registry import (
    IN_STEP_LEVELS,
    LEVEL_ALIASES,
    LEVELS,
    ConfiguredOperator,
    OperatorSpec,
    PerturbedBatch,
    build_operator,
    canonical_level,
    get_operator,
    get_operator_spec,
    list_operators,
    register_operator,
    valid_frames,
)
from .spatial import (
    body_size,
    face_drop,
    face_freeze,
    hand_relocation,
    hand_swap,
    handshape_change,
    joint_permutation,
    skeleton_displacement,
)
from .temporal import (
    drop_frames,
    freeze_frames,
    gather_frames,
    segment_shuffle,
    sequence_reversal,
    shuffle_frames,
    window_drop,
    window_freeze,
    window_repeat,
    window_shuffle,
)


__all__ = [
    "IN_STEP_LEVELS",
    "LEVEL_ALIASES",
    "LEVELS",
    "ConfiguredOperator",
    "OperatorSpec",
    "PerturbedBatch",
    "ProbeReport",
    "attention_guided_perturbation",
    "body_size",
    "build_operator",
    "canonical_level",
    "drop_frames",
    "face_drop",
    "face_freeze",
    "freeze_frames",
    "gather_frames",
    "get_operator",
    "get_operator_spec",
    "hand_relocation",
    "hand_swap",
    "handshape_change",
    "joint_permutation",
    "list_operators",
    "probe",
    "register_operator",
    "salience_per_frame",
    "salience_top_k",
    "segment_shuffle",
    "sequence_reversal",
    "shuffle_frames",
    "skeleton_displacement",
    "valid_frames",
    "window_drop",
    "window_freeze",
    "window_repeat",
    "window_shuffle",
]
