"""SignDPO on How2Sign (American Sign Language, English text; OpenPose keypoints).

Starts from the MLE checkpoint named by `model_name_or_path` in `recipes/configs/dpo_how2sign.yaml`, builds preference
pairs on the fly at every level, and reports test metrics before and after.

```bash
accelerate launch recipes/dpo_how2sign.py
accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/dpo_how2sign.py
accelerate launch recipes/dpo_how2sign.py --push_to_hub --hub_model_id you/signdpo-how2sign
```

Without `--config`, `recipes/configs/dpo_how2sign.yaml` is used; command-line fields override it.
"""

from dpo import cli


if __name__ == "__main__":
    cli(default_config="configs/dpo_how2sign.yaml")
