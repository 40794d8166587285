"""The README's Python example runs as written, on an MLE checkpoint and a corpus where it says they are."""

import os
import re
import subprocess
import sys
from pathlib import Path

from tiny import tiny_model, tiny_tokenizer

from signdpo_trl.data.synthetic import SynthSignConfig, generate_synthsign


README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_block(section: str) -> str:
    text = README.read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)
    assert len(blocks) == 1, f"README section {section!r} should hold one Python example, not {len(blocks)}"
    return blocks[0]


def test_readme_training_example_runs(tmp_path):
    example = readme_python_block("Train in Python")
    assert len(example.strip().splitlines()) <= 15
    tiny_model().save_pretrained(tmp_path / "outputs" / "sft_synthsign")
    tiny_tokenizer().save_pretrained(tmp_path / "outputs" / "sft_synthsign")
    generate_synthsign(SynthSignConfig(num_clips=20)).save_to_disk(str(tmp_path / "outputs" / "synthsign"))
    script = tmp_path / "example.py"
    script.write_text(example + "\nprint('global_step', trainer.state.global_step)\n")
    completed = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    steps = int(re.search(r"global_step (\d+)", completed.stdout).group(1))
    assert steps > 0
    assert (tmp_path / "sft_synthsign-SignDPO").is_dir()
