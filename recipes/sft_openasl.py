"""Maximum-likelihood training of a pose-to-text model on OpenASL.

```bash
python recipes/sft_openasl.py
accelerate launch recipes/sft_openasl.py
accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/sft_openasl.py
```

Without `--config`, `recipes/configs/sft_openasl.yaml` is used; command-line fields override it.
"""

from sft import cli


if __name__ == "__main__":
    cli(default_config="configs/sft_openasl.yaml")
