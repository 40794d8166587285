"""SignDPO on CSL-Daily (Chinese Sign Language, Chinese text; Uni-Sign pose pickles).

Starts from the MLE checkpoint named by `model_name_or_path` in `recipes/configs/dpo_csl_daily.yaml`, builds preference
pairs on the fly at every level, and reports test metrics before and after.

```bash
accelerate launch recipes/dpo_csl_daily.py
accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/dpo_csl_daily.py
accelerate launch recipes/dpo_csl_daily.py --push_to_hub --hub_model_id you/signdpo-csl_daily
```

Without `--config`, `recipes/configs/dpo_csl_daily.yaml` is used; command-line fields override it.
"""

from dpo import cli


if __name__ == "__main__":
    cli(default_config="configs/dpo_csl_daily.yaml")
