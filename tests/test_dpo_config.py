import pytest
import torch

from signdpo_trl.trainer import SIGNDPO_LEVELS, SignDPOConfig


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
    ],
)
def test_refuses_dpo_options_that_do_not_apply_and_says_what_to_set(kwargs, message):
    with pytest.raises(ValueError, match=message):
        config(**kwargs)


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
