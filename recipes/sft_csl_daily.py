"""Maximum-likelihood training of a pose-to-text model on CSL-Daily.

```bash
python recipes/sft_csl_daily.py
accelerate launch recipes/sft_csl_daily.py
accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/sft_csl_daily.py
```

Without `--config`, `recipes/configs/sft_csl_daily.yaml` is used; command-line fields override it.
"""

from sft import cli


if __name__ == "__main__":
    cli(default_config="configs/sft_csl_daily.yaml")
