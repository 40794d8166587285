"""The perturbation-operator contract and the registry that names operators.

An operator builds the rejected pose of an input-level preference pair. It acts on a padded batch in *source*
space (canonical joints, before per-part normalisation; the collator normalises afterwards) and has the signature

    operator(keypoints, mask, lengths, generator=None, strength=1.0, **options) -> PerturbedBatch

with `keypoints` a float tensor `B x T x J x C`, `mask` a bool tensor `B x T x J` (point observed), `lengths` a
long tensor `B` (frames `>= lengths[b]` are padding), `generator` a `torch.Generator` that every random draw goes
through (same seed, same output) and `strength` in `[0, 1]`. An operator returns new tensors of the same shapes and
dtypes, never writes into its inputs, leaves padded frames exactly as they were and works on the whole batch at
once. Points an operator marks unobserved get coordinate 0.

An operator may also take `confidence=None`, the `B x T x J` detector confidences that the `"unisign"` input
convention feeds to the model: given them, it returns them in `PerturbedBatch.confidence`, moved with the points it
moves (a point taken from another frame or joint brings its confidence along). The built-in operators all do. An
operator without the parameter is still called with `ConfiguredOperator(..., confidence=...)`: each point then keeps
the confidence of the place it lands on, and 0 where the operator hides it.

A TRL user adds an operator without touching the trainer:

```python
from signdpo_trl.perturbations import PerturbedBatch, register_operator


@register_operator("hand_freeze", level="spatial_local")
def hand_freeze(keypoints, mask, lengths, generator=None, strength=1.0):
    ...
    return PerturbedBatch(new_keypoints, new_mask)
```

and names it in the configuration (`build_operator("hand_freeze", strength=0.5)`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch


# The perturbation levels: the pose side of SignDPO's preference levels (`signdpo_trl.trainer.levels` adds the
# language level and builds the table of levels from these names).
LEVELS = ("spatial_global", "spatial_local", "temporal_global", "temporal_local", "attention")
# Operators at this level need the reference model's salience, so they run inside the training step rather than in
# the collator.
IN_STEP_LEVELS = ("attention",)
# Other spellings of a level's name that configurations may use.
LEVEL_ALIASES = {"attention_guided": "attention"}


def canonical_level(level: str) -> str:
    """The level's name as `LEVELS` spells it (`"attention_guided"` is `"attention"`)."""
    return LEVEL_ALIASES.get(level, level)


class PerturbedBatch(NamedTuple):
    """The rejected pose: `keypoints` (`B x T x J x C`) and `mask` (`B x T x J`), shaped as the input; and the
    `confidence` (`B x T x J`) carried with the points, when the operator was given one."""

    keypoints: torch.Tensor
    mask: torch.Tensor
    confidence: torch.Tensor | None = None


@dataclass(frozen=True)
class OperatorSpec:
    """A registered operator.

    Args:
        name (`str`): The name configurations use.
        level (`str`): One of `LEVELS`.
        function (`Callable`): The operator itself.
        randomized (`bool`, defaults to `True`): Whether the output depends on the generator; `False` for
            operators that are a fixed function of the input (`hand_swap`, `sequence_reversal`).
    """

    name: str
    level: str
    function: Callable[..., PerturbedBatch]
    randomized: bool = True

    @property
    def requires_salience(self) -> bool:
        """Whether the operator takes the reference model's `salience` and so runs inside the training step."""
        return self.level in IN_STEP_LEVELS

    @functools.cached_property
    def carries_confidence(self) -> bool:
        """Whether the operator takes `confidence` and moves it with the points (see the module docstring)."""
        return "confidence" in inspect.signature(self.function).parameters

    @property
    def description(self) -> str:
        """The first paragraph of the operator's docstring."""
        return inspect.cleandoc(self.function.__doc__ or "").split("\n\n")[0].replace("\n", " ")


_REGISTRY: dict[str, OperatorSpec] = {}


def register_operator(
    name: str, level: str, *, randomized: bool = True, overwrite: bool = False
) -> Callable[[Callable[..., PerturbedBatch]], Callable[..., PerturbedBatch]]:
    """Decorator that registers a perturbation operator under `name`.

    Args:
        name (`str`): The name configurations use to ask for the operator.
        level (`str`): The preference level its rejected samples belong to, one of `LEVELS`.
        randomized (`bool`, defaults to `True`): Whether the output depends on the generator.
        overwrite (`bool`, defaults to `False`): Replace an operator already registered under `name`.

    Returns:
        The decorator; it returns the function unchanged.
    """
    level = canonical_level(level)
    if level not in LEVELS:
        raise ValueError(f"Unknown perturbation level {level!r}; use one of {', '.join(LEVELS)}.")

    def decorator(function: Callable[..., PerturbedBatch]) -> Callable[..., PerturbedBatch]:
        if name in _REGISTRY and not overwrite and _REGISTRY[name].function is not function:
            raise ValueError(
                f"A perturbation operator named {name!r} is already registered ({_REGISTRY[name].function}); "
                "pick another name or pass `overwrite=True` to replace it."
            )
        _REGISTRY[name] = OperatorSpec(name=name, level=level, function=function, randomized=randomized)
        return function

    return decorator


def get_operator_spec(name: str) -> OperatorSpec:
    """The `OperatorSpec` registered under `name`."""
    if name not in _REGISTRY:
        raise KeyError(
            f"No perturbation operator named {name!r}. Registered: {', '.join(sorted(_REGISTRY))}. "
            "Register your own with `@register_operator(name, level=...)`."
        )
    return _REGISTRY[name]


def get_operator(name: str) -> Callable[..., PerturbedBatch]:
    """The operator function registered under `name`."""
    return get_operator_spec(name).function


def list_operators(level: str | None = None) -> list[str]:
    """Names of the registered operators, in registration order, optionally only those of one `level`."""
    level = canonical_level(level) if level is not None else None
    if level is not None and level not in LEVELS:
        raise ValueError(f"Unknown perturbation level {level!r}; use one of {', '.join(LEVELS)}.")
    return [name for name, spec in _REGISTRY.items() if level is None or spec.level == level]


@dataclass(frozen=True)
class ConfiguredOperator:
    """A registered operator with options fixed from configuration; calling it calls the operator.

    Options given at call time override the configured ones.
    """

    spec: OperatorSpec
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def level(self) -> str:
        return self.spec.level

    @property
    def requires_salience(self) -> bool:
        return self.spec.requires_salience

    def __call__(
        self,
        keypoints: torch.Tensor,
        mask: torch.Tensor,
        lengths: torch.Tensor,
        generator: torch.Generator | None = None,
        confidence: torch.Tensor | None = None,
        **options: Any,
    ) -> PerturbedBatch:
        options = {**self.options, **options}
        if confidence is None:
            return self.spec.function(keypoints, mask, lengths, generator=generator, **options)
        if self.spec.carries_confidence:
            perturbed = self.spec.function(
                keypoints, mask, lengths, generator=generator, confidence=confidence, **options
            )
        else:
            perturbed = self.spec.function(keypoints, mask, lengths, generator=generator, **options)
        if perturbed.confidence is None:
            perturbed = perturbed._replace(confidence=torch.where(perturbed.mask, confidence, 0))
        return perturbed


def build_operator(name: str, **options: Any) -> ConfiguredOperator:
    """Build a registered operator from configuration, e.g. `build_operator("window_drop", strength=0.2)`.

    Args:
        name (`str`): A registered operator name.
        **options: Keyword arguments of the operator to fix (`strength`, `hand`, `parts`, ...).

    Returns:
        `ConfiguredOperator`: Callable as `op(keypoints, mask, lengths, generator)`.
    """
    spec = get_operator_spec(name)
    signature = inspect.signature(spec.function)
    accepts_anything = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    unknown = [key for key in options if key not in signature.parameters and not accepts_anything]
    if unknown:
        accepted = [
            p for p in signature.parameters if p not in ("keypoints", "mask", "lengths", "generator", "confidence")
        ]
        raise TypeError(
            f"Perturbation operator {name!r} has no option(s) {', '.join(unknown)}; it accepts {', '.join(accepted)}."
        )
    if "strength" in options:
        check_strength(options["strength"])
    return ConfiguredOperator(spec, dict(options))


# Helpers shared by the operator modules: validity of frames, random draws through the caller's generator and the
# padding guarantee.


def check_strength(strength: float) -> float:
    if not 0.0 <= float(strength) <= 1.0:
        raise ValueError(f"Perturbation strength must lie in [0, 1], got {strength}.")
    return float(strength)


def valid_frames(lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """`B x T` bool: frame `t` of sample `b` lies inside its length."""
    return torch.arange(num_frames, device=lengths.device) < lengths[:, None]


def uniform(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Uniform [0, 1) floats drawn through `generator` (on the generator's own device), moved to `device`."""
    generator_device = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(shape, generator=generator, device=generator_device).to(device)


def normal(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Standard normal floats drawn through `generator`, moved to `device`."""
    generator_device = generator.device if generator is not None else torch.device("cpu")
    return torch.randn(shape, generator=generator, device=generator_device).to(device)


def random_below(high: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One integer uniform in `[0, high[b])` per entry of the long tensor `high` (0 where `high <= 0`)."""
    draw = uniform(tuple(high.shape), generator, high.device)
    return (draw * high.clamp(min=1)).long().clamp(max=(high - 1).clamp(min=0))


def carried(confidence: torch.Tensor | None, move: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor | None:
    """`move(confidence)`, or `None` without confidences: an operator moves the confidences as it moves the mask."""
    return None if confidence is None else move(confidence)


def finish(
    keypoints: torch.Tensor,
    mask: torch.Tensor,
    new_keypoints: torch.Tensor,
    new_mask: torch.Tensor,
    lengths: torch.Tensor,
    confidence: torch.Tensor | None = None,
    new_confidence: torch.Tensor | None = None,
) -> PerturbedBatch:
    """Return the perturbed batch with the input's dtypes and its padded frames restored exactly (the confidences
    too, when the operator was given them)."""
    padding = ~valid_frames(lengths, keypoints.shape[1])
    padded = bool(padding.any())
    pairs = [(new_keypoints, keypoints), (new_mask, mask)]
    if confidence is not None:
        pairs.append((new_confidence, confidence))
    inputs = {tensor.untyped_storage().data_ptr() for _, tensor in pairs}
    outputs = []
    for new, old in pairs:
        # The operator's own tensor is returned as it is unless it has another dtype or shares an input's memory (an
        # input passed through, or a view of one): then a copy, so that the input is never written to or returned.
        if new.dtype != old.dtype or new.untyped_storage().data_ptr() in inputs:
            new = new.to(old.dtype, copy=True)
        if padded:
            # The input's padded frames written back: cheaper than a select over every frame.
            new[padding] = old[padding]
        outputs.append(new)
    return PerturbedBatch(*outputs)
