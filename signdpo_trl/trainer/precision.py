"""Mixed precision that follows the hardware, shared by the MLE and SignDPO configurations."""

from __future__ import annotations

import torch


def hardware_bf16(fp16: bool) -> bool:
    """Whether bf16 should be on when a configuration leaves `bf16` unset: only on CUDA devices that support it, and
    never together with fp16. A recipe config written for GPUs then runs unchanged on a CPU machine."""
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported()) and not fp16
