"""Per-part spatio-temporal graph-convolution encoder of skeleton sequences, in the manner of Uni-Sign's pose branch.

Each part (body, hands, face) has its own stack of graph convolutions over its skeleton graph; the two hands share
one stack; the hands receive the body's wrist features and the face the nose's; the parts are pooled over their
joints and fused into `d_model` tokens. Normalisation is per joint and frame (LayerNorm), never across frames, and
padded frames are zeroed before every temporal convolution, so padding never reaches a valid frame.

This file is saved next to the weights and loaded with `trust_remote_code=True`: it imports only `torch`.
"""

from __future__ import annotations

import torch
from torch import nn


def normalized_adjacency(num_joints: int, edges: list[list[int]]) -> torch.Tensor:
    """Symmetrically normalised adjacency with self-loops, D^-1/2 (A + I) D^-1/2."""
    adjacency = torch.eye(num_joints)
    for a, b in edges:
        adjacency[a, b] = adjacency[b, a] = 1.0
    inv_sqrt_degree = adjacency.sum(-1).rsqrt()
    return inv_sqrt_degree[:, None] * adjacency * inv_sqrt_degree[None, :]


class GraphConvolution(nn.Module):
    """Mixes joints with a learnable adjacency (initialised from the skeleton), then channels with a linear map."""

    def __init__(self, in_channels: int, out_channels: int, num_joints: int, edges: list[list[int]]):
        super().__init__()
        self.num_joints = num_joints
        self.edges = [list(edge) for edge in edges]
        self.adjacency = nn.Parameter(normalized_adjacency(num_joints, self.edges))
        self.linear = nn.Linear(in_channels, out_channels)

    def skeleton_adjacency(self) -> torch.Tensor:
        """The adjacency the learnable one starts from."""
        return normalized_adjacency(self.num_joints, self.edges)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        # hidden: B x T x V x C
        return self.linear(torch.einsum("uv,btvc->btuc", self.adjacency.to(hidden.dtype), hidden))


class GraphBlock(nn.Module):
    """Graph convolution, then (when `temporal_kernel_size > 1`) a temporal convolution per joint; residual."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_joints: int,
        edges: list[list[int]],
        temporal_kernel_size: int,
        dropout: float,
    ):
        super().__init__()
        self.graph = GraphConvolution(in_channels, out_channels, num_joints, edges)
        self.graph_norm = nn.LayerNorm(out_channels)
        if temporal_kernel_size > 1:
            self.temporal = nn.Conv2d(
                out_channels, out_channels, (temporal_kernel_size, 1), padding=(temporal_kernel_size // 2, 0)
            )
            self.temporal_norm = nn.LayerNorm(out_channels)
        else:
            self.temporal = None
        self.residual = nn.Identity() if in_channels == out_channels else nn.Linear(in_channels, out_channels)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        # hidden: B x T x V x C, frame_mask: B x T x 1 x 1 (float, 1 on valid frames)
        out = self.activation(self.graph_norm(self.graph(hidden)))
        if self.temporal is not None:
            out = out * frame_mask
            out = self.temporal(out.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
            out = self.activation(self.temporal_norm(out))
        out = self.dropout(out) + self.residual(hidden)
        return out * frame_mask


class PartEncoder(nn.Module):
    """Encoder of one skeleton part: joint embedding, spatial blocks, (anchor added), spatio-temporal blocks."""

    def __init__(
        self,
        num_joints: int,
        edges: list[list[int]],
        in_channels: int,
        embed_dim: int,
        spatial_channels: list[int],
        temporal_channels: list[int],
        temporal_kernel_size: int,
        dropout: float,
    ):
        super().__init__()
        self.embedding = nn.Linear(in_channels, embed_dim)
        widths = [embed_dim, *spatial_channels]
        self.spatial_blocks = nn.ModuleList(
            GraphBlock(widths[i], widths[i + 1], num_joints, edges, 1, dropout) for i in range(len(spatial_channels))
        )
        widths = [spatial_channels[-1], *temporal_channels]
        self.temporal_blocks = nn.ModuleList(
            GraphBlock(widths[i], widths[i + 1], num_joints, edges, temporal_kernel_size, dropout)
            for i in range(len(temporal_channels))
        )

    def spatial(self, joints: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.embedding(joints) * frame_mask
        for block in self.spatial_blocks:
            hidden = block(hidden, frame_mask)
        return hidden

    def temporal(self, hidden: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        for block in self.temporal_blocks:
            hidden = block(hidden, frame_mask)
        return hidden


class RunningNormalization(nn.Module):
    """Standardises features by running statistics over observed positions, the role BatchNorm plays in ST-GCN.

    Used twice in the pose encoder. On the input, per joint and coordinate: hand and face coordinates are relative to
    their anchor and scaled by the body, so they span a few hundredths while the body spans [-1, 1]. On the output, per
    part and channel: features pooled over joints after GELU share a large common component, and without centring
    it the pose tokens differ between clips by a few percent of their norm, so the language model learns to ignore
    them.

    Statistics come from the positions whose `weight` is non-zero (never padding or masked points), are updated in
    training mode only, and are what every forward pass uses, so no sample depends on the others of its batch.
    Preference training freezes them (`freeze_statistics()`) so that the policy and the reference normalise alike.

    Args:
        shape (`tuple[int, ...]`): Shape of the statistics: the trailing dimensions of the input.
        momentum (`float`, defaults to 0.05): Weight of a new batch in the running statistics (the first batch sets
            them).
    """

    def __init__(self, shape: tuple[int, ...], momentum: float = 0.05):
        super().__init__()
        self.momentum = momentum
        self.track_running_stats = True
        self.register_buffer("running_mean", torch.zeros(shape))
        self.register_buffer("running_var", torch.ones(shape))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))

    def freeze_statistics(self) -> None:
        """Stops updating the running statistics (preference training, fine-tuning on a new corpus)."""
        self.track_running_stats = False

    def forward(self, values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """`values`: B x T x *shape; `weight`: broadcastable to it, 1 where a position counts, 0 elsewhere."""
        if self.training and self.track_running_stats:
            self._update(values.detach(), weight.detach().expand_as(values))
        return (values - self.running_mean) * torch.rsqrt(self.running_var + 1e-5) * weight

    @torch.no_grad()
    def _update(self, values: torch.Tensor, weight: torch.Tensor) -> None:
        count = weight.sum(dim=(0, 1))
        mean = (values * weight).sum(dim=(0, 1)) / count.clamp(min=1)
        var = ((values - mean) ** 2 * weight).sum(dim=(0, 1)) / count.clamp(min=1)
        momentum = 1.0 if int(self.num_batches_tracked) == 0 else self.momentum
        seen = count > 1
        self.running_mean.copy_(torch.where(seen, torch.lerp(self.running_mean, mean, momentum), self.running_mean))
        self.running_var.copy_(torch.where(seen, torch.lerp(self.running_var, var, momentum), self.running_var))
        self.num_batches_tracked += 1


class SignPoseEncoder(nn.Module):
    """Turns `pose` (B x T x J x (C+1)) and `pose_mask` (B x T) into `d_model` tokens and their mask.

    Returns `(tokens, token_mask)`: `B x T' x d_model` and `B x T'` with `T' = ceil(T / temporal_stride)`, or
    `B x (T' * P) x d_model` and `B x (T' * P)` with one token per part per step (time-major) when
    `config.per_part_tokens` is set.
    """

    def __init__(self, config, d_model: int):
        super().__init__()
        self.part_names = list(config.part_names)
        self.part_sizes = list(config.part_sizes)
        self.body_part = config.body_part
        self.part_anchors = dict(config.part_anchors)
        self.shared_parts = dict(config.shared_parts)
        self.detach_anchor_features = config.detach_anchor_features
        self.temporal_stride = config.temporal_stride
        self.per_part_tokens = config.per_part_tokens
        self.in_channels = config.coord_dims + 1

        # Per part, also for parts that share an encoder: the two hands' coordinates have their own statistics.
        self.input_norms = nn.ModuleDict(
            {
                name: RunningNormalization((size, config.coord_dims))
                for name, size in zip(self.part_names, self.part_sizes)
            }
        )
        self.part_encoders = nn.ModuleDict()
        for name, size, edges in zip(self.part_names, self.part_sizes, config.part_edges):
            if name in self.shared_parts:
                continue
            self.part_encoders[name] = PartEncoder(
                size,
                edges,
                self.in_channels,
                config.pose_embed_dim,
                list(config.spatial_channels),
                list(config.temporal_channels),
                config.temporal_kernel_size,
                config.pose_dropout,
            )
        part_dim = config.temporal_channels[-1]
        num_parts = len(self.part_names)
        self.output_norm = RunningNormalization((num_parts, part_dim))
        if self.per_part_tokens:
            self.part_projection = nn.Linear(part_dim, d_model)
            self.part_embedding = nn.Parameter(torch.zeros(num_parts, d_model))
        else:
            self.part_projection = nn.Linear(part_dim * num_parts, d_model)
            self.part_embedding = nn.Parameter(torch.zeros(part_dim * num_parts))

    def _normalized_input(self, part: str, joints: torch.Tensor) -> torch.Tensor:
        coords, confidence = joints[..., :-1], joints[..., -1:]
        # The statistics count, and the output keeps, every point in the input; a graded confidence (the "unisign"
        # convention) is a feature of its own, not a weight on the coordinates. With 0/1 visibility (the "masked"
        # convention) `observed` is the visibility itself.
        observed = (confidence > 0).to(coords.dtype)
        return torch.cat([self.input_norms[part](coords, observed), confidence], dim=-1)

    def encoder_of(self, part: str) -> PartEncoder:
        return self.part_encoders[self.shared_parts.get(part, part)]

    def forward(self, pose: torch.Tensor, pose_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if pose.shape[-1] != self.in_channels or pose.shape[-2] != sum(self.part_sizes):
            raise ValueError(
                f"`pose` must be B x T x {sum(self.part_sizes)} x {self.in_channels} (coordinates then confidence), "
                f"got {tuple(pose.shape)}."
            )
        valid = pose_mask.bool()
        dtype = self.part_projection.weight.dtype
        # `where`, not a product, so that non-finite values in padded frames cannot turn into NaN.
        pose = torch.where(valid[:, :, None, None], pose.to(dtype), pose.new_zeros((), dtype=dtype))
        frame_mask = valid.to(dtype)[:, :, None, None]
        joints = dict(zip(self.part_names, pose.split(self.part_sizes, dim=2)))

        spatial = {
            name: self.encoder_of(name).spatial(self._normalized_input(name, joints[name]), frame_mask)
            for name in self.part_names
        }
        body = spatial[self.body_part]
        pooled = []
        for name in self.part_names:
            hidden = spatial[name]
            if name in self.part_anchors:
                anchor = body[:, :, self.part_anchors[name] : self.part_anchors[name] + 1]
                hidden = hidden + (anchor.detach() if self.detach_anchor_features else anchor)
            hidden = self.encoder_of(name).temporal(hidden, frame_mask)
            pooled.append(hidden.mean(dim=2))  # B x T x C
        features = self.output_norm(torch.stack(pooled, dim=2), frame_mask)  # B x T x P x C
        features, token_mask = self.downsample(features, valid)

        batch_size, steps, num_parts, _ = features.shape
        if self.per_part_tokens:
            tokens = self.part_projection(features) + self.part_embedding
            tokens = tokens.reshape(batch_size, steps * num_parts, -1)
            token_mask = token_mask.repeat_interleave(num_parts, dim=1)
        else:
            tokens = self.part_projection(features.reshape(batch_size, steps, -1) + self.part_embedding)
        return tokens, token_mask

    def downsample(self, features: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked average over windows of `temporal_stride` frames; a window is valid if any of its frames is."""
        stride = self.temporal_stride
        if stride == 1:
            return features, valid
        batch_size, num_frames = valid.shape
        pad = -num_frames % stride
        weights = nn.functional.pad(valid.to(features.dtype), (0, pad)).reshape(batch_size, -1, stride)
        features = nn.functional.pad(features, (0, 0, 0, 0, 0, pad))
        features = features.reshape(batch_size, -1, stride, *features.shape[2:])
        summed = (features * weights[..., None, None]).sum(dim=2)
        counts = weights.sum(dim=2)
        return summed / counts.clamp(min=1)[..., None, None], counts > 0


__all__ = ["SignPoseEncoder"]
