"""Push a saved checkpoint to the Hugging Face Hub: weights, configuration, the modelling code that
`trust_remote_code=True` loads, tokenizer and model card (with the test metrics the recipe wrote into it).

```bash
hf auth login
python examples/push_to_hub.py outputs/dpo_synthsign you/signdpo-synthsign
python examples/push_to_hub.py outputs/dpo_synthsign you/signdpo-synthsign --dry-run outputs/hub_folder
```

The recipes push at the end of training (`--push_to_hub --hub_model_id you/name`); this pushes a checkpoint saved
without it. A LoRA checkpoint (the benchmark SignDPO recipes train adapters) is merged into its base model first, so
that the Hub gets a model that loads on its own. `--dry-run DIR` writes the files a push uploads into `DIR` and
uploads nothing. Afterwards, anywhere, with transformers only:

```python
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

model = AutoModelForSeq2SeqLM.from_pretrained("you/signdpo-synthsign", trust_remote_code=True)
tokenizer = AutoTokenizer.from_pretrained("you/signdpo-synthsign")
```
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from huggingface_hub import HfApi
from transformers import AutoTokenizer

from signdpo_trl import SignTranslationModel


# Written by the recipes next to the weights; uploaded as they are.
CARD_FILES = ("README.md", "test_metrics.json")


def load_checkpoint(checkpoint: Path):
    """The model (a LoRA adapter merged into its base) and tokenizer saved in `checkpoint`."""
    adapter_config = checkpoint / "adapter_config.json"
    if adapter_config.is_file():
        from peft import PeftModel

        base = json.loads(adapter_config.read_text())["base_model_name_or_path"]
        model = PeftModel.from_pretrained(SignTranslationModel.from_pretrained(base), checkpoint).merge_and_unload()
    else:
        model = SignTranslationModel.from_pretrained(checkpoint)
    return model, AutoTokenizer.from_pretrained(checkpoint)


def save_hub_folder(checkpoint: Path, folder: Path) -> None:
    """Writes into `folder` the files that `push` uploads."""
    model, tokenizer = load_checkpoint(checkpoint)
    model.save_pretrained(folder)  # model.safetensors, config.json with its auto_map, the modelling code
    tokenizer.save_pretrained(folder)
    for name in CARD_FILES:
        if (checkpoint / name).is_file():
            shutil.copyfile(checkpoint / name, folder / name)


def push(checkpoint: Path, repo_id: str, private: bool = False) -> None:
    """Pushes the model, its tokenizer and the checkpoint's card to the Hub repository `repo_id`."""
    model, tokenizer = load_checkpoint(checkpoint)
    model.push_to_hub(repo_id, private=private, commit_message=f"Upload {checkpoint.name}")
    tokenizer.push_to_hub(repo_id, commit_message="Upload tokenizer")
    api = HfApi()
    for name in CARD_FILES:
        if (checkpoint / name).is_file():
            api.upload_file(path_or_fileobj=checkpoint / name, path_in_repo=name, repo_id=repo_id)
    print(f"Pushed {checkpoint} to https://huggingface.co/{repo_id}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="Folder a recipe wrote, e.g. outputs/dpo_synthsign.")
    parser.add_argument("repo_id", help="Hub repository to push to, e.g. you/signdpo-synthsign.")
    parser.add_argument("--private", action="store_true", help="Create the repository as private.")
    parser.add_argument("--dry-run", type=Path, metavar="DIR", help="Write the files a push uploads into DIR instead.")
    args = parser.parse_args(argv)
    if not args.checkpoint.is_dir():
        parser.error(f"checkpoint {str(args.checkpoint)!r} is not a folder.")
    if args.dry_run is not None:
        save_hub_folder(args.checkpoint, args.dry_run)
        print(f"Wrote the files a push of {args.checkpoint} to {args.repo_id} uploads into {args.dry_run}")
    else:
        push(args.checkpoint, args.repo_id, private=args.private)


if __name__ == "__main__":
    main()
