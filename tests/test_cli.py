import json

import numpy as np
import pytest
from datasets import Dataset, DatasetDict, load_from_disk
from test_probe import tiny_model_and_tokenizer

from signdpo_trl.cli import main
from signdpo_trl.perturbations import list_operators


TEXTS = ["the cat eats fish.", "my brother does not drive.", "is the teacher here?"]


def run_failing(argv: list[str], capsys) -> tuple[int, str]:
    """Runs the command line expecting it to fail; returns the exit status and stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A tiny SignTranslationModel and its tokenizer, saved with save_pretrained."""
    model, tokenizer = tiny_model_and_tokenizer()
    path = tmp_path_factory.mktemp("model")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def saved_dataset(tmp_path_factory):
    """A DatasetDict of three random-walk pose clips in its `test` split, saved with save_to_disk."""
    rng = np.random.default_rng(0)
    rows = []
    for index, text in enumerate(TEXTS):
        keypoints = 0.5 + np.cumsum(rng.normal(0, 0.01, size=(10, 69, 2)), axis=0)
        rows.append(
            {
                "id": f"clip{index}",
                "keypoints": keypoints.astype(np.float32),
                "confidence": np.ones((10, 69)),
                "text": text,
            }
        )
    path = tmp_path_factory.mktemp("dataset")
    DatasetDict({"test": Dataset.from_list(rows)}).save_to_disk(path)
    return path


def test_operators_lists_every_registered_operator_with_its_level(capsys):
    assert main(["operators"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list_operators()
    assert lines[0].split()[1] == "spatial_global"


def test_operators_level_filter(capsys):
    main(["operators", "--level", "temporal_global"])
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["sequence_reversal", "segment_shuffle"]


def test_synthsign_writes_a_loadable_dataset(tmp_path):
    output = tmp_path / "synthsign"
    assert main(["synthsign", "--num-clips", "6", "--seed", "1", "--output", str(output)]) == 0
    corpus = load_from_disk(str(output))
    assert list(corpus) == ["train", "validation", "test"]
    assert sum(len(split) for split in corpus.values()) == 6


def test_synthsign_pkl_files_build_into_a_dataset(tmp_path):
    files = tmp_path / "files"
    main(
        [
            "synthsign",
            "--num-clips",
            "4",
            "--validation-size",
            "1",
            "--test-size",
            "1",
            "--format",
            "pkl",
            "--output",
            str(files),
        ]
    )
    manifest = files / "manifest.jsonl"
    ids = [json.loads(line)["id"] for line in manifest.read_text().splitlines()]
    assert main(["build", str(manifest), "--output", str(tmp_path / "built")]) == 0
    built = load_from_disk(str(tmp_path / "built"))
    assert {split: len(dataset) for split, dataset in built.items()} == {"train": 2, "validation": 1, "test": 1}
    assert sorted(row_id for split in built.values() for row_id in split["id"]) == sorted(ids)


def test_synthsign_refuses_a_non_empty_output(tmp_path, capsys):
    (tmp_path / "taken.txt").write_text("x")
    code, err = run_failing(["synthsign", "--num-clips", "3", "--output", str(tmp_path)], capsys)
    assert code == 1
    assert f"--output {tmp_path}: exists and is not empty" in err
    assert "Traceback" not in err


def test_synthsign_too_few_clips_fails_without_writing(tmp_path, capsys):
    code, err = run_failing(["synthsign", "--num-clips", "2", "--output", str(tmp_path / "out")], capsys)
    assert code == 1
    assert "num_clips must be at least 3" in err
    assert not (tmp_path / "out").exists()


def test_build_names_a_missing_manifest(tmp_path, capsys):
    missing = tmp_path / "missing.jsonl"
    code, err = run_failing(["build", str(missing), "--output", str(tmp_path / "out")], capsys)
    assert code == 1
    assert err.strip() == f"signdpo build: error: {missing}: no such file or directory."


def test_build_benchmark_needs_a_pose_root(tmp_path, capsys):
    labels = tmp_path / "openasl-v1.0.tsv"
    labels.write_text("vid\n")
    code, err = run_failing(["build", str(labels), "--benchmark", "openasl", "--output", str(tmp_path / "o")], capsys)
    assert code == 1
    assert "--benchmark openasl needs --pose-root" in err


def test_probe_writes_markdown_json_and_plot(saved_model, saved_dataset, tmp_path, capsys):
    output = tmp_path / "probe"
    argv = ["probe", "--model", str(saved_model), "--dataset", str(saved_dataset), "--output", str(output)]
    argv += ["--operators", "hand_swap", "window_drop", "--strengths", "0.5", "1", "--max-new-tokens", "3"]
    assert main(argv) == 0
    assert sorted(path.name for path in output.iterdir()) == ["probe.json", "probe.md", "probe.png"]
    report = json.loads((output / "probe.json").read_text())
    assert [(row["operator"], row["strength"]) for row in report["rows"]] == [
        ("hand_swap", 0.5),
        ("hand_swap", 1.0),
        ("window_drop", 0.5),
        ("window_drop", 1.0),
    ]
    assert report["clean"]["num_samples"] == len(TEXTS)
    assert report["settings"]["language"] == "en"
    assert (output / "probe.md").read_text() in capsys.readouterr().out


def test_probe_names_a_missing_model_folder(saved_dataset, tmp_path, capsys):
    missing = tmp_path / "no_model"
    argv = ["probe", "--model", str(missing), "--dataset", str(saved_dataset), "--output", str(tmp_path / "o")]
    code, err = run_failing(argv, capsys)
    assert code == 1
    assert err.strip() == f"signdpo probe: error: --model {missing}: no such directory."


def test_probe_names_a_folder_that_is_not_a_saved_dataset(saved_model, tmp_path, capsys):
    argv = ["probe", "--model", str(saved_model), "--dataset", str(tmp_path), "--output", str(tmp_path / "o")]
    code, err = run_failing(argv, capsys)
    assert code == 1
    assert f"--dataset {tmp_path}: not a dataset saved with save_to_disk" in err


def test_probe_names_a_missing_split(saved_model, saved_dataset, tmp_path, capsys):
    argv = ["probe", "--model", str(saved_model), "--dataset", str(saved_dataset), "--split", "dev"]
    code, err = run_failing([*argv, "--output", str(tmp_path)], capsys)
    assert code == 1
    assert "--split dev:" in err and "it has test" in err


def test_probe_names_an_unknown_operator(saved_model, saved_dataset, tmp_path, capsys):
    argv = ["probe", "--model", str(saved_model), "--dataset", str(saved_dataset), "--output", str(tmp_path)]
    code, err = run_failing([*argv, "--operators", "no_such_operator"], capsys)
    assert code == 1
    assert "No perturbation operator named 'no_such_operator'" in err


def test_probe_rejects_a_strength_above_one_as_a_usage_error(tmp_path, capsys):
    argv = ["probe", "--model", "m", "--dataset", "d", "--output", str(tmp_path), "--strengths", "2"]
    code, err = run_failing(argv, capsys)
    assert code == 2
    assert "argument --strengths: a strength lies in [0, 1], got 2" in err
