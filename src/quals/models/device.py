"""Device and dtype choice: explicit values are checked, 'auto' picks the fastest safe option."""

from __future__ import annotations

import torch

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    # For checking that two implementations compute the same thing: fp32 rounding differences
    # (about 3e-5 per token in a 30-layer model) shrink below 1e-9, while a real change does not.
    "float64": torch.float64,
    "fp64": torch.float64,
}


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be cpu, cuda[:N], mps or auto, got {device!r}")
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """'auto': bf16 on CUDA devices that support it, fp32 elsewhere (CPU fp16 is slow and lossy)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of auto, {', '.join(_DTYPES)}; got {dtype!r}")
    return _DTYPES[dtype]


def bf16_setting(dtype: str) -> bool | None:
    """A training ``--dtype`` as a bf16 mixed-precision setting (None: auto, the hardware decides).

    Raises:
        ValueError: float16, which training does not offer: fp16 needs loss scaling, and ConSeq's
            unlikelihood clamp (1e-20) is below half precision's smallest number.
    """
    if dtype == "float16":
        raise ValueError("--dtype float16 is not offered for training (fp16 needs loss scaling, and ConSeq's "
                         "unlikelihood clamp 1e-20 is below half precision's range): use bfloat16 or float32")
    settings = {"auto": None, "bfloat16": True, "float32": False}
    if dtype not in settings:
        raise ValueError(f"training dtype must be auto, bfloat16 or float32, got {dtype!r}")
    return settings[dtype]


def training_bf16(dtype: str = "auto", *, use_cpu: bool = False) -> bool:
    """Whether a training run uses bf16 mixed precision: ``auto`` on CUDA GPUs that support it."""
    return resolve_bf16(bf16_setting(dtype), use_cpu=use_cpu)


def resolve_bf16(setting: bool | None, *, use_cpu: bool = False) -> bool:
    """A bf16 setting (None: the hardware decides) as the Trainer's ``bf16`` flag."""
    if setting is None:
        return (not use_cpu) and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return setting
