"""`make demo` end to end at the smoke size: every stage runs, and the page shows what the run measured."""

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from signdpo_trl.metrics import BEFORE_AFTER_METRICS


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import demo  # noqa: E402


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("demo")
    completed = subprocess.run(
        [sys.executable, "examples/demo.py", "--size", "smoke", "--output-dir", str(output_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return output_dir, completed.stdout


def test_demo_runs_every_stage_and_says_how_long_each_took(demo_run):
    output_dir, stdout = demo_run
    summary = json.loads((output_dir / "summary.json").read_text())
    assert [t["stage"] for t in summary["timings"]] == ["corpus", "MLE", "probe", "corrupter", "SignDPO", "report"]
    for number, timing in enumerate(summary["timings"], start=1):
        assert f"[{number}/6] {timing['stage']}: {timing['what']}" in stdout
        assert re.search(rf"\[{number}/6\] {re.escape(timing['stage'])} done in \d+", stdout)
    # The learned corrupter's samples reached SignDPO's language level.
    dpo_stage = summary["timings"][4]["command"]
    assert dpo_stage[dpo_stage.index("--rejected_texts_path") + 1] == str(output_dir / "corrupter" / "rejected_texts")


def test_demo_table_is_the_measured_before_and_after(demo_run):
    output_dir, stdout = demo_run
    summary = json.loads((output_dir / "summary.json").read_text())
    measured = json.loads((output_dir / "dpo" / "test_metrics.json").read_text())
    assert [row["metric"] for row in summary["table"]] == list(BEFORE_AFTER_METRICS)
    for row in summary["table"]:
        assert row["before"] == measured["before"][f"before_{row['metric']}"]
        assert row["after"] == measured["after"][f"after_{row['metric']}"]
        assert f"{row['metric']:>22}: {row['before']:6.2f} -> {row['after']:6.2f}" in stdout
    assert summary["signature"].startswith("BLEU-1..4") and summary["signature"] in stdout
    lines = demo.readme_lines(summary)
    assert f"| bleu4 | {summary['table'][3]['before']:.2f} | {summary['table'][3]['after']:.2f} |" in "\n".join(lines)


def test_demo_page_shows_table_pictures_and_translations(demo_run):
    output_dir, _ = demo_run
    page = (output_dir / "index.html").read_text()
    summary = json.loads((output_dir / "summary.json").read_text())
    for picture in ("clip.png", "perturbations.gif", "salience.png", "curves_sft.png", "curves_dpo.png",
                    "probe/probe.png"):  # fmt: skip
        assert (output_dir / picture).stat().st_size > 1000
        assert f'src="{picture}"' in page
    assert len(summary["translations"]) == demo.NUM_SHOWN_TRANSLATIONS
    for translation in summary["translations"]:
        assert translation["reference"] and f"<td>{html.escape(translation['reference'])}</td>" in page
    assert "bleu4" in page and summary["signature"] in page
