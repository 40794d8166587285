"""Maximum-likelihood training of a pose-to-text model on How2Sign.

```bash
python recipes/sft_how2sign.py
accelerate launch recipes/sft_how2sign.py
accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/sft_how2sign.py
```

Without `--config`, `recipes/configs/sft_how2sign.yaml` is used; command-line fields override it.
"""

from sft import cli


if __name__ == "__main__":
    cli(default_config="configs/sft_how2sign.yaml")
