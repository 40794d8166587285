"""Pose data: readers, skeleton layouts, the canonical four-part skeleton, normalisation, datasets and SynthSign."""

from .benchmarks import (
    csl_daily_manifest,
    how2sign_manifest,
    load_csl_daily,
    load_how2sign,
    load_openasl,
    openasl_manifest,
    parse_timestamp,
)
from .canonical import CANONICAL_LAYOUT, CANONICAL_PARTS, NUM_CANONICAL_JOINTS, PART_NAMES
from .collation import PoseBatch, PoseCollator, tokenize_targets
from .dataset import (
    BuildReport,
    PoseDatasetError,
    RowProblem,
    build_pose_dataset,
    canonical_arrays,
    dataset_features,
    read_manifest,
)
from .layouts import LAYOUTS, SkeletonLayout, detect_layout, get_layout, to_canonical
from .normalize import normalize_parts, sample_frame_indices, sample_frames
from .pose import PoseSequence
from .readers import PoseFileError, load_pose, save_pose, save_unisign_pickle
from .safe_pickle import UnsafePickleError, safe_load_pickle
from .synthetic import SynthSignConfig, SynthSignLexicon, build_lexicon, generate_synthsign, write_synthsign


__all__ = [
    "BuildReport",
    "PoseDatasetError",
    "RowProblem",
    "build_lexicon",
    "build_pose_dataset",
    "canonical_arrays",
    "csl_daily_manifest",
    "dataset_features",
    "how2sign_manifest",
    "load_csl_daily",
    "load_how2sign",
    "load_openasl",
    "openasl_manifest",
    "parse_timestamp",
    "read_manifest",
    "CANONICAL_LAYOUT",
    "CANONICAL_PARTS",
    "LAYOUTS",
    "NUM_CANONICAL_JOINTS",
    "PART_NAMES",
    "PoseBatch",
    "PoseCollator",
    "PoseFileError",
    "PoseSequence",
    "SkeletonLayout",
    "SynthSignConfig",
    "SynthSignLexicon",
    "UnsafePickleError",
    "detect_layout",
    "generate_synthsign",
    "get_layout",
    "load_pose",
    "normalize_parts",
    "safe_load_pickle",
    "sample_frame_indices",
    "sample_frames",
    "save_pose",
    "save_unisign_pickle",
    "to_canonical",
    "tokenize_targets",
    "write_synthsign",
]
