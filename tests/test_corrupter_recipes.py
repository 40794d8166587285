"""The learned corrupter as users run it: the `corrupter_*.py` recipes, `--rejected_texts_path` feeding SignDPO its
samples, and `signdpo corrupter mine|train|generate`."""

import json

import pytest
import torch
from datasets import Dataset, DatasetDict, load_from_disk
from test_recipes import TINY_CORPUS, TINY_MODEL, run_recipe
from tiny import pose_dataset, tiny_model, tiny_tokenizer

from signdpo_trl.cli import main
from signdpo_trl.corrupter import ERROR_KINDS
from signdpo_trl.script_utils import SignDataArguments, load_splits


# A few steps of everything, on the tiny corpus and model of test_recipes.py.
TINY_CORRUPTER = [
    "--max_steps", "2", "--per_device_train_batch_size", "4", "--mining_num_beams", "2",
    "--mining_num_candidates", "2", "--num_candidates", "2", "--max_new_tokens", "8", "--max_length", "16",
    "--lora_r", "4", "--lora_alpha", "8", "--disable_tqdm", "true",
]  # fmt: skip


def run_failing(argv: list[str], capsys) -> tuple[int, str]:
    """Runs the command line expecting it to fail; returns the exit status and stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def corrupter_run(tmp_path_factory):
    """The tiny SFT recipe, then the SynthSign corrupter recipe from its model: `(root, corpus, sft, corrupter)`."""
    root = tmp_path_factory.mktemp("corrupter_recipe")
    corpus, sft, corrupter = root / "synthsign", root / "sft", root / "corrupter"
    run_recipe(
        "sft_synthsign.py", *TINY_CORPUS, *TINY_MODEL, "--synthsign_cache", str(corpus), "--output_dir", str(sft),
        "--max_steps", "2", "--per_device_train_batch_size", "4", "--eval_strategy", "no", "--save_strategy", "no",
        "--load_best_model_at_end", "false", "--max_target_length", "8",
    )  # fmt: skip
    result = run_recipe(
        "corrupter_synthsign.py", *TINY_CORPUS, "--synthsign_cache", str(corpus), "--model_name_or_path", str(sft),
        "--output_dir", str(corrupter), *TINY_CORRUPTER,
    )  # fmt: skip
    return root, corpus, sft, corrupter, result.stdout


# The recipe


def test_synthsign_corrupter_recipe_saves_the_adapter_and_card_on_the_mle_language_model(corrupter_run):
    _, _, sft, corrupter, _ = corrupter_run

    adapter_config = json.loads((corrupter / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == str(sft)
    assert adapter_config["r"] == 4
    assert "library_name: peft" in (corrupter / "README.md").read_text()


def test_synthsign_corrupter_recipe_reports_the_mix_the_error_kinds_and_the_samples(corrupter_run):
    _, corpus, _, corrupter, stdout = corrupter_run
    report = json.loads((corrupter / "corrupter_report.json").read_text())
    num_train = len(load_from_disk(str(corpus))["train"])

    assert report["mining"]["num_rows"] == report["pairs"]["num_rows"] == report["generation"]["num_rows"] == num_train
    pairs = report["pairs"]
    assert pairs["num_pairs"] == pairs["num_mined"] + pairs["num_rules"] > 0
    assert list(report["error_kinds_of_mined_pairs"]) == list(ERROR_KINDS)
    assert sum(report["error_kinds_of_mined_pairs"].values()) == pairs["num_mined"]
    assert report["generation"]["num_sampled"] == 2 * report["generation"]["num_references"]
    assert "Corrupter pairs:" in stdout and "Error kinds of the mined pairs:" in stdout


def test_synthsign_corrupter_recipe_writes_the_training_references_and_their_rejected_texts(corrupter_run):
    _, corpus, _, corrupter, _ = corrupter_run
    rejected = load_from_disk(str(corrupter / "rejected_texts"))

    assert rejected.column_names == ["text", "rejected_texts"]
    assert rejected["text"] == load_from_disk(str(corpus))["train"]["text"]
    assert (corrupter / "mined" / "mining_config.json").is_file()
    assert (corrupter / "rejected_cache" / "corrupter_generation.json").is_file()


def test_dpo_recipe_trains_with_the_corrupter_samples_from_rejected_texts_path(corrupter_run):
    root, corpus, sft, corrupter, _ = corrupter_run
    dpo = root / "dpo"
    run_recipe(
        "dpo_synthsign.py", *TINY_CORPUS, "--synthsign_cache", str(corpus), "--model_name_or_path", str(sft),
        "--output_dir", str(dpo), "--max_steps", "2", "--per_device_train_batch_size", "2", "--eval_strategy", "no",
        "--max_target_length", "8", "--rejected_texts_path", str(corrupter / "rejected_texts"),
    )  # fmt: skip
    state = json.loads((dpo / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    assert "after_bleu4" in json.loads((dpo / "test_metrics.json").read_text())["after"]


# rejected_texts_path


@pytest.fixture(scope="module")
def saved_corpus(tmp_path_factory):
    """A DatasetDict of tiny pose clips (train 8, validation 2, test 2), saved with save_to_disk."""
    path = tmp_path_factory.mktemp("corpus")
    DatasetDict(
        {"train": pose_dataset(8, seed=0), "validation": pose_dataset(2, seed=1), "test": pose_dataset(2, seed=2)}
    ).save_to_disk(path)
    return path


def save_rejected(path, texts, rejected) -> str:
    Dataset.from_dict({"text": texts, "rejected_texts": rejected}).save_to_disk(path)
    return str(path)


def test_rejected_texts_path_attaches_the_samples_to_the_training_split(saved_corpus, tmp_path):
    train = load_from_disk(str(saved_corpus))["train"]
    rejected = [[f"wrong {row}"] for row in range(len(train))]
    path = save_rejected(tmp_path / "rejected", list(train["text"]), rejected)

    data_args = SignDataArguments(dataset_path=str(saved_corpus), rejected_texts_path=path)
    train_split, eval_split, _ = load_splits(data_args)

    assert train_split["rejected_texts"] == rejected
    assert train_split["keypoints"][0] == train["keypoints"][0]
    assert "rejected_texts" not in eval_split.column_names


def test_rejected_texts_path_for_other_references_is_refused_naming_the_row_and_both_texts(saved_corpus, tmp_path):
    texts = list(load_from_disk(str(saved_corpus))["train"]["text"])
    expected = texts[3]
    texts[3] = "the cat sees the dog"
    path = save_rejected(tmp_path / "rejected", texts, [[]] * len(texts))

    with pytest.raises(ValueError, match="at row 3") as error:
        load_splits(SignDataArguments(dataset_path=str(saved_corpus), rejected_texts_path=path))
    assert repr(expected) in str(error.value) and "'the cat sees the dog'" in str(error.value)


def test_rejected_texts_path_with_another_number_of_rows_is_refused(saved_corpus, tmp_path):
    path = save_rejected(tmp_path / "rejected", ["the dog sees the cat"], [["the cat sees the dog"]])

    with pytest.raises(ValueError, match="has 1 rows and the training split 8"):
        load_splits(SignDataArguments(dataset_path=str(saved_corpus), rejected_texts_path=path))


def test_missing_rejected_texts_path_is_named_with_the_recipe_that_writes_it(saved_corpus, tmp_path):
    missing = tmp_path / "no_rejected_texts"

    with pytest.raises(FileNotFoundError, match="does not exist") as error:
        load_splits(SignDataArguments(dataset_path=str(saved_corpus), rejected_texts_path=str(missing)))
    assert str(missing) in str(error.value) and "recipes/corrupter_synthsign.py" in str(error.value)


# signdpo corrupter mine | train | generate


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A tiny SignTranslationModel and its tokenizer, saved with save_pretrained: the MLE model of the CLI tests."""
    path = tmp_path_factory.mktemp("mle")
    tiny_model(seed=0, dropout=0.0).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def mined_dir(saved_model, saved_corpus, tmp_path_factory):
    output = tmp_path_factory.mktemp("cli") / "mined"
    argv = ["corrupter", "mine", "--model", str(saved_model), "--dataset", str(saved_corpus), "--output", str(output)]
    small = ["--num-beams", "2", "--num-candidates", "2", "--max-new-tokens", "6", "--max-frames", "16"]
    assert main([*argv, *small]) == 0
    return output


@pytest.fixture(scope="module")
def cli_corrupter_dir(mined_dir, saved_model):
    output = mined_dir.parent / "corrupter"
    argv = ["corrupter", "train", "--mined", str(mined_dir), "--base", str(saved_model), "--output", str(output)]
    assert main([*argv, "--max-steps", "2", "--batch-size", "4", "--lora-r", "4", "--lora-alpha", "8"]) == 0
    return output


def test_corrupter_mine_writes_the_references_and_their_mined_errors(mined_dir, saved_corpus):
    mined = load_from_disk(str(mined_dir))

    assert mined.column_names == ["text", "rejected_texts"]
    assert mined["text"] == load_from_disk(str(saved_corpus))["train"]["text"]
    assert all(len(errors) <= 2 for errors in mined["rejected_texts"])


def test_corrupter_train_saves_an_adapter_and_card_on_the_base(cli_corrupter_dir, saved_model):
    adapter_config = json.loads((cli_corrupter_dir / "adapter_config.json").read_text())

    assert adapter_config["base_model_name_or_path"] == str(saved_model)
    assert "corrupter" in (cli_corrupter_dir / "README.md").read_text()


def test_corrupter_generate_writes_what_rejected_texts_path_reads(cli_corrupter_dir, saved_corpus, tmp_path, capsys):
    output = tmp_path / "rejected"
    argv = ["corrupter", "generate", "--corrupter", str(cli_corrupter_dir), "--dataset", str(saved_corpus)]
    assert main([*argv, "--output", str(output), "--num-candidates", "2", "--max-new-tokens", "6"]) == 0

    assert "sampled wrong translations" in capsys.readouterr().out
    train, _, _ = load_splits(SignDataArguments(dataset_path=str(saved_corpus), rejected_texts_path=str(output)))
    assert train["rejected_texts"] == load_from_disk(str(output))["rejected_texts"]


def test_corrupter_mine_names_a_missing_model_folder(saved_corpus, tmp_path, capsys):
    missing = tmp_path / "no_model"
    argv = ["corrupter", "mine", "--model", str(missing), "--dataset", str(saved_corpus), "--output", str(tmp_path)]
    code, err = run_failing(argv, capsys)

    assert code == 1
    assert err.strip() == f"signdpo corrupter mine: error: --model {missing}: no such directory."


def test_corrupter_train_refuses_a_dataset_without_rejected_texts(saved_corpus, saved_model, tmp_path, capsys):
    plain = tmp_path / "plain"
    Dataset.from_dict({"text": ["the dog sees the cat"]}).save_to_disk(plain)
    argv = ["corrupter", "train", "--mined", str(plain), "--base", str(saved_model), "--output", str(tmp_path / "c")]
    code, err = run_failing(argv, capsys)

    assert code == 1
    assert f"--mined {plain}: no rejected_texts column" in err and "signdpo corrupter mine" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="QLoRA runs for real on a CUDA machine")
def test_corrupter_train_in_4bit_without_cuda_is_a_one_line_error(mined_dir, saved_model, tmp_path, capsys):
    argv = ["corrupter", "train", "--mined", str(mined_dir), "--base", str(saved_model), "--output", str(tmp_path)]
    code, err = run_failing([*argv, "--load-in-4bit"], capsys)

    assert code == 1
    assert err.startswith("signdpo corrupter train: error: load_in_4bit=True asks for QLoRA")
    assert len(err.strip().splitlines()) == 1 and "allow_full_precision_fallback" in err


def test_corrupter_generate_names_a_missing_corrupter_folder(saved_corpus, tmp_path, capsys):
    missing = tmp_path / "no_corrupter"
    argv = ["corrupter", "generate", "--corrupter", str(missing), "--dataset", str(saved_corpus)]
    code, err = run_failing([*argv, "--output", str(tmp_path / "o")], capsys)

    assert code == 1
    assert err.strip() == f"signdpo corrupter generate: error: --corrupter {missing}: no such directory."
