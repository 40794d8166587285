"""SynthSign: the bundled synthetic sign-language corpus.

Poses are generated as a pose estimator would report them (COCO-WholeBody-133 with scores, in frame fractions) and
go through the same canonicalisation as real data. The corpus is hard where SignDPO aims: minimal pairs of signs,
non-manual markers that change the translation, sign order unlike English, unseen signers at test time.

    from signdpo_trl.data.synthetic import SynthSignConfig, generate_synthsign

    corpus = generate_synthsign(SynthSignConfig(num_clips=2_000, seed=0))
"""

from .config import SynthSignConfig
from .corpus import (
    SynthSignClip,
    SynthSignGenerator,
    clip_probes,
    generate_synthsign,
    synthsign_features,
    write_synthsign,
)
from .grammar import MARKERS, PATTERNS, Sentence, SentenceSampler
from .handshapes import HANDSHAPES
from .lexicon import (
    HANDS,
    LOCATIONS,
    MOVEMENTS,
    ORIENTATIONS,
    PARAMETERS,
    SignEntry,
    SynthSignLexicon,
    build_lexicon,
    minimal_pair_words,
)
from .signers import Signer


__all__ = [
    "HANDS",
    "HANDSHAPES",
    "LOCATIONS",
    "MARKERS",
    "MOVEMENTS",
    "ORIENTATIONS",
    "PARAMETERS",
    "PATTERNS",
    "Sentence",
    "SentenceSampler",
    "SignEntry",
    "Signer",
    "SynthSignClip",
    "SynthSignConfig",
    "SynthSignGenerator",
    "SynthSignLexicon",
    "build_lexicon",
    "clip_probes",
    "generate_synthsign",
    "minimal_pair_words",
    "synthsign_features",
    "write_synthsign",
]
