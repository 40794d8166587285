"""SignDPO on OpenASL (American Sign Language, English text; ~98k clips).

Starts from the MLE checkpoint named by `model_name_or_path` in `recipes/configs/dpo_openasl.yaml`, builds preference
pairs on the fly at every level, and reports test metrics before and after.

```bash
accelerate launch recipes/dpo_openasl.py
accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/dpo_openasl.py
accelerate launch recipes/dpo_openasl.py --push_to_hub --hub_model_id you/signdpo-openasl
```

Without `--config`, `recipes/configs/dpo_openasl.yaml` is used; command-line fields override it.
"""

from dpo import cli


if __name__ == "__main__":
    cli(default_config="configs/dpo_openasl.yaml")
