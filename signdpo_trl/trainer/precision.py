"""Mixed precision that follows the hardware, shared by the MLE and SignDPO configurations."""

from __future__ import annotations

import torch


def hardware_bf16(fp16: bool, use_cpu: bool = False) -> bool:
    """Whether bf16 should be on when a configuration leaves `bf16` unset: only on CUDA devices that support it, never
    together with fp16, and not when `use_cpu` keeps the run on the CPU. A recipe config written for GPUs then runs
    unchanged on a CPU machine."""
    if use_cpu or fp16:
        return False
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
