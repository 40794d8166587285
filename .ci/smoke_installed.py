"""Smoke test of an installed (non-editable) signdpo-trl: one SignDPO step, save, reload, translate a real `.pose`.

Run by `make wheel-smoke` from a directory outside the checkout, with the wheel installed in a fresh virtual
environment, so that every file the package opens at run time (templates, metric module) must come from the wheel.

    python .ci/smoke_installed.py ../shared/fixtures/pose/sgg_kleine.pose OUTPUT_DIR
"""

import os
import sys
from pathlib import Path

import torch
from transformers import T5Config

import signdpo_trl
from signdpo_trl import SignDPOConfig, SignDPOTrainer, SignTranslationConfig, SignTranslationModel, Translator
from signdpo_trl.data import SynthSignConfig, generate_synthsign
from signdpo_trl.models import build_tokenizer, sync_text_config


def main(pose_file: str, output_dir: str) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "site-packages" not in signdpo_trl.__file__:
        raise SystemExit(f"signdpo_trl was imported from {signdpo_trl.__file__}, not from an installed wheel.")
    corpus = generate_synthsign(SynthSignConfig(num_clips=40))
    tokenizer = build_tokenizer(corpus["train"]["text"], vocab_size=300, language="en")
    text_config = sync_text_config(
        T5Config(d_model=32, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2), tokenizer
    )
    torch.manual_seed(0)
    model = SignTranslationModel(
        SignTranslationConfig(text_config=text_config, pose_embed_dim=8, spatial_channels=[8], temporal_channels=[16])
    )
    args = SignDPOConfig(
        output_dir=output_dir, max_steps=1, per_device_train_batch_size=2, report_to="none", max_frames=32,
        max_target_length=16, use_cpu=True, save_strategy="no",
    )  # fmt: skip
    trainer = SignDPOTrainer(model=model, args=args, train_dataset=corpus["train"], processing_class=tokenizer)
    trainer.train()
    trainer.save_model(output_dir)
    tokenizer.save_pretrained(output_dir)
    card = (Path(output_dir) / "README.md").read_text()
    assert "SignDPO" in card, "the model card was not written"

    # `signdpo translate`'s path: reload the saved folder, read the file as training data is read, decode.
    (result,) = Translator.from_pretrained(output_dir, device="cpu").translate_files(
        [pose_file], num_beams=2, max_new_tokens=8
    )
    assert result.ok, result.error
    print("translation of", Path(pose_file).name, "->", repr(result.translation))


if __name__ == "__main__":
    main(*sys.argv[1:3])
