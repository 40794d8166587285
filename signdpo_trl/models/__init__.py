"""Pose encoder, `SignTranslationConfig` / `SignTranslationModel`, tokenizer training, and their Auto registration.

Importing this package registers the model with `AutoConfig`, `AutoModel` and `AutoModelForSeq2SeqLM`, and marks the
classes so that `save_pretrained` copies the modelling code next to the weights (loadable with
`trust_remote_code=True` where `signdpo_trl` is not installed).
"""

from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM

from .configuration_sign_translation import SignTranslationConfig
from .modeling_sign_translation import SignTranslationModel, SignTranslationPreTrainedModel
from .pose_encoder import SignPoseEncoder
from .tokenization import build_tokenizer, sync_text_config


AutoConfig.register(SignTranslationConfig.model_type, SignTranslationConfig, exist_ok=True)
AutoModel.register(SignTranslationConfig, SignTranslationModel, exist_ok=True)
AutoModelForSeq2SeqLM.register(SignTranslationConfig, SignTranslationModel, exist_ok=True)
SignTranslationConfig.register_for_auto_class()
SignTranslationModel.register_for_auto_class("AutoModelForSeq2SeqLM")

__all__ = [
    "SignPoseEncoder",
    "SignTranslationConfig",
    "SignTranslationModel",
    "SignTranslationPreTrainedModel",
    "build_tokenizer",
    "sync_text_config",
]
