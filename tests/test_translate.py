"""`signdpo translate` and `Translator`: pose files in, the model's translations out, read as training reads them."""

import json

import numpy as np
import pytest
import torch
from tiny import SENTENCES, pose_dataset, tiny_model, tiny_tokenizer

from signdpo_trl.cli import main
from signdpo_trl.data import PoseCollator, PoseSequence, build_pose_dataset, load_pose, save_unisign_pickle
from signdpo_trl.data.canonical import CANONICAL_FROM_COCO_WHOLEBODY
from signdpo_trl.data.collation import tokenize_targets
from signdpo_trl.data.dataset import canonical_arrays
from signdpo_trl.inference import Translator


# Real recordings, each fitted to its own sentence: an untrained model translates every clip to the same noise.
FITTED = {
    "sgg_kleine.pose": SENTENCES[0],
    "sgg_kinder.pose": SENTENCES[1],
    "openpose.pose": SENTENCES[2],
    "mediapipe.pose": SENTENCES[3],
}
# Fewer than any fixture has (45 to 170 frames), so that every clip is sub-sampled.
MAX_FRAMES = 32
# No --max-frames: the saved model records the frames it was trained on, as the trainers record them.
DECODING = ["--num-beams", "2", "--max-new-tokens", "24"]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, fixtures_dir):
    """A tiny model fitted to `FITTED` on the rows training sees (float16, sub-sampled), saved with its tokenizer."""
    tokenizer = tiny_tokenizer()
    model = tiny_model(dropout=0.0)
    collator = PoseCollator.for_model(model, max_frames=MAX_FRAMES)
    inputs = collator([canonical_arrays(load_pose(fixtures_dir / name)) for name in FITTED])
    labels = tokenize_targets(tokenizer, list(FITTED.values()), max_length=24)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(80):
        loss = model(**inputs, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = tmp_path_factory.mktemp("model")
    model.config.max_frames = MAX_FRAMES
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def clips(fixtures_dir):
    return [str(fixtures_dir / name) for name in FITTED]


def translate(argv, capsys) -> tuple[int, list[tuple[str, str]], str]:
    """Runs `signdpo translate`; returns the exit status, the (file, translation) lines of stdout and stderr."""
    try:
        status = main(["translate", *argv])
    except SystemExit as exit_info:
        status = exit_info.code
    captured = capsys.readouterr()
    return status, [tuple(line.split("\t")) for line in captured.out.splitlines()], captured.err


def test_each_file_gets_the_translation_generate_gives_on_its_training_row(saved_model, clips, tmp_path, capsys):
    # The rows build_pose_dataset stores for these files (canonical x, y in float16), collated as at evaluation.
    manifest = [{"id": str(i), "path": path, "text": "unused"} for i, path in enumerate(clips)]
    rows = build_pose_dataset(manifest, cache_dir=tmp_path / "cache")["train"].with_format("numpy")
    translator = Translator.from_pretrained(saved_model, device="cpu", max_frames=MAX_FRAMES)
    inputs = PoseCollator.for_model(translator.model, max_frames=MAX_FRAMES)(list(rows))
    generated = translator.model.generate(**inputs, num_beams=2, max_new_tokens=24)
    expected = [text.strip() for text in translator.tokenizer.batch_decode(generated, skip_special_tokens=True)]

    status, lines, _ = translate(["--model", str(saved_model), *clips, *DECODING], capsys)

    assert status == 0
    assert lines == list(zip(clips, expected))
    assert expected == list(FITTED.values())
    # The translator reads each file into the very row the dataset stores: float16 values, exactly.
    for path, row in zip(clips, rows):
        read = translator.read(path)
        assert read["keypoints"].dtype == np.float16
        np.testing.assert_array_equal(read["keypoints"], row["keypoints"])
        np.testing.assert_array_equal(read["confidence"], row["confidence"])


def test_translation_is_deterministic_and_independent_of_the_batch_size(saved_model, clips, capsys):
    runs = [
        translate(["--model", str(saved_model), *clips, *DECODING, "--batch-size", batch_size], capsys)
        for batch_size in ("3", "3", "1")
    ]
    assert all(status == 0 for status, _, _ in runs)
    assert runs[0][1] == runs[1][1] == runs[2][1]


def test_every_format_of_a_clip_translates_as_its_pose_file(saved_model, fixtures_dir, tmp_path, capsys):
    # The same recordings as OpenPose JSON frames, an .npy (x, y, z, confidence) and a Uni-Sign pickle.
    openpose = load_pose(fixtures_dir / "openpose.pose")
    frames = tmp_path / "openpose_frames"
    frames.mkdir()
    points = np.concatenate([openpose.keypoints, openpose.confidence[..., None]], axis=-1)
    parts = {"pose_keypoints_2d": (0, 25), "face_keypoints_2d": (25, 95)}
    parts.update(hand_left_keypoints_2d=(95, 116), hand_right_keypoints_2d=(116, 137))
    for t, frame in enumerate(points):
        person = {key: frame[start:end].ravel().tolist() for key, (start, end) in parts.items()}
        (frames / f"clip_{t:012d}_keypoints.json").write_text(json.dumps({"people": [person]}))

    kleine = load_pose(fixtures_dir / "sgg_kleine.pose")
    npy = tmp_path / "kleine.npy"
    np.save(npy, np.concatenate([kleine.keypoints, kleine.confidence[..., None]], axis=-1))

    kinder = load_pose(fixtures_dir / "sgg_kinder.pose").to_canonical()
    coco_keypoints = np.zeros((kinder.num_frames, 133, 2), dtype=np.float32)
    coco_confidence = np.zeros((kinder.num_frames, 133), dtype=np.float32)
    coco_keypoints[:, CANONICAL_FROM_COCO_WHOLEBODY] = kinder.keypoints[..., :2]
    coco_confidence[:, CANONICAL_FROM_COCO_WHOLEBODY] = kinder.confidence
    pickle_path = tmp_path / "kinder.pkl"
    save_unisign_pickle(pickle_path, PoseSequence(coco_keypoints, coco_confidence, layout="coco_wholebody133"))

    status, lines, _ = translate(
        ["--model", str(saved_model), str(frames), str(npy), str(pickle_path), "--layout", "holistic_reduced178"]
        + DECODING,
        capsys,
    )

    assert status == 0
    originals = ("openpose.pose", "sgg_kleine.pose", "sgg_kinder.pose")
    assert [text for _, text in lines] == [FITTED[name] for name in originals]


def test_a_corrupt_file_is_named_and_the_others_are_translated(saved_model, clips, tmp_path, capsys):
    corrupt = tmp_path / "corrupt.pose"
    corrupt.write_bytes(b"not a pose file")
    output = tmp_path / "translations.jsonl"
    files = [clips[0], str(corrupt), clips[2]]

    status, lines, err = translate(["--model", str(saved_model), *files, *DECODING, "--output", str(output)], capsys)

    assert status == 1
    assert lines == [(clips[0], FITTED["sgg_kleine.pose"]), (clips[2], FITTED["openpose.pose"])]
    assert f"signdpo translate: error: {corrupt}: not a readable .pose file" in err
    assert "1 of 3 files could not be translated" in err
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert rows[0] == {"file": clips[0], "translation": FITTED["sgg_kleine.pose"]}
    assert rows[1]["file"] == str(corrupt) and set(rows[1]) == {"file", "error"} and str(corrupt) in rows[1]["error"]
    assert rows[2] == {"file": clips[2], "translation": FITTED["openpose.pose"]}


def test_an_npy_file_without_a_layout_is_an_error_naming_it(saved_model, tmp_path):
    npy = tmp_path / "clip.npy"
    np.save(npy, np.ones((4, 137, 3), dtype=np.float32))
    translator = Translator.from_pretrained(saved_model, device="cpu")

    [result] = translator.translate_files([npy])

    assert not result.ok and result.translation is None
    assert str(npy) in result.error and "layout" in result.error


def test_an_existing_output_is_kept_without_overwrite(saved_model, clips, tmp_path, capsys):
    output = tmp_path / "translations.jsonl"
    output.write_text("kept\n")

    status, lines, err = translate(["--model", str(saved_model), clips[0], "--output", str(output)], capsys)

    assert status == 1 and lines == []
    assert "--overwrite" in err and output.read_text() == "kept\n"


def test_a_peft_adapter_folder_translates_with_its_adapter_merged(saved_model, clips, tmp_path):
    from peft import LoraConfig, PeftModel, get_peft_model

    from signdpo_trl.models import SignTranslationModel

    # As the recipes' --use_peft saves it: LoRA on the language model, the pose encoder saved whole, the tokenizer.
    config = LoraConfig(r=4, target_modules=r".*language_model.*\.(q|v)$", modules_to_save=["pose_encoder"])
    peft_model = get_peft_model(SignTranslationModel.from_pretrained(saved_model), config)
    torch.manual_seed(0)
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:  # zero at initialisation: the adapter would change nothing
            torch.nn.init.normal_(parameter, std=0.5)
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    tiny_tokenizer().save_pretrained(adapter)

    translator = Translator.from_pretrained(adapter, device="cpu", max_frames=MAX_FRAMES)
    rows = [translator.read(path) for path in clips]
    inputs = PoseCollator.for_model(translator.model, max_frames=MAX_FRAMES)(rows)
    reloaded = PeftModel.from_pretrained(SignTranslationModel.from_pretrained(saved_model), adapter).eval()
    generated = reloaded.generate(**inputs, num_beams=2, max_new_tokens=24)
    expected = [text.strip() for text in translator.tokenizer.batch_decode(generated, skip_special_tokens=True)]

    assert not isinstance(translator.model, PeftModel)
    assert translator.translate(rows, num_beams=2, max_new_tokens=24) == expected
    assert expected != list(FITTED.values())


def test_the_trainers_record_the_frames_a_model_reads_and_the_translator_samples_to_them(saved_model, tmp_path):
    from signdpo_trl import SignDPOConfig, SignDPOTrainer, SignSFTConfig, SignSFTTrainer

    assert Translator.from_pretrained(saved_model, device="cpu").collator.max_frames == MAX_FRAMES
    assert Translator.from_pretrained(saved_model, device="cpu", max_frames=20).collator.max_frames == 20
    unrecorded = tiny_model()
    assert unrecorded.config.max_frames is None
    assert Translator(unrecorded, tiny_tokenizer()).collator.max_frames == PoseCollator.max_frames

    model = tiny_model()
    common = dict(output_dir=str(tmp_path), report_to="none", use_cpu=True)
    SignSFTTrainer(model=model, args=SignSFTConfig(max_frames=40, **common), processing_class=tiny_tokenizer())
    assert model.config.max_frames == 40
    SignDPOTrainer(
        model=model, args=SignDPOConfig(max_frames=24, **common), processing_class=tiny_tokenizer(),
        train_dataset=pose_dataset(4),
    )  # fmt: skip
    assert model.config.max_frames == 24
    model.save_pretrained(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "config.json").read_text())["max_frames"] == 24
