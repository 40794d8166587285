"""Maximum-likelihood training of a pose-to-text model on the bundled SynthSign corpus (2 CPU cores: about 15 minutes).

```bash
python recipes/sft_synthsign.py
accelerate launch recipes/sft_synthsign.py
accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/sft_synthsign.py
```

Without `--config`, `recipes/configs/sft_synthsign.yaml` is used; command-line fields override it.
"""

from sft import cli


if __name__ == "__main__":
    cli(default_config="configs/sft_synthsign.yaml")
