"""The learned language-level corrupter on How2Sign.

Mines the errors of the MLE checkpoint named by `model_name_or_path` in `recipes/configs/corrupter_how2sign.yaml`,
tunes the corrupter on them and writes its wrong translations of every training clip to
`outputs/corrupter_how2sign/rejected_texts`, for SignDPO's language level:

```bash
accelerate launch recipes/corrupter_how2sign.py
accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/corrupter_how2sign.py
accelerate launch recipes/dpo_how2sign.py --rejected_texts_path outputs/corrupter_how2sign/rejected_texts
```

Without `--config`, `recipes/configs/corrupter_how2sign.yaml` is used; command-line fields override it.
"""

from corrupter import cli


if __name__ == "__main__":
    cli(default_config="configs/corrupter_how2sign.yaml")
