import math

import pytest
import torch
from tiny import pose_dataset, tiny_model, tiny_tokenizer

from signdpo_trl.perturbations import PerturbedBatch, register_operator, registry
from signdpo_trl.trainer import SIGNDPO_LEVELS, SignDPOConfig, SignDPOTrainer


def config(**kwargs) -> SignDPOConfig:
    return SignDPOConfig(output_dir="unused", report_to=[], **kwargs)


def test_defaults_train_all_six_levels_with_weight_one():
    args = config()
    assert args.levels == list(SIGNDPO_LEVELS)
    assert args.level_weights == [1.0] * 6
    assert args.loss_type == ["sigmoid"]
    assert args.remove_unused_columns is False


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU default")
def test_bf16_defaults_off_on_cpu():
    assert config().bf16 is False


def test_activation_checkpointing_defaults_off():
    args = config()
    assert not args.gradient_checkpointing


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"precompute_ref_log_probs": True}, "Set precompute_ref_log_probs=False"),
        ({"padding_free": True}, "set it False"),
        ({"use_weighting": True}, "set use_weighting=False"),
        ({"ld_alpha": 0.5}, "ld_alpha"),
        ({"remove_unused_columns": True}, "set it to False"),
        ({"max_length": 512}, "max_length=512 is not used by SignDPO.*set max_target_length .* and max_frames"),
        ({"truncation_mode": "keep_end"}, "keeping their start; set truncation_mode='keep_start'"),
        ({"pad_to_multiple_of": 8}, "pad_to_multiple_of=8 is not used by SignDPO.*set pad_to_multiple_of=None"),
        ({"dataset_num_proc": 4}, "dataset_num_proc=4 is not used by SignDPO.*Set dataloader_num_workers"),
        ({"precompute_ref_batch_size": 64}, "precompute_ref_batch_size=64 is not used by SignDPO"),
        ({"router_aux_loss_coef": 0.01}, "router_aux_loss_coef=0.01 applies to Mixture-of-Experts"),
        ({"activation_offloading": True}, "set activation_checkpointing=True"),
        ({"pad_token": "<pad>"}, "set the tokenizer's pad_token and pass the tokenizer as processing_class"),
        ({"label_smoothing_factor": 0.1}, "label_smoothing_factor=0.1 is not used.*set nll_label_smoothing"),
        ({"label_smoothing": 0.1}, r"label_smoothing=0.1 would be ignored.*Add 'robust' to loss_type"),
    ],
)
def test_refuses_dpo_options_that_do_not_apply_and_says_what_to_set(kwargs, message):
    with pytest.raises(ValueError, match=message):
        config(**kwargs)


@pytest.mark.parametrize(
    "kwargs", [{"pad_to_multiple_of": None}, {"pad_to_multiple_of": "auto"}, {"truncation_mode": "keep_start"}]
)
def test_accepts_the_dpo_options_that_mean_what_signdpo_does(kwargs):
    config(**kwargs)


def test_max_length_defaults_to_unset():
    assert config().max_length is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"beta": math.nan}, "beta must be a positive finite number"),
        ({"beta": math.inf}, "beta must be a positive finite number"),
        ({"learning_rate": math.nan}, "learning_rate must be a non-negative finite number"),
        ({"levels": ["language"], "level_weights": [math.inf]}, "level_weights must hold one non-negative finite"),
        ({"levels": ["language"], "level_betas": [math.nan]}, "level_betas must hold one positive finite"),
        ({"levels": ["language"], "reference_margin_max": [math.nan]}, "reference_margin_max must hold one bound"),
        ({"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, math.nan]}, "loss_weights must be non-negative"),
        ({"chosen_anchor_weight": math.inf}, "chosen_anchor_weight must be a non-negative finite number"),
        ({"dpop_lambda": math.nan}, "dpop_lambda must be a non-negative finite number"),
        ({"band_outside_weight": math.nan}, "band_outside_weight must be a non-negative finite number"),
        ({"nll_label_smoothing": math.nan}, r"nll_label_smoothing must lie in \[0, 1\)"),
        ({"loss_type": ["robust"], "label_smoothing": math.nan}, r"needs label_smoothing in \[0, 0.5\)"),
        ({"spatial_local_strength": math.nan}, r"spatial_local_strength must lie in \[0, 1\]"),
        ({"attention_strength": math.inf}, r"attention_strength must lie in \[0, 1\]"),
        ({"confidence_threshold": math.nan}, r"confidence_threshold must lie in \[0, 1\)"),
        ({"ref_model_mixup_alpha": math.nan}, r"ref_model_mixup_alpha must lie in \[0, 1\]"),
    ],
)
def test_refuses_a_number_that_is_not_finite_and_names_its_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        config(**kwargs)


@pytest.mark.parametrize("top_k", [2.5, math.nan, True])
def test_refuses_an_attention_top_k_that_is_not_a_whole_number(top_k):
    with pytest.raises(ValueError, match="attention_top_k is a number of frames, a whole number"):
        config(attention_top_k=top_k)


def test_refuses_a_reference_margin_band_whose_lower_bound_exceeds_its_upper_bound():
    with pytest.raises(ValueError, match="band of level 'language' is empty: reference_margin_min 2.0 exceeds"):
        config(levels=["language"], reference_margin_min=[2.0], reference_margin_max=[1.0])


@pytest.mark.parametrize(
    "level", ["spatial_global", "spatial_local", "temporal_global", "temporal_local", "attention"]
)
def test_refuses_an_unknown_operator_naming_its_level_and_the_registered_ones(level):
    with pytest.raises(
        ValueError,
        match=rf"{level}_operators names \['hand_flip'\], which the '{level}' level cannot draw from; the registered "
        r"operators it accepts are \[.*'handshape_change'.*\]",
    ):
        config(levels=[level], **{f"{level}_operators": ["window_freeze", "hand_flip"]})


def test_refuses_the_attention_operator_at_a_level_built_without_the_model():
    with pytest.raises(ValueError, match=r"spatial_local_operators names \['attention_guided'\]"):
        config(levels=["spatial_local"], spatial_local_operators=["attention_guided"])


def test_refuses_at_the_attention_level_an_operator_it_cannot_apply_at_salient_frames():
    with pytest.raises(ValueError, match=r"attention_operators names \['sequence_reversal'\].*'salient_part'"):
        config(levels=["attention"], attention_operators=["sequence_reversal"])


@pytest.fixture
def user_operator(monkeypatch):
    """A spatial operator registered by the user, gone after the test."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_operator("hand_hold", level="spatial_local")
    def hand_hold(keypoints, mask, lengths, generator=None, strength=1.0):
        return PerturbedBatch(keypoints.clone(), mask.clone())

    return "hand_hold"


@pytest.mark.parametrize(
    "level", ["spatial_global", "spatial_local", "temporal_global", "temporal_local", "attention"]
)
def test_accepts_an_operator_the_user_registered_before_building_the_config(user_operator, level):
    assert getattr(config(levels=[level], **{f"{level}_operators": [user_operator]}), f"{level}_operators") == [
        user_operator
    ]


def test_the_trainer_refuses_an_unknown_operator_set_on_the_config_after_it_was_built(tmp_path):
    args = SignDPOConfig(output_dir=str(tmp_path), report_to=[], use_cpu=True, levels=["attention"])
    args.attention_operators = ["salient_hand"]
    with pytest.raises(ValueError, match=r"attention_operators names \['salient_hand'\].*building the SignDPOTrainer"):
        SignDPOTrainer(tiny_model(), args=args, train_dataset=pose_dataset(2), processing_class=tiny_tokenizer())


def test_refuses_an_unknown_level_and_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown SignDPO level 'gloss'; choose among \['spatial_global'"):
        config(levels=["spatial_global", "gloss"])


def test_attention_guided_is_another_name_of_the_attention_level():
    assert config(levels=["attention_guided", "language"]).levels == ["attention", "language"]


def test_refuses_an_empty_level_list():
    with pytest.raises(ValueError, match="non-empty subset"):
        config(levels=[])


def test_refuses_a_level_listed_twice():
    with pytest.raises(ValueError, match="twice"):
        config(levels=["language", "language"])


def test_refuses_level_weights_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"one non-negative finite value per level \(2 for"):
        config(levels=["language", "spatial_local"], level_weights=[1.0])


def test_refuses_a_negative_level_weight():
    with pytest.raises(ValueError, match="non-negative"):
        config(levels=["language"], level_weights=[-1.0])


@pytest.mark.parametrize("loss_type", ["exo_pair", "nca_pair", "bco_pair", "sppo_hard", "apo_zero"])
def test_refuses_unsupported_loss_types_and_lists_the_supported_ones(loss_type):
    with pytest.raises(ValueError, match=rf"\['{loss_type}'\] is not supported.*'sigmoid', 'ipo', 'hinge', 'robust'"):
        config(loss_type=[loss_type])


def test_refuses_sft_alone_and_suggests_adding_a_preference_loss():
    with pytest.raises(ValueError, match=r"\['sigmoid', 'sft'\]"):
        config(loss_type=["sft"])


def test_accepts_every_supported_loss_with_the_sft_anchor():
    args = config(loss_type=["sigmoid", "ipo", "hinge", "robust", "sft"], loss_weights=[1, 1, 1, 1, 0.5])
    assert args.loss_type == ["sigmoid", "ipo", "hinge", "robust", "sft"]


@pytest.mark.parametrize(
    "level", ["spatial_global", "spatial_local", "temporal_global", "temporal_local", "attention"]
)
@pytest.mark.parametrize("strength", [-0.1, 1.5])
def test_refuses_a_strength_outside_the_unit_interval(level, strength):
    with pytest.raises(ValueError, match=rf"{level}_strength must lie in \[0, 1\]"):
        config(**{f"{level}_strength": strength})


@pytest.mark.parametrize(
    "level", ["spatial_global", "spatial_local", "temporal_global", "temporal_local", "attention"]
)
def test_refuses_an_enabled_level_without_operators(level):
    with pytest.raises(ValueError, match=rf"{level}_operators is empty; name at least one operator"):
        config(levels=[level], **{f"{level}_operators": []})


def test_accepts_an_empty_operator_list_for_a_disabled_level():
    assert config(levels=["language"], spatial_local_operators=[]).spatial_local_operators == []


def test_refuses_an_unsupported_language():
    with pytest.raises(ValueError, match="'en' or 'zh'"):
        config(language="de")


def test_refuses_a_top_k_below_one():
    with pytest.raises(ValueError, match="attention_top_k"):
        config(attention_top_k=0)


@pytest.mark.parametrize("label_smoothing", [0.5, -0.1])
def test_refuses_the_robust_loss_with_label_smoothing_outside_its_range(label_smoothing):
    with pytest.raises(ValueError, match=r"label_smoothing in \[0, 0.5\)"):
        config(loss_type=["robust"], label_smoothing=label_smoothing)


def test_refuses_an_f_divergence_other_than_reverse_kl():
    with pytest.raises(ValueError, match="set f_divergence_type='reverse_kl'"):
        config(f_divergence_type="js_divergence")
