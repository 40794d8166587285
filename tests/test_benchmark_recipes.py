"""Every shipped benchmark recipe and config runs end to end on CPU: parse, load the published label files, train,
evaluate, save; and without the data it names the missing file and says where to put it.

Small files of each benchmark's published shape are written by the tests (OpenASL TSV + real `.pose` recordings,
How2Sign realigned CSVs + per-sentence OpenPose JSON folders, CSL-Daily gzip pickles + Uni-Sign pose pickles); the
configs' mT5-base is replaced by a tiny T5 saved locally (`--text_model_name_or_path`), as a user would point it
at any local model.
"""

import gzip
import json
import pickle

import numpy as np
import pytest
from test_benchmarks_loaders import HOW2SIGN_HEADER, OPENASL_HEADER, write_openpose_folder
from test_recipes import run_recipe
from transformers import T5Config, T5ForConditionalGeneration

from signdpo_trl.data.pose import PoseSequence
from signdpo_trl.data.readers import save_unisign_pickle
from signdpo_trl.models import build_tokenizer, sync_text_config


BENCHMARKS = ("openasl", "how2sign", "csl_daily")
SPLITS = ("train", "validation", "test")
ENGLISH = ("he is my brother.", "where is the school?", "thank you very much.")
CHINESE = ("他是我哥哥。", "学校在哪里？", "非常感谢你。")
# Sizes small enough for a CPU step in well under a second; everything else comes from the shipped YAML.
SMALL_RUN = [
    "--max_steps", "2", "--per_device_train_batch_size", "2", "--per_device_eval_batch_size", "2",
    "--num_proc", "1", "--max_frames", "32", "--max_target_length", "16",
]  # fmt: skip


def write_tiny_text_model(folder, texts, language: str) -> None:
    """A two-layer T5 and a tokenizer trained on `texts`, saved where `--text_model_name_or_path` can load them."""
    tokenizer = build_tokenizer(list(texts) * 8, vocab_size=300, language=language)
    config = T5Config(d_model=32, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2)
    T5ForConditionalGeneration(sync_text_config(config, tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def write_openasl(root, fixtures_dir):
    """openasl-v1.0.tsv whose clips are cut (start/end) from real `.pose` recordings named by the YouTube id."""
    recordings = ("sgg_kleine", "sgg_kinder", "mediapipe", "sgg_kleine")
    spans = (("00:00:00.000", "00:00:01.500"), ("00:00:00.200", "00:00:01.600"), ("00:00:01.000", "00:00:03.000"))
    rows = [
        [f"{yid}-{start}-{end}", yid, start, end, text, text.lower(), "", split]
        for yid, (start, end), text, split in zip(
            recordings,
            (*spans, ("00:00:01.000", "00:00:02.500")),
            (*ENGLISH, ENGLISH[2]),
            ("train", "valid", "test", "train"),
        )
    ]
    labels = root / "openasl-v1.0.tsv"
    labels.write_text("\n".join("\t".join(row) for row in [OPENASL_HEADER, *rows]) + "\n", encoding="utf-8")
    return ["--labels_path", str(labels), "--pose_root", str(fixtures_dir), "--pose_pattern", "{yid}.pose"]


def write_how2sign(root):
    """how2sign_realigned_{train,val,test}.csv and one OpenPose JSON folder per sentence."""
    labels = root / "sentence_level"
    labels.mkdir()
    for index, (split, file_split) in enumerate(zip(SPLITS, ("train", "val", "test"))):
        names = [f"clip{index}{k}-1-rgb_front" for k in range(2 if split == "train" else 1)]
        rows = [
            [f"vid{index}", f"vid{index}-1-rgb_front", f"vid{index}_{k}", name, "1.0", "3.0", ENGLISH[index]]
            for k, name in enumerate(names)
        ]
        text = "\n".join("\t".join(row) for row in [HOW2SIGN_HEADER, *rows]) + "\n"
        (labels / f"how2sign_realigned_{file_split}.csv").write_text(text, encoding="utf-8")
        for k, name in enumerate(names):
            write_openpose_folder(root / "openpose" / name, num_frames=20, seed=10 * index + k)
    return ["--labels_path", str(labels), "--pose_root", str(root / "openpose")]


def write_csl_daily(root):
    """labels.{train,dev,test} (gzip pickles) and Uni-Sign's per-clip COCO-WholeBody pose pickles."""
    labels, poses = root / "labels", root / "pose_format"
    labels.mkdir()
    poses.mkdir()
    rng = np.random.default_rng(0)
    for index, file_name in enumerate(("labels.train", "labels.dev", "labels.test")):
        content = {}
        for k in range(2 if index == 0 else 1):
            name = f"S00000{index}_P000{k}_T00"
            content[name] = {"name": name, "gloss": ["他"], "text": CHINESE[index], "video_path": f"{name}.mp4"}
            clip = PoseSequence(rng.uniform(0.2, 0.8, (24, 133, 2)), np.ones((24, 133)), layout="coco_wholebody133")
            save_unisign_pickle(poses / f"{name}.pkl", clip)
        with gzip.open(labels / file_name, "wb") as stream:
            pickle.dump(content, stream)
    return ["--labels_path", str(labels), "--pose_root", str(poses)]


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_benchmark_sft_then_dpo_recipes_run_end_to_end_from_published_label_files(benchmark, tmp_path, fixtures_dir):
    if benchmark == "openasl":
        data = write_openasl(tmp_path, fixtures_dir)
    elif benchmark == "how2sign":
        data = write_how2sign(tmp_path)
    else:
        data = write_csl_daily(tmp_path)
    text_model = tmp_path / "tiny_t5"
    write_tiny_text_model(
        text_model, CHINESE if benchmark == "csl_daily" else ENGLISH, "zh" if benchmark == "csl_daily" else "en"
    )
    common = [*data, "--dataset_cache", str(tmp_path / "dataset"), *SMALL_RUN]
    sft, dpo = tmp_path / "sft", tmp_path / "dpo"

    run_recipe(f"sft_{benchmark}.py", *common, "--text_model_name_or_path", str(text_model), "--output_dir", str(sft))
    sft_metrics = json.loads((sft / "test_metrics.json").read_text())
    assert {"bleu4", "rouge_l", "chrf", "signature"} <= set(sft_metrics)
    assert ("tok:zh" if benchmark == "csl_daily" else "tok:13a") in sft_metrics["signature"]
    assert (tmp_path / "dataset" / "dataset_dict.json").is_file()

    run_recipe(f"dpo_{benchmark}.py", *common, "--model_name_or_path", str(sft), "--output_dir", str(dpo))
    dpo_metrics = json.loads((dpo / "test_metrics.json").read_text())
    assert "before_bleu4" in dpo_metrics["before"] and "after_bleu4" in dpo_metrics["after"]
    assert (dpo / "adapter_config.json").is_file()  # the configs train LoRA adapters on the language model
    assert "SignDPO" in (dpo / "README.md").read_text()


@pytest.mark.parametrize(
    "script", [f"{stage}_{benchmark}.py" for benchmark in BENCHMARKS for stage in ("sft", "dpo", "corrupter")]
)
def test_benchmark_recipe_without_the_data_names_the_missing_label_file_and_where_to_put_it(script, tmp_path):
    missing = tmp_path / "nowhere" / "labels"
    result = run_recipe(
        script, "--labels_path", str(missing), "--dataset_cache", str(tmp_path / "dataset"), check=False
    )
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("FileNotFoundError") and str(missing) in last_line and "--labels_path" in last_line
    assert "bf16" not in result.stderr  # the configs follow the hardware: a CPU machine gets to the data
