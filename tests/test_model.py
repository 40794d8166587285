import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import WITHOUT_SIGNDPO_TRL
from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM, T5Config, T5ForConditionalGeneration

from signdpo_trl.data import canonical
from signdpo_trl.models import SignTranslationConfig, SignTranslationModel


NUM_JOINTS = 69
VOCAB_SIZE = 40
PROMPT = [5, 6, 7]


def tiny_config(**overrides) -> SignTranslationConfig:
    text_config = T5Config(
        vocab_size=VOCAB_SIZE,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        dropout_rate=0.0,
        decoder_start_token_id=0,
    )
    fields = dict(
        text_config=text_config,
        pose_embed_dim=16,
        spatial_channels=[16, 24],
        temporal_channels=[24, 24],
        temporal_kernel_size=3,
        pose_dropout=0.0,
        prompt_token_ids=PROMPT,
    )
    fields.update(overrides)
    return SignTranslationConfig(**fields)


def tiny_model(**overrides) -> SignTranslationModel:
    torch.manual_seed(0)
    return SignTranslationModel(tiny_config(**overrides)).eval()


def batch(num_frames=(12, 7, 4), seed=0):
    generator = torch.Generator().manual_seed(seed)
    batch_size, max_frames = len(num_frames), max(num_frames)
    pose = torch.randn(batch_size, max_frames, NUM_JOINTS, 3, generator=generator)
    pose[..., 2] = pose[..., 2].sigmoid()
    pose_mask = torch.arange(max_frames)[None, :] < torch.tensor(num_frames)[:, None]
    labels = torch.randint(3, VOCAB_SIZE, (batch_size, 6), generator=generator)
    labels[1, 4:] = -100
    return pose, pose_mask, labels


def test_default_part_table_matches_canonical_layout():
    config = SignTranslationConfig()
    parts = list(canonical.CANONICAL_PARTS.values())
    assert config.part_names == [part.name for part in parts]
    assert config.part_sizes == [part.size for part in parts]
    assert config.part_edges == [[list(edge) for edge in part.edges] for part in parts]
    assert config.part_anchors == {
        "left_hand": canonical.BODY_LEFT_WRIST,
        "right_hand": canonical.BODY_RIGHT_WRIST,
        "face": canonical.BODY_NOSE,
    }


def test_config_rejects_hands_sharing_weights_with_different_graphs():
    with pytest.raises(ValueError, match="share an encoder"):
        tiny_config(shared_parts={"face": "left_hand"})


def test_forward_backward_gives_finite_loss_and_pose_encoder_gradients():
    model = tiny_model().train()
    pose, pose_mask, labels = batch()
    loss = model(pose=pose, pose_mask=pose_mask, labels=labels).loss
    loss.backward()
    assert torch.isfinite(loss)
    grads = {name: p.grad for name, p in model.pose_encoder.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert grads["part_encoders.left_hand.spatial_blocks.0.graph.adjacency"].abs().sum() > 0


@pytest.mark.parametrize("overrides", [{}, {"temporal_stride": 2}, {"per_part_tokens": True, "temporal_stride": 3}])
def test_padded_frames_do_not_change_logits(overrides):
    model = tiny_model(**overrides)
    pose, pose_mask, labels = batch()
    reference = model(pose=pose, pose_mask=pose_mask, labels=labels).logits
    altered = pose.clone()
    altered[~pose_mask] = torch.randn_like(altered[~pose_mask]) * 100
    altered[1, -1, 0, 0] = float("nan")
    logits = model(pose=altered, pose_mask=pose_mask, labels=labels).logits
    torch.testing.assert_close(logits, reference, rtol=0, atol=0)


def test_hands_share_one_encoder():
    model = tiny_model()
    encoder = model.pose_encoder
    assert encoder.encoder_of("left_hand") is encoder.encoder_of("right_hand")
    assert not any(".right_hand." in name for name in model.state_dict() if "input_norms" not in name)


def test_each_part_has_its_own_input_statistics_updated_only_in_training_from_observed_points():
    model = tiny_model()
    pose, pose_mask, _ = batch()
    norms = model.pose_encoder.input_norms
    assert set(norms) == {"body", "left_hand", "right_hand", "face"}
    model.eval()
    model.pose_encoder(pose, pose_mask)
    assert int(norms["body"].num_batches_tracked) == 0
    model.train()
    model.pose_encoder(pose, pose_mask)
    # Observed: a non-zero confidence on a real frame; a graded confidence does not weigh the statistics.
    coords, observed = pose[..., :-1], (pose[..., -1:] > 0) * pose_mask[:, :, None, None]
    body = slice(0, 9)
    count = observed[:, :, body].sum(dim=(0, 1))
    expected_mean = (coords[:, :, body] * observed[:, :, body]).sum(dim=(0, 1)) / count.clamp(min=1)
    seen = (count > 1).expand_as(expected_mean)
    torch.testing.assert_close(norms["body"].running_mean[seen], expected_mean[seen])
    norms["body"].freeze_statistics()
    before = norms["body"].running_mean.clone()
    model.pose_encoder(pose + 1, pose_mask)
    assert torch.equal(norms["body"].running_mean, before)


def test_pose_tokens_follow_prompt_with_one_token_per_step():
    model = tiny_model()
    pose, pose_mask, _ = batch()
    inputs_embeds, attention_mask = model.encode(pose, pose_mask)
    assert inputs_embeds.shape == (3, len(PROMPT) + 12, 32)
    assert attention_mask.tolist()[2] == [1] * (len(PROMPT) + 4) + [0] * 8


def test_per_part_tokens_give_one_token_per_part_per_step():
    model = tiny_model(per_part_tokens=True)
    pose, pose_mask, _ = batch()
    inputs_embeds, attention_mask = model.encode(pose, pose_mask)
    assert inputs_embeds.shape == (3, len(PROMPT) + 12 * 4, 32)
    assert attention_mask[2].sum() == len(PROMPT) + 4 * 4


def test_temporal_stride_downsamples_tokens_and_mask():
    model = tiny_model(temporal_stride=3)
    pose, pose_mask, _ = batch(num_frames=(11, 5, 1))
    inputs_embeds, attention_mask = model.encode(pose, pose_mask)
    assert inputs_embeds.shape[1] == len(PROMPT) + 4  # ceil(11 / 3)
    assert attention_mask[:, len(PROMPT) :].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]]


def test_beam_search_returns_token_ids_within_max_new_tokens():
    model = tiny_model()
    pose, pose_mask, _ = batch()
    sequences = model.generate(pose=pose, pose_mask=pose_mask, num_beams=4, num_return_sequences=2, max_new_tokens=5)
    assert sequences.dtype == torch.long
    assert sequences.shape[0] == 6 and 2 <= sequences.shape[1] <= 6
    assert (sequences[:, 0] == model.generation_config.decoder_start_token_id).all()


def test_beam_search_of_width_one_equals_greedy_search():
    model = tiny_model()
    pose, pose_mask, _ = batch()
    greedy = model.generate(pose=pose, pose_mask=pose_mask, max_new_tokens=5, do_sample=False)
    beam = model.generate(pose=pose, pose_mask=pose_mask, max_new_tokens=5, num_beams=1, do_sample=False)
    torch.testing.assert_close(beam, greedy)


def test_generation_stops_at_eos_and_pads_after_it():
    model = tiny_model()
    pose, pose_mask, _ = batch()
    first_token = model.generate(pose=pose[:1], pose_mask=pose_mask[:1], max_new_tokens=1)[0, 1].item()
    sequences = model.generate(pose=pose[:1], pose_mask=pose_mask[:1], max_new_tokens=5, eos_token_id=first_token)
    assert sequences.tolist() == [[0, first_token]]


def test_salience_is_a_distribution_over_valid_frames():
    model = tiny_model(temporal_stride=2)
    pose, pose_mask, labels = batch()
    salience = model.salience(pose, pose_mask, labels)
    assert salience.shape == pose_mask.shape
    assert (salience >= 0).all()
    torch.testing.assert_close(salience.sum(dim=1), torch.ones(3))
    assert (salience[~pose_mask] == 0).all()
    assert (salience[pose_mask] > 0).all()
    assert model.language_model.config._attn_implementation == "sdpa"


def test_salience_spreads_a_downsampled_token_equally_over_its_frames():
    model = tiny_model(temporal_stride=2)
    pose, pose_mask, labels = batch()
    salience = model.salience(pose, pose_mask, labels)
    torch.testing.assert_close(salience[0, 0::2], salience[0, 1::2])


def test_per_part_salience_covers_frames_and_parts():
    model = tiny_model(per_part_tokens=True, temporal_stride=2)
    pose, pose_mask, labels = batch()
    salience = model.salience(pose, pose_mask, labels)
    assert salience.shape == (3, 12, 4)
    torch.testing.assert_close(salience.sum(dim=(1, 2)), torch.ones(3))
    assert (salience[~pose_mask] == 0).all()


def test_cross_attentions_are_returned_over_prompt_and_pose_positions():
    model = tiny_model()
    pose, pose_mask, labels = batch()
    outputs = model(pose=pose, pose_mask=pose_mask, labels=labels, output_attentions=True)
    assert len(outputs.cross_attentions) == 2
    assert outputs.cross_attentions[0].shape == (3, 4, 6, len(PROMPT) + 12)


def test_gradient_checkpointing_trains():
    model = tiny_model().train()
    model.activation_checkpointing_enable()
    pose, pose_mask, labels = batch()
    model(pose=pose, pose_mask=pose_mask, labels=labels).loss.backward()
    assert model.pose_encoder.part_projection.weight.grad is not None


def test_save_and_load_give_identical_outputs(tmp_path, caplog):
    model = tiny_model(per_part_tokens=True, temporal_stride=2)
    pose, pose_mask, labels = batch()
    reference = model(pose=pose, pose_mask=pose_mask, labels=labels).logits
    model.save_pretrained(tmp_path)
    loaded = SignTranslationModel.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(loaded(pose=pose, pose_mask=pose_mask, labels=labels).logits, reference, rtol=0, atol=0)
    saved, original = loaded.config.to_dict(), model.config.to_dict()
    for config in (saved, original):
        config.pop("_name_or_path")
        config["text_config"].pop("dtype")
    assert saved == original
    assert "missing" not in caplog.text.lower() and "tied" not in caplog.text.lower()


def test_auto_classes_load_the_model_after_import(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), SignTranslationConfig)
    assert isinstance(AutoModel.from_pretrained(tmp_path), SignTranslationModel)
    assert isinstance(AutoModelForSeq2SeqLM.from_pretrained(tmp_path), SignTranslationModel)


def test_saved_directory_carries_its_modelling_code(tmp_path):
    tiny_model().save_pretrained(tmp_path)
    files = set(os.listdir(tmp_path))
    assert {"configuration_sign_translation.py", "modeling_sign_translation.py", "pose_encoder.py"} <= files
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert auto_map["AutoModelForSeq2SeqLM"] == "modeling_sign_translation.SignTranslationModel"
    assert auto_map["AutoModel"] == "modeling_sign_translation.SignTranslationModel"


def test_remote_code_loads_where_signdpo_trl_is_not_importable(tmp_path):
    checkpoint, workdir = tmp_path / "checkpoint", tmp_path / "work"
    workdir.mkdir()
    model = tiny_model(temporal_stride=2)
    pose, pose_mask, labels = batch()
    model.save_pretrained(checkpoint)
    torch.save({"pose": pose, "pose_mask": pose_mask, "labels": labels}, tmp_path / "inputs.pt")
    with torch.no_grad():  # as in the subprocess: SDPA picks other CPU kernels when gradients are off
        torch.save(model(pose=pose, pose_mask=pose_mask, labels=labels).logits, tmp_path / "expected.pt")
    script = WITHOUT_SIGNDPO_TRL + textwrap.dedent(
        f"""
        import importlib.util, sys
        import torch
        # Bit-exact logits need the parent's intra-op thread count: reductions split over threads round differently.
        torch.set_num_threads({torch.get_num_threads()})
        from transformers import AutoModelForSeq2SeqLM
        model = AutoModelForSeq2SeqLM.from_pretrained({str(checkpoint)!r}, trust_remote_code=True).eval()
        assert not type(model).__module__.startswith("signdpo_trl"), type(model).__module__
        inputs = torch.load({str(tmp_path / "inputs.pt")!r})
        with torch.no_grad():
            logits = model(**inputs).logits
        torch.testing.assert_close(logits, torch.load({str(tmp_path / "expected.pt")!r}), rtol=0, atol=0)
        model.generate(pose=inputs["pose"], pose_mask=inputs["pose_mask"], num_beams=2, max_new_tokens=3)
        print("remote code ok")
        """
    )
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"), HF_MODULES_CACHE=str(tmp_path / "modules"))
    result = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "remote code ok" in result.stdout


def test_from_text_pretrained_loads_the_language_model_weights(tmp_path):
    torch.manual_seed(0)
    language_model = T5ForConditionalGeneration(tiny_config().text_config)
    language_model.save_pretrained(tmp_path)
    model = SignTranslationModel.from_text_pretrained(str(tmp_path), spatial_channels=[16], temporal_channels=[16])
    for name, value in language_model.state_dict().items():
        torch.testing.assert_close(model.language_model.state_dict()[name], value)
    assert model.config.text_config.d_model == 32


def test_from_text_model_tokenizes_the_prompt_without_special_tokens():
    from signdpo_trl.models import build_tokenizer

    tokenizer = build_tokenizer(["Translate sign language to English:", "hello world"] * 10, vocab_size=300)
    config = SignTranslationConfig.from_text_model(
        tiny_config().text_config, prompt="Translate sign language to English:", tokenizer=tokenizer
    )
    expected = tokenizer("Translate sign language to English:", add_special_tokens=False).input_ids
    assert config.prompt_token_ids == expected
    assert tokenizer.eos_token_id not in config.prompt_token_ids
