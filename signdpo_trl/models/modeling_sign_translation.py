"""`SignTranslationModel`: a per-part pose encoder whose tokens feed any encoder-decoder language model.

This file is saved next to the weights and loaded with `trust_remote_code=True`: it imports only `torch`,
`transformers` and its sibling files (relatively), never `signdpo_trl`.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn
from transformers import AutoModelForSeq2SeqLM, GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput

from .configuration_sign_translation import SignTranslationConfig
from .pose_encoder import GraphConvolution, SignPoseEncoder


class SignTranslationPreTrainedModel(PreTrainedModel):
    config_class = SignTranslationConfig
    base_model_prefix = ""
    main_input_name = "pose"
    input_modalities = ("pose",)
    supports_gradient_checkpointing = True
    _no_split_modules = ["SignPoseEncoder"]
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_flash_attn = True
    _supports_attention_backend = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module):
        # Only the pose encoder's modules reach this method: the language model initialises its own.
        if isinstance(module, GraphConvolution):
            init.copy_(module.adjacency, module.skeleton_adjacency())
        elif isinstance(module, nn.Linear):
            # Fan-in scaling, not BERT's fixed 0.02: the pose encoder starts from 3 input channels of small values,
            # and a 0.02 init leaves its output nearly constant, so the language model learns to ignore the pose.
            init.trunc_normal_(module.weight, std=module.in_features**-0.5)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out")
            init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, SignPoseEncoder):
            init.zeros_(module.part_embedding)


class SignTranslationModel(SignTranslationPreTrainedModel, GenerationMixin):
    r"""
    Skeleton-based, gloss-free sign language translation model.

    The pose encoder ([`SignPoseEncoder`]) turns `pose` (`B x T x J x (C+1)`, coordinates then confidence) and
    `pose_mask` (`B x T`) into `d_model` tokens; they enter the language model's encoder as `inputs_embeds`, after the
    prompt (`config.prompt_token_ids`, embedded with the language model's own table) when one is configured.

    Example:

    ```python
    >>> model = SignTranslationModel.from_text_pretrained(
    ...     "google/mt5-base", prompt="Translate sign language to English:", tokenizer=tokenizer
    ... )
    >>> loss = model(pose=pose, pose_mask=pose_mask, labels=labels).loss
    >>> ids = model.generate(pose=pose, pose_mask=pose_mask, num_beams=4, max_new_tokens=50)
    >>> salience = model.salience(pose, pose_mask, labels)  # B x T, sums to 1 over valid frames
    ```
    """

    def __init__(self, config: SignTranslationConfig, language_model: PreTrainedModel | None = None):
        super().__init__(config)
        if language_model is None:
            language_model = AutoModelForSeq2SeqLM.from_config(config.text_config)
        self.language_model = language_model
        self.pose_encoder = SignPoseEncoder(config, d_model=config.text_config.d_model)
        self.post_init()

    @classmethod
    def from_text_pretrained(
        cls,
        text_model_name_or_path: str,
        prompt: str | None = None,
        tokenizer=None,
        text_model_kwargs: dict | None = None,
        **config_kwargs,
    ) -> SignTranslationModel:
        """A model around a pretrained language model (its weights loaded), with a freshly initialised pose encoder.

        Args:
            text_model_name_or_path (`str`): Hub name or local path of an encoder-decoder LM, e.g. `"google/mt5-base"`.
            prompt (`str`, *optional*): Text put before the pose tokens; needs `tokenizer`.
            tokenizer (*optional*): The language model's tokenizer, used for the prompt.
            text_model_kwargs (`dict`, *optional*): Passed to `AutoModelForSeq2SeqLM.from_pretrained`.
            config_kwargs: Fields of [`SignTranslationConfig`] (pose encoder sizes, ...).
        """
        language_model = AutoModelForSeq2SeqLM.from_pretrained(text_model_name_or_path, **(text_model_kwargs or {}))
        config = cls.config_class.from_text_model(
            language_model.config, prompt=prompt, tokenizer=tokenizer, **config_kwargs
        )
        return cls(config, language_model=language_model)

    def save_pretrained(self, save_directory, *args, **kwargs):
        # `register_for_auto_class` names one Auto class in config.json's `auto_map`; `AutoModel` loads this same class
        # (with `trust_remote_code=True` where signdpo_trl is not installed).
        if self.is_remote_code():
            auto_map = dict(getattr(self.config, "auto_map", None) or {})
            auto_map["AutoModel"] = f"{type(self).__module__.rsplit('.', 1)[-1]}.{type(self).__name__}"
            self.config.auto_map = auto_map
        return super().save_pretrained(save_directory, *args, **kwargs)

    # Embeddings and sub-modules, delegated to the language model (resizing, PEFT targeting, ...).
    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module):
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module | None:
        return self.language_model.get_output_embeddings()

    def set_output_embeddings(self, value: nn.Module):
        self.language_model.set_output_embeddings(value)

    def get_encoder(self, modality: str | None = None) -> nn.Module:
        """The language model's encoder, which consumes the pose tokens as `inputs_embeds` (see [`encode`])."""
        return self.language_model.get_encoder()

    def get_decoder(self) -> nn.Module:
        return self.language_model.get_decoder()

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return self.language_model.prepare_decoder_input_ids_from_labels(labels)

    def encode(self, pose: torch.Tensor, pose_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The language model encoder's `inputs_embeds` (prompt then pose tokens) and `attention_mask`.

        Returns:
            `(inputs_embeds, attention_mask)`: `B x (P + N) x d_model` and `B x (P + N)` (long), `P` prompt tokens and
            `N` pose tokens (`T'` or `T' * num_parts`).
        """
        tokens, token_mask = self.pose_encoder(pose, pose_mask)
        batch_size = tokens.shape[0]
        if self.config.num_prompt_tokens > 0:
            embedding = self.language_model.get_encoder().get_input_embeddings()
            prompt_ids = torch.tensor(self.config.prompt_token_ids, dtype=torch.long, device=tokens.device)
            prompt = embedding(prompt_ids).to(tokens.dtype)
            tokens = torch.cat([prompt.expand(batch_size, -1, -1), tokens], dim=1)
            token_mask = torch.cat([token_mask.new_ones(batch_size, prompt.shape[0]), token_mask], dim=1)
        return tokens, token_mask.long()

    @contextmanager
    def _attention_weights_available(self, output_attentions: bool | None):
        """Switches the language model to eager attention while attention weights are requested (SDPA and flash
        kernels never materialise them)."""
        current = self.language_model.config._attn_implementation
        if not output_attentions or current == "eager":
            yield
            return
        self.language_model.set_attn_implementation("eager")
        try:
            yield
        finally:
            self.language_model.set_attn_implementation(current)

    def forward(
        self,
        pose: torch.Tensor | None = None,
        pose_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_row_index: torch.LongTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = True,
        **kwargs,
    ) -> Seq2SeqLMOutput:
        r"""
        Args:
            pose (`torch.Tensor` of shape `(batch_size, num_frames, num_joints, coord_dims + 1)`):
                Normalised coordinates then confidence of every canonical joint.
            pose_mask (`torch.Tensor` of shape `(batch_size, num_frames)`): 1 (or `True`) on valid frames.
            labels (`torch.LongTensor` of shape `(batch_size, target_length)`, *optional*): Target token ids, `-100`
                on padding; the loss is plain cross-entropy (label smoothing is the trainer's business).
            encoder_outputs (*optional*): Precomputed language-model encoder outputs (generation); then
                `attention_mask`, the mask returned by [`encode`], is required and `pose` is not used.
            attention_mask (`torch.Tensor`, *optional*): Encoder attention mask matching `encoder_outputs`.
            encoder_row_index (`torch.LongTensor` of shape `(num_rows,)`, *optional*): Decode `num_rows` rows, row `i`
                attending to the encoding of pose `encoder_row_index[i]`: several targets share one encoder pass
                (SignDPO's fused step scores a clip's reference and corrupted texts against one encoding). `labels`
                and the decoder inputs then have `num_rows` rows.
            output_attentions (`bool`, *optional*): Return self- and cross-attention weights; the language model runs
                eager attention for the call.
            kwargs: Passed to the language model (`cache`, `use_cache`, ...).
        """
        if encoder_outputs is None:
            if pose is None or pose_mask is None:
                raise ValueError("Pass `pose` and `pose_mask`, or `encoder_outputs` with its `attention_mask`.")
            inputs_embeds, attention_mask = self.encode(pose, pose_mask)
        else:
            if attention_mask is None:
                raise ValueError("`encoder_outputs` needs the `attention_mask` returned by `encode`.")
            inputs_embeds = None
        if encoder_row_index is not None:
            if encoder_outputs is None:
                with self._attention_weights_available(output_attentions):
                    encoder_outputs = self.get_encoder()(
                        inputs_embeds=inputs_embeds,
                        attention_mask=attention_mask,
                        output_attentions=output_attentions,
                        return_dict=True,
                    )
                inputs_embeds = None
            elif isinstance(encoder_outputs, tuple):
                encoder_outputs = BaseModelOutput(*encoder_outputs)
            encoder_outputs = BaseModelOutput(last_hidden_state=encoder_outputs.last_hidden_state[encoder_row_index])
            attention_mask = attention_mask[encoder_row_index]
        with self._attention_weights_available(output_attentions):
            outputs = self.language_model(
                inputs_embeds=inputs_embeds,
                attention_mask=attention_mask,
                encoder_outputs=encoder_outputs,
                labels=labels,
                decoder_input_ids=decoder_input_ids,
                decoder_attention_mask=decoder_attention_mask,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=True,
                **kwargs,
            )
        return outputs if return_dict is not False else outputs.to_tuple()

    @torch.no_grad()
    def generate(
        self,
        pose: torch.Tensor | None = None,
        pose_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs,
    ):
        """Translates pose sequences: encodes them once, then runs [`~GenerationMixin.generate`] (greedy, sampling,
        beam search, ...) over the encoder outputs. Returns token ids (`B x L`, starting with the decoder start token)
        or a generation output when `return_dict_in_generate=True`."""
        if encoder_outputs is None:
            if pose is None or pose_mask is None:
                raise ValueError("Pass `pose` and `pose_mask` (or `encoder_outputs` with its `attention_mask`).")
            inputs_embeds, attention_mask = self.encode(pose, pose_mask)
            encoder_outputs = self.get_encoder()(
                inputs_embeds=inputs_embeds, attention_mask=attention_mask, return_dict=True
            )
        elif attention_mask is None:
            raise ValueError("`encoder_outputs` needs the `attention_mask` returned by `encode`.")
        return super().generate(encoder_outputs=encoder_outputs, attention_mask=attention_mask, **kwargs)

    @torch.no_grad()
    def salience(self, pose: torch.Tensor, pose_mask: torch.Tensor, labels: torch.LongTensor) -> torch.Tensor:
        """Where the decoder looks: cross-attention mass over the input frames under teacher forcing.

        The cross-attention weights are averaged over layers and heads, summed over target tokens that are not
        padding (`-100` or the pad id), restricted to pose positions (the prompt is left out), spread back over the
        frames each pose token covers (equally among its valid frames when `temporal_stride > 1`) and normalised.
        The model's current mode is kept: call it on a model in eval mode for deterministic maps.

        Returns:
            `torch.Tensor`: `B x T` (float32), summing to 1 over each sequence's valid frames and 0 on padded frames;
            `B x T x num_parts` (summing to 1 over valid frames and parts) when `config.per_part_tokens` is set.
        """
        outputs = self.forward(pose=pose, pose_mask=pose_mask, labels=labels, output_attentions=True)
        return self.salience_from_attentions(outputs.cross_attentions, labels, pose_mask)

    def salience_from_attentions(
        self, cross_attentions: tuple[torch.Tensor, ...], labels: torch.LongTensor, pose_mask: torch.Tensor
    ) -> torch.Tensor:
        """[`salience`] from the cross-attention weights of a teacher-forced pass that has already run (e.g. the
        reference model's pass in a SignDPO step), for the rows of `labels` and `pose_mask`."""
        if not cross_attentions or cross_attentions[0] is None:
            raise RuntimeError("The language model returned no cross-attention weights.")
        attention = torch.stack(cross_attentions).float().mean(dim=(0, 2))  # B x target x source
        pad_token_id = self.config.get_text_config(decoder=True).pad_token_id
        target_valid = labels.ne(-100)
        if pad_token_id is not None:
            target_valid &= labels.ne(pad_token_id)
        mass = (attention * target_valid[..., None].float()).sum(dim=1)[:, self.config.num_prompt_tokens :]

        batch_size, num_frames = pose_mask.shape
        frame_valid = pose_mask.bool()
        if self.config.per_part_tokens:
            mass = mass.reshape(batch_size, -1, len(self.config.part_names))  # B x T' x P
        else:
            mass = mass[..., None]  # B x T' x 1
        stride = self.config.temporal_stride
        token_of_frame = torch.arange(num_frames, device=mass.device) // stride
        # Valid frames covered by each token, to spread its mass equally among them.
        frames_per_token = torch.zeros(batch_size, mass.shape[1], device=mass.device)
        frames_per_token.index_add_(1, token_of_frame, frame_valid.float())
        per_frame = mass[:, token_of_frame] / frames_per_token[:, token_of_frame, None].clamp(min=1)
        per_frame = per_frame * frame_valid[..., None]
        total = per_frame.sum(dim=(1, 2), keepdim=True)
        per_frame = per_frame / total.clamp(min=torch.finfo(per_frame.dtype).tiny)
        return per_frame if self.config.per_part_tokens else per_frame[..., 0]


__all__ = ["SignTranslationModel", "SignTranslationPreTrainedModel"]
