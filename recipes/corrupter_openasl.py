"""The learned language-level corrupter on OpenASL.

Mines the errors of the MLE checkpoint named by `model_name_or_path` in `recipes/configs/corrupter_openasl.yaml`,
tunes the corrupter on them and writes its wrong translations of every training clip to
`outputs/corrupter_openasl/rejected_texts`, for SignDPO's language level:

```bash
accelerate launch recipes/corrupter_openasl.py
accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/corrupter_openasl.py
accelerate launch recipes/dpo_openasl.py --rejected_texts_path outputs/corrupter_openasl/rejected_texts
```

Without `--config`, `recipes/configs/corrupter_openasl.yaml` is used; command-line fields override it.
"""

from corrupter import cli


if __name__ == "__main__":
    cli(default_config="configs/corrupter_openasl.yaml")
