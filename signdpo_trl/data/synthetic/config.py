"""Configuration of the SynthSign corpus."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SynthSignConfig:
    """What SynthSign generates. The same configuration (seed included) always gives the same corpus.

    Parameters that control the corpus size and splits:
        num_clips (`int`, defaults to `10_000`): Clips in all splits together.
        validation_size (`int` or `float`, defaults to `0.1`): Clips in `validation`; a float is a fraction of
            `num_clips`.
        test_size (`int` or `float`, defaults to `0.1`): Clips in `test`; a float is a fraction of `num_clips`.
        num_signers (`int`, defaults to `16`): Number of signers (at least 12 when the corpus is meant to be the
            spec's; at least 3 in any case, as every split needs its own).
        validation_signers (`int`, defaults to `3`): Signers seen only in `validation`.
        test_signers (`int`, defaults to `3`): Signers seen only in `test`; the rest sign in `train`.
        left_handed_rate (`float`, defaults to `0.25`): Fraction of left-handed signers (each split gets at least one
            when it has two signers or more).
        seed (`int`, defaults to `0`): Seed of everything: lexicon, signers, sentences, motion and noise.

    Parameters that control the language:
        lexicon_seed (`int`, *optional*): Seed of the lexicon alone; defaults to `seed`. Fix it to keep the same signs
            across corpora drawn with different seeds.
        minimal_pair_rate (`float`, defaults to `0.3`): Probability that a sign is built from another by changing one
            phonological parameter.
        min_signs (`int`, defaults to `3`), max_signs (`int`, defaults to `7`): Sentence length range in signs.
        negation_rate (`float`, defaults to `0.2`): Fraction of negated clauses (head shake).
        question_rate (`float`, defaults to `0.2`): Fraction of yes/no questions (raised brows, head forward).

    Parameters that control the motion:
        fps (`float`, defaults to `25.0`): Frame rate.
        min_sign_frames (`int`, defaults to `8`), max_sign_frames (`int`, defaults to `14`): Duration range of one
            sign at normal speed; each signer's speed scales it.
        transition_frames (`tuple[int, int]`, defaults to `(2, 4)`): Range of frames between two signs, during which
            hand position, orientation and shape blend from one sign into the next (coarticulation).
        frame_size (`tuple[int, int]`, defaults to `(1280, 720)`): Width and height of the virtual video in pixels;
            keypoints are stored as fractions of it, like RTMPose output in Uni-Sign's pickles.

    Parameters that control the noise:
        jitter (`float`, defaults to `0.006`): Standard deviation of keypoint jitter, in shoulder widths.
        motion_blur (`float`, defaults to `1.0`): Scale of the extra jitter and confidence loss of fast hands.
        occlusion (`bool`, defaults to `True`): Lower the confidence of face points covered by a hand.
        drop_rate (`float`, defaults to `0.02`): Base probability that a hand point is lost (low score, displaced);
            it grows with the hand's speed.
        missing_frame_rate (`float`, defaults to `0.01`): Probability that a frame has no detection at all.

    Parameters that control the output:
        keypoint_dtype (`str`, defaults to `"float16"`): Storage type of `keypoints` and `confidence` in the dataset.
    """

    num_clips: int = field(default=10_000, metadata={"help": "Clips in all splits together."})
    validation_size: float = field(default=0.1, metadata={"help": "Validation clips (int) or fraction (float)."})
    test_size: float = field(default=0.1, metadata={"help": "Test clips (int) or fraction (float)."})
    num_signers: int = field(default=16, metadata={"help": "Number of signers."})
    validation_signers: int = field(default=3, metadata={"help": "Signers seen only in validation."})
    test_signers: int = field(default=3, metadata={"help": "Signers seen only in test."})
    left_handed_rate: float = field(default=0.25, metadata={"help": "Fraction of left-handed signers."})
    seed: int = field(default=0, metadata={"help": "Seed of the whole corpus."})
    lexicon_seed: int | None = field(default=None, metadata={"help": "Seed of the lexicon; defaults to `seed`."})
    minimal_pair_rate: float = field(default=0.3, metadata={"help": "Rate of signs built as minimal pairs."})
    min_signs: int = field(default=3, metadata={"help": "Fewest signs in a sentence."})
    max_signs: int = field(default=7, metadata={"help": "Most signs in a sentence."})
    negation_rate: float = field(default=0.2, metadata={"help": "Fraction of negated clauses."})
    question_rate: float = field(default=0.2, metadata={"help": "Fraction of yes/no questions."})
    fps: float = field(default=25.0, metadata={"help": "Frame rate."})
    min_sign_frames: int = field(default=8, metadata={"help": "Shortest sign, in frames, at normal speed."})
    max_sign_frames: int = field(default=14, metadata={"help": "Longest sign, in frames, at normal speed."})
    transition_frames: tuple[int, int] = field(default=(2, 4), metadata={"help": "Frames between two signs."})
    frame_size: tuple[int, int] = field(default=(1280, 720), metadata={"help": "Video width and height (pixels)."})
    jitter: float = field(default=0.006, metadata={"help": "Keypoint jitter (shoulder widths)."})
    motion_blur: float = field(default=1.0, metadata={"help": "Scale of the noise of fast hands."})
    occlusion: bool = field(default=True, metadata={"help": "Hands occlude the face."})
    drop_rate: float = field(default=0.02, metadata={"help": "Base probability that a hand point is lost."})
    missing_frame_rate: float = field(default=0.01, metadata={"help": "Probability of a frame without detection."})
    keypoint_dtype: str = field(default="float16", metadata={"help": "float16 or float32."})

    def __post_init__(self):
        if self.lexicon_seed is None:
            self.lexicon_seed = self.seed
        self.transition_frames = tuple(self.transition_frames)
        self.frame_size = tuple(self.frame_size)
        if self.num_clips < 3:
            raise ValueError(f"num_clips must be at least 3 (one clip per split); got {self.num_clips}.")
        if self.validation_signers < 1 or self.test_signers < 1:
            raise ValueError("validation_signers and test_signers must be at least 1: every split needs its signers.")
        if self.num_signers - self.validation_signers - self.test_signers < 1:
            raise ValueError(
                f"num_signers ({self.num_signers}) must exceed validation_signers + test_signers "
                f"({self.validation_signers} + {self.test_signers}) so that train has signers of its own."
            )
        train, validation, test = self.split_sizes
        if min(train, validation, test) < 1:
            raise ValueError(
                f"Split sizes (train, validation, test) = {(train, validation, test)} from "
                f"num_clips={self.num_clips}, validation_size={self.validation_size}, test_size={self.test_size}: "
                "every split needs a clip."
            )
        if not 1 <= self.min_sign_frames <= self.max_sign_frames:
            raise ValueError(
                f"Need 1 <= min_sign_frames <= max_sign_frames; got {self.min_sign_frames}, {self.max_sign_frames}."
            )
        if not 0 <= self.transition_frames[0] <= self.transition_frames[1]:
            raise ValueError(
                f"transition_frames must be a range (low, high) of frames >= 0; got {self.transition_frames}."
            )
        for name in ("left_handed_rate", "drop_rate", "missing_frame_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; got {getattr(self, name)}.")
        if self.keypoint_dtype not in ("float16", "float32"):
            raise ValueError(f"keypoint_dtype must be 'float16' or 'float32'; got {self.keypoint_dtype!r}.")

    @property
    def split_sizes(self) -> tuple[int, int, int]:
        """Clips in (train, validation, test)."""

        def count(size: float) -> int:
            return int(round(size * self.num_clips)) if isinstance(size, float) else int(size)

        validation, test = count(self.validation_size), count(self.test_size)
        return self.num_clips - validation - test, validation, test
