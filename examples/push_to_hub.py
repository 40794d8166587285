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
from pathlib import Path

from signdpo_trl.hub import push_checkpoint, save_hub_folder


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
        push_checkpoint(args.checkpoint, args.repo_id, private=args.private)
        print(f"Pushed {args.checkpoint} to https://huggingface.co/{args.repo_id}")


if __name__ == "__main__":
    main()
