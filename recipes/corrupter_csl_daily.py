"""The learned language-level corrupter on CSL-Daily (Chinese text: the meaning filter compares characters).

Mines the errors of the MLE checkpoint named by `model_name_or_path` in `recipes/configs/corrupter_csl_daily.yaml`,
tunes the corrupter on them and writes its wrong translations of every training clip to
`outputs/corrupter_csl_daily/rejected_texts`, for SignDPO's language level:

```bash
accelerate launch recipes/corrupter_csl_daily.py
accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/corrupter_csl_daily.py
accelerate launch recipes/dpo_csl_daily.py --rejected_texts_path outputs/corrupter_csl_daily/rejected_texts
```

Without `--config`, `recipes/configs/corrupter_csl_daily.yaml` is used; command-line fields override it.
"""

from corrupter import cli


if __name__ == "__main__":
    cli(default_config="configs/corrupter_csl_daily.yaml")
