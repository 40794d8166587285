"""The learned language-level corrupter on the bundled SynthSign corpus (2 CPU cores: about 15 minutes).

Mines the errors of the MLE checkpoint named by `model_name_or_path` in `recipes/configs/corrupter_synthsign.yaml`,
tunes the corrupter on them and writes its wrong translations of every training clip to
`outputs/corrupter_synthsign/rejected_texts`, for SignDPO's language level:

```bash
python recipes/corrupter_synthsign.py
accelerate launch recipes/corrupter_synthsign.py
accelerate launch recipes/dpo_synthsign.py --rejected_texts_path outputs/corrupter_synthsign/rejected_texts
```

Without `--config`, `recipes/configs/corrupter_synthsign.yaml` is used; command-line fields override it.
"""

from corrupter import cli


if __name__ == "__main__":
    cli(default_config="configs/corrupter_synthsign.yaml")
