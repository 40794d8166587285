"""Model cards for pose-to-text checkpoints, written at save and push time."""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData
from trl.trainer.utils import get_config_model_id

from ..version import __version__


TEMPLATE = Path(__file__).parent / "templates" / "signdpo_model_card.md"


def create_sign_model_card(
    trainer,
    training_details: str,
    model_name: str | None = None,
    dataset_name: str | None = None,
    tags: str | list[str] | None = None,
    output_dir: str | None = None,
    template: str | os.PathLike = TEMPLATE,
    pipeline_tag: str = "translation",
    library_name: str = "transformers",
) -> None:
    """Writes `README.md` into `output_dir`, by default the trainer's output directory (main process only).

    Args:
        trainer: A signdpo-trl trainer (reads `_tag_names`, `_name`, `_paper`, `args`, `model`).
        training_details (`str`): Markdown describing the run (levels, loss, beta, ...).
        model_name (`str`, *optional*): Name shown in the card; defaults to the output directory's name.
        dataset_name (`str`, *optional*): Hub dataset id the model was trained on.
        tags (`str` or `list[str]`, *optional*): Extra tags.
        output_dir (`str`, *optional*): Directory to write the card into; defaults to `trainer.args.output_dir`.
        template (`str` or `os.PathLike`, *optional*): The card's Jinja template; defaults to the pose-to-text card.
        pipeline_tag (`str`, *optional*, defaults to `"translation"`): The Hub's pipeline tag.
        library_name (`str`, *optional*, defaults to `"transformers"`): The library that loads the checkpoint
            (`"peft"` for an adapter).
    """
    if not trainer.is_world_process_zero():
        return
    config = trainer.accelerator.unwrap_model(trainer.model).config
    model_id = get_config_model_id(config)
    base_model = model_id if model_id and not os.path.isdir(model_id) else None
    extra_tags = {tags} if isinstance(tags, str) else set(tags or ())
    card_data = ModelCardData(
        base_model=base_model,
        datasets=dataset_name,
        library_name=library_name,
        model_name=model_name or Path(trainer.args.output_dir).name,
        pipeline_tag=pipeline_tag,
        tags=sorted({"generated_from_trainer", *trainer._tag_names, *extra_tags}),
    )
    hub_model_id = trainer.hub_model_id if getattr(trainer, "hub_model_id", None) else card_data.model_name
    card = ModelCard.from_template(
        card_data,
        template_path=str(template),
        base_model=base_model,
        model_name=card_data.model_name,
        hub_model_id=hub_model_id,
        dataset_name=dataset_name,
        trainer_name=trainer._name,
        trainer_citation=trainer._paper.get("citation"),
        paper_title=trainer._paper.get("title"),
        paper_id=trainer._paper.get("id"),
        training_details=training_details,
        signdpo_version=__version__,
        trl_version=version("trl"),
        transformers_version=version("transformers"),
        pytorch_version=version("torch"),
        datasets_version=version("datasets"),
        tokenizers_version=version("tokenizers"),
    )
    card.save(os.path.join(output_dir or trainer.args.output_dir, "README.md"))
