"""Opt-in dynamic int8 quantisation of a model's linear layers for CPU inference (``--dtype int8``).

Almost all of QUALS's time on a CPU goes into the matrix products of the linear layers (the
benchmark's profile: 70% of generation, more of scoring). PyTorch's dynamic quantisation stores
their weights as int8, one scale per output channel, and quantises each input on the fly with one
scale for the whole input tensor, so the products run on int8 kernels; embeddings, norms and
attention stay in float32.

Only the layers that read the hidden state are quantised (attention projections, the MLP's input
projections, the output layer); the MLP's down-projections, which read the wider intermediate
activation where a few huge outlier values sit, stay in float32. On the packaged SmolLM2 QAGen
quantising every linear layer moved QUALS scores by 0.17 on average (12 QAGS rows), sparing the
down-projections by 0.06, at about the same speed. Either way the numbers change, and with one
scale per input tensor they also depend slightly on what else is in the batch, so int8 is never
the default: docs/benchmarks.md reports its speed and how much it moves the scores.
It uses ``torch.ao.quantization``, which PyTorch has deprecated in favour of the torchao package;
the deprecation warnings are silenced here, where that choice is made.
"""

from __future__ import annotations

import warnings

import torch

INT8 = "int8"
#: What the signature records for a quantised model (its parameters are still float32).
INT8_NAME = "int8-dynamic"


def quantized_layers(network: torch.nn.Module) -> set[str]:
    """Names of the ``nn.Linear`` layers that read the hidden state (all of them when the config
    does not say how wide the hidden state is)."""
    hidden = getattr(network.config, "hidden_size", None)
    return {name for name, module in network.named_modules()
            if isinstance(module, torch.nn.Linear) and (hidden is None or module.in_features == hidden)}


def quantize_linear_int8(network: torch.nn.Module) -> torch.nn.Module:
    """``network`` with :func:`quantized_layers` dynamically quantised to int8 (CPU only)."""
    device = next(network.parameters()).device
    if device.type != "cpu":
        raise ValueError(f"int8 dynamic quantisation runs on the CPU, the model is on {device}: use --device cpu")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.ao.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*deprecated.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        spec = dict.fromkeys(quantized_layers(network), per_channel_dynamic_qconfig)
        return quantize_dynamic(network, spec, dtype=torch.qint8)


def is_quantized(network: torch.nn.Module) -> bool:
    return any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in network.modules())


def dtype_name(network: torch.nn.Module) -> str:
    """The dtype a model computes in, as signatures record it: ``float32``, ``bfloat16``, ``int8-dynamic``."""
    return INT8_NAME if is_quantized(network) else str(network.dtype).replace("torch.", "")
