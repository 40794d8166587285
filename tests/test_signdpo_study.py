"""The study harness of benchmarks/signdpo_study.py: its summary statistics, and a tiny resumable run end to end."""

import importlib.util
import json
import math
import sys

import pytest
from conftest import PROJECT_ROOT
from test_recipes import TINY_CORPUS, TINY_MODEL


def load_study():
    """The benchmark script as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("signdpo_study", PROJECT_ROOT / "benchmarks" / "signdpo_study.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there while the file executes
    spec.loader.exec_module(module)
    return module


study = load_study()


def write_record(results_dir, arm, seed, bleu4, validation_bleu4=1.0):
    metrics = {name: 50.0 for name in study.METRICS}
    metrics["bleu4"] = bleu4
    metrics["negation_accuracy"] = None  # no probe of that kind: must be left out, not counted as zero
    record = {"arm": arm, "seed": seed, "test": metrics, "validation": {**metrics, "bleu4": validation_bleu4}}
    record["config"] = {"study": {"steps": 150, "learning_rate": 5e-5}}
    study.write_json(results_dir / arm / f"seed{seed}.json", record)


def test_summary_means_intervals_and_paired_differences_from_hand_written_results(tmp_path):
    for seed, bleu4 in enumerate([10.0, 12.0, 14.0]):
        write_record(tmp_path, "mle_continued", seed, bleu4, validation_bleu4=2.0 * seed)
    # Seed 3 has no baseline run: it counts in the arm's mean but not in the paired difference.
    for seed, bleu4 in enumerate([11.0, 14.0, 15.0, 100.0]):
        write_record(tmp_path, "signdpo_first_guess", seed, bleu4)

    rows = {row["arm"]: row for row in study.summary_rows(tmp_path)}
    assert list(rows) == ["mle_continued", "signdpo_first_guess"]  # the ARMS table's order

    baseline = rows["mle_continued"]
    assert baseline["seeds"] == [0, 1, 2] and baseline["paired"] is None
    bleu4 = baseline["test"]["bleu4"]
    # mean 12, sample sd 2, t(0.975, 2) = 4.3027: half-width 4.3027 * 2 / sqrt(3)
    assert bleu4["mean"] == pytest.approx(12.0)
    assert bleu4["half_width"] == pytest.approx(4.3027 * 2 / math.sqrt(3), rel=1e-6)
    assert (bleu4["low"], bleu4["high"]) == pytest.approx((12.0 - bleu4["half_width"], 12.0 + bleu4["half_width"]))
    assert baseline["test"]["negation_accuracy"] is None
    assert baseline["validation_bleu4"] == pytest.approx(2.0)

    arm = rows["signdpo_first_guess"]
    assert arm["n_seeds"] == 4 and arm["test"]["bleu4"]["mean"] == pytest.approx(35.0)
    assert arm["paired_seeds"] == [0, 1, 2]
    difference = arm["paired"]["bleu4"]  # differences 1, 2, 1: mean 4/3, sd sqrt(1/3)
    assert difference["n"] == 3 and difference["mean"] == pytest.approx(4 / 3)
    assert difference["half_width"] == pytest.approx(4.3027 * math.sqrt(1 / 3) / math.sqrt(3), rel=1e-6)
    assert arm["paired"]["chrf"]["mean"] == pytest.approx(0.0)

    single = study.mean_interval([3.0, None, float("nan")])
    assert single == {"n": 1, "mean": 3.0, "half_width": None, "low": None, "high": None}
    assert study.mean_interval([]) is None
    assert study.t_quantile_975(30) == pytest.approx(2.0423)
    assert study.t_quantile_975(40) == pytest.approx(2.0211, abs=2e-4)  # beyond the table: the expansion

    study.write_summary(tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "| mle_continued | 3 | 50.00 ± 0.00 | 12.00 ± 4.97 |" in summary
    assert "| signdpo_first_guess | 3 | +0.00 ± 0.00 | +1.33 ± 1.43 |" in summary
    assert (tmp_path / "summary.png").stat().st_size > 0


def test_study_runs_two_arms_on_a_tiny_reference_then_resumes_without_rerunning(tmp_path, capsys):
    results, work = tmp_path / "results", tmp_path / "work"
    arguments = [
        "--arms", "mle_continued", "signdpo_first_guess", "--seeds", "0", "--steps", "2", "--batch-size", "2",
        "--validation-samples", "4", "--corpus-cache", str(tmp_path / "synthsign"), "--results-dir", str(results),
        "--work-dir", str(work), "--set", "logging_steps=1", "--set", "eval_max_new_tokens=8",
        "--set", "max_target_length=8",
        "--", *TINY_CORPUS, *TINY_MODEL, "--max_steps", "2", "--per_device_train_batch_size", "4",
        "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
        "--max_target_length", "8",
    ]  # fmt: skip
    study.main(arguments)

    assert (work / "seed0" / "reference" / "test_metrics.json").is_file()
    reference = json.loads((results / "reference" / "seed0.json").read_text())
    assert set(reference["test"]) == set(study.METRICS) and reference["signature"]
    runs = {arm: results / arm / "seed0.json" for arm in ("mle_continued", "signdpo_first_guess")}
    required = {
        "arm", "seed", "config", "steps", "wall_seconds", "reference_test", "test", "validation",
        "reference_validation", "signature", "final_log",
    }  # fmt: skip
    for arm, path in runs.items():
        record = json.loads(path.read_text())
        assert required <= set(record), required - set(record)
        assert record["arm"] == arm and record["seed"] == 0 and record["steps"] == 2
        assert set(record["test"]) == set(record["validation"]) == set(study.METRICS)
        assert isinstance(record["test"]["bleu4"], float) and "BLEU" in record["signature"]
        assert record["reference_test"] == reference["test"]
        assert record["reference_validation"] == reference["validation"]
        assert record["config"]["study"]["steps"] == 2 and record["config"]["arm"] == study.ARMS[arm]["config"]
        assert "loss" in record["final_log"]
    dpo = json.loads(runs["signdpo_first_guess"].read_text())
    assert {f"rewards/{level}/accuracies" for level in study.LEVELS} <= set(dpo["final_log"])
    assert "nll" in dpo["final_log"]
    assert json.loads(runs["mle_continued"].read_text())["config"]["resolved_args"]["label_smoothing_factor"] == 0.1

    summary = (results / "summary.md").read_text()
    metrics, paired = summary.split("## Paired difference to mle_continued")
    assert "| mle_continued | 1 |" in metrics and "| signdpo_first_guess | 1 |" in metrics
    assert "| signdpo_first_guess | 1 |" in paired and "(n=1)" in paired
    assert (results / "summary.png").is_file()

    mtimes = {arm: path.stat().st_mtime_ns for arm, path in runs.items()}
    capsys.readouterr()
    study.main(arguments)
    output = capsys.readouterr().out
    assert output.count("skipped") == 3, output  # the reference and both arms
    assert {arm: path.stat().st_mtime_ns for arm, path in runs.items()} == mtimes


def test_arms_are_checked_before_training_and_mined_negatives_reach_the_miner(tmp_path, monkeypatch):
    settings = study.StudySettings()
    study.validate_arms(study.ARMS, settings)
    assert study.ARMS["signdpo_without_attention"]["config"]["levels"] == [
        "spatial_global", "spatial_local", "temporal_global", "temporal_local", "language",
    ]  # fmt: skip
    monkeypatch.setitem(study.ARMS, "bad", {**study.ARMS["signdpo_first_guess"], "config": {"learning_rate": 1.0}})
    with pytest.raises(ValueError, match="study-wide"):
        study.validate_arms(["bad"], settings)
    with pytest.raises(ValueError, match="Unknown arm"):
        study.validate_arms(["reference"], settings)

    import signdpo_trl.corrupter

    calls = []

    def fake_miner(model, tokenizer, dataset, **kwargs):
        calls.append(kwargs)
        return dataset

    # The miner is imported when an arm needs it, so a stand-in on the package is what the harness calls.
    monkeypatch.setattr(signdpo_trl.corrupter, "mine_translation_errors", fake_miner, raising=False)
    arm = {**study.ARMS["signdpo_first_guess"], "needs_mined_negatives": True, "mining": {"num_beams": 2}}
    assert study.mined_training_set(arm, None, None, ["row"], settings, tmp_path) == ["row"]
    assert calls == [{"cache_dir": str(tmp_path / "mined"), "max_frames": 48, "language": "en", "num_beams": 2}]


def test_the_shipped_synthsign_config_is_the_signdpo_arm_of_the_study():
    import yaml

    shipped = yaml.safe_load((PROJECT_ROOT / "recipes" / "configs" / "dpo_synthsign.yaml").read_text())
    assert {field: shipped.get(field) for field in study.SIGNDPO} == study.SIGNDPO


def test_an_ablation_removes_the_level_and_its_entries_in_every_per_level_list():
    config = {
        "levels": ["spatial_global", "attention", "language"],
        "level_weights": [1.0, 2.0, 3.0],
        "reference_margin_max": [4.0, 5.0, math.inf],
        "decoded_levels": ["attention"],
    }
    assert study.without_level(config, "attention") == {
        "levels": ["spatial_global", "language"],
        "level_weights": [1.0, 3.0],
        "reference_margin_max": [4.0, math.inf],
        "decoded_levels": [],
    }


def test_learned_corrupter_arm_trains_the_corrupter_and_records_its_mix(tmp_path, monkeypatch):
    results, work = tmp_path / "results", tmp_path / "work"
    corrupter = {
        "pairs": {"max_pairs_per_row": 1, "min_pairs_per_row": 1},
        "training": {"max_steps": 2, "per_device_train_batch_size": 4, "learning_rate": 1e-3, "lora_r": 4},
        "generation": {"num_candidates": 2, "max_new_tokens": 6},
    }
    learned = study.ARMS["signdpo_language_learned"]
    mining = {"num_beams": 2, "num_candidates": 2, "max_new_tokens": 6, "batch_size": 8}
    monkeypatch.setitem(study.ARMS, "signdpo_language_learned", {**learned, "corrupter": corrupter, "mining": mining})
    arguments = [
        "--arms", "signdpo_language_learned", "signdpo_language_rules", "--seeds", "0", "--steps", "2",
        "--batch-size", "2", "--validation-samples", "4", "--corpus-cache", str(tmp_path / "synthsign"),
        "--results-dir", str(results), "--work-dir", str(work), "--set", "eval_max_new_tokens=8",
        "--set", "max_target_length=8",
        "--", *TINY_CORPUS, *TINY_MODEL, "--max_steps", "2", "--per_device_train_batch_size", "4",
        "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
        "--max_target_length", "8",
    ]  # fmt: skip
    study.main(arguments)

    record = json.loads((results / "signdpo_language_learned" / "seed0.json").read_text())
    mix = record["corrupter"]["pairs"]
    assert mix["num_pairs"] == mix["num_mined"] + mix["num_rules"] > 0
    assert record["corrupter"]["generation"]["num_sampled"] > 0
    assert record["config"]["corrupter"] == corrupter
    assert (work / "seed0" / "corrupter" / "adapter_config.json").is_file()
    assert (work / "seed0" / "corrupter_rejected" / "corrupter_generation.json").is_file()
    # The alias arm is signdpo itself: nothing is trained for it, and no file is written under its name.
    assert not (results / "signdpo_language_rules").exists()


def test_ablations_are_also_paired_with_the_shipped_default(tmp_path):
    for seed, (default, ablation) in enumerate([(10.0, 11.0), (12.0, 15.0)]):
        write_record(tmp_path, "signdpo", seed, default)
        write_record(tmp_path, "signdpo_without_language", seed, ablation)
    write_record(tmp_path, "signdpo_first_guess", 0, 9.0)  # not an ablation of signdpo
    rows = {row["arm"]: row for row in study.summary_rows(tmp_path)}

    difference = rows["signdpo_without_language"]["paired_to_default"]["bleu4"]
    assert (difference["n"], difference["mean"]) == (2, pytest.approx(2.0))
    assert rows["signdpo_first_guess"]["paired_to_default"] is None
    tables = "\n".join(study.summary_tables(list(rows.values())))
    assert "| signdpo_without_language | 2 | +0.00 ± 0.00 | +2.00 ± 12.71 |" in tables


def test_an_arm_that_is_another_arm_shows_that_arms_results_under_its_own_name(tmp_path):
    for seed, bleu4 in enumerate([10.0, 12.0]):
        write_record(tmp_path, "signdpo", seed, bleu4)
    rows = {row["arm"]: row for row in study.summary_rows(tmp_path)}

    assert rows["signdpo_language_rules"]["test"] == rows["signdpo"]["test"]
    assert rows["signdpo_language_rules"]["seeds"] == [0, 1]


def test_the_shipped_synthsign_corrupter_config_is_the_learned_arms_corrupter():
    import yaml

    shipped = yaml.safe_load((PROJECT_ROOT / "recipes" / "configs" / "corrupter_synthsign.yaml").read_text())
    for group in ("pairs", "training", "generation"):
        settings = study.LEARNED_CORRUPTER[group]
        assert {field: shipped.get(field) for field in settings} == settings, group
