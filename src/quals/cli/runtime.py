"""The flags every model-running command shares, each defined once: ``--device``, ``--dtype``,
``--batch-size`` and ``--seed``, plus ``--overwrite/--no-overwrite``.

One meaning each (docs/cli.md, "Shared flags", renders :data:`SHARED_FLAGS`):

- ``--device``: where the model computes. Inference commands place the model there; training
  commands run on the HF Trainer, which picks its own device, so only the choices it can honour
  are accepted (:func:`trainer_use_cpu`).
- ``--dtype``: the dtype the model computes in; for training, the mixed-precision mode.
- ``--batch-size``: sequences per forward pass; each command's help says which sequences.
- ``--seed``: the seed of every random choice the command makes; deterministic commands accept it
  and say that it changes nothing.

Torch-free: parsers are built for ``--help`` and docs/cli.md without importing torch.
"""

from __future__ import annotations

import argparse
import re

DTYPES = ("auto", "float32", "bfloat16", "float16", "int8", "float64")
# spellings the loaders accept
_DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "fp64": "float64"}
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
# What one forward pass holds, per kind of command (the --batch-size help of each).
SCORING_BATCH = ("QA-pair sequences of QUALS (each scored under the document and under the summary); "
                 "with QAGS, question-generation and answering sequences")
GENERATION_BATCH = "source documents per generate call (each decoded into all its beams or samples)"
GROUP_TITLE = "shared flags (one meaning in every command: docs/cli.md#shared-flags)"

# The one description of each shared flag (docs/cli.md prints these once, at the top).
SHARED_FLAGS = {
    "--device": "Where the model computes: `auto` (a CUDA GPU if there is one, else Apple `mps`, else the CPU), "
                "`cpu`, `cuda`, `cuda:N` or `mps`. Under `accelerate launch`/`torchrun`, `auto` and `cuda` give each "
                "process its own GPU (`LOCAL_RANK`). Training commands run on the HF Trainer, which takes the GPU "
                "itself: there `cuda:N` for N > 0 and `mps` (when a CUDA GPU is visible) are refused with the way "
                "to get them (`CUDA_VISIBLE_DEVICES=N`, or `accelerate launch` for several GPUs); `cpu` trains "
                "on the CPU even when a GPU is there (the Trainer's `use_cpu`).",
    "--dtype": "The dtype the model computes in: `auto` (bfloat16 on CUDA GPUs that support it, else float32), "
               "`float32`, `bfloat16` or `float16` (bf16, fp16 and fp32 are accepted too), or `int8` for inference "
               "on the CPU only: float32 weights with the linear layers dynamically quantised to int8, faster and "
               "never the default, as it moves scores slightly (docs/benchmarks.md). Training commands use "
               "it as the mixed-precision mode: `auto` = bf16 mixed precision on GPUs that support it, else none; "
               "`bfloat16` = bf16 mixed precision; `float32` = none; `float16` is refused (fp16 needs loss "
               "scaling, and ConSeq's unlikelihood clamp, 1e-20, is below half precision's smallest number): "
               "use bfloat16 or float32. `int8` is refused too (a quantised model does not train).",
    "--batch-size": "Sequences per forward pass. Scoring: QA-pair sequences (QUALS) or question-generation and "
                    "answering sequences (QAGS); generation: source documents per `generate` call (each decoded "
                    "into its beams or samples); training: examples per device in one forward pass (gradient "
                    "accumulation multiplies the optimizer step). Each command's help names its sequences and "
                    "default. It sets speed and memory; scoring records it with its outputs (padding in a batch "
                    "can move scores in the last digits), and in training it is the per-device batch of the "
                    "optimisation.",
    "--seed": "The seed of every random choice the command makes: sampling, shuffling, subsets, initialisation; "
              "commands that record their settings record the seeds they use. Deterministic work (beam search, "
              "QUALS scoring, ROUGE) accepts it and is unchanged by it; each command's help says which part "
              "it seeds.",
}


def device_value(text: str) -> str:
    """argparse type of ``--device``: auto, cpu, cuda, cuda:N or mps."""
    value = text.strip().lower()
    if not _DEVICE.fullmatch(value):
        raise argparse.ArgumentTypeError(f"invalid device {text!r}: use auto, cpu, cuda, cuda:N or mps")
    return value


def dtype_value(text: str) -> str:
    """argparse type of ``--dtype``: one of :data:`DTYPES` (bf16/fp16/fp32 as aliases)."""
    value = _DTYPE_ALIASES.get(text.strip().lower(), text.strip().lower())
    if value not in DTYPES:
        raise argparse.ArgumentTypeError(f"invalid dtype {text!r}: use {', '.join(DTYPES)}")
    return value


def add_runtime_flags(parser: argparse.ArgumentParser, *, batch: str, batch_size: int, seed: str,
                      seed_default: int = 0, training: bool = False,
                      from_config: tuple[str, ...] = ()) -> argparse._ArgumentGroup:
    """Add ``--device``, ``--dtype``, ``--batch-size`` and ``--seed`` with their one meaning.

    Args:
        batch: which sequences one forward pass holds in this command ("QA-pair sequences").
        batch_size: its default (shown in the help).
        seed: what the seed decides here, or why it changes nothing.
        seed_default: the seed's default (shown in the help).
        training: the model trains on the HF Trainer (``--device``/``--dtype`` as the Trainer takes them).
        from_config: ``batch_size`` and/or ``seed`` when they are fields of the command's config
            dataclass: then the flag defaults to None so that a ``--config`` file can set them.
    """
    group = parser.add_argument_group(GROUP_TITLE)
    where = ("Where the model trains: auto, cpu or cuda, as the HF Trainer takes them (cuda:N for N > 0 and "
             "mps: see docs/cli.md)" if training else "Where the model computes: auto, cpu, cuda[:N] or mps")
    group.add_argument("--device", type=device_value, default="auto", metavar="DEVICE",
                       help=f"{where} (default: auto).")
    precision = ("Mixed precision: auto (bf16 on GPUs that support it, else none), bfloat16, float32 (none); "
                 "float16 is refused" if training else
                 "Dtype the model computes in: auto (bfloat16 on CUDA GPUs that support it, else float32), "
                 "float32, bfloat16, float16, int8 (CPU only: linear layers dynamically quantised; opt-in), or float64 "
                 "(slow: for checking results without float32 rounding, docs/benchmarks.md)")
    group.add_argument("--dtype", type=dtype_value, default="auto", metavar="{" + ",".join(DTYPES) + "}",
                       help=f"{precision} (default: auto).")
    group.add_argument("--batch-size", type=_positive_int, metavar="N",
                       default=None if "batch_size" in from_config else batch_size,
                       help=f"Sequences per forward pass: {batch} (default: {batch_size}).")
    group.add_argument("--seed", type=int, metavar="N", default=None if "seed" in from_config else seed_default,
                       help=f"Seed of the random choices: {seed} (default: {seed_default}).")
    return group


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_overwrite_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup, what: str) -> None:
    """``--overwrite/--no-overwrite`` (default: off, i.e. resume or refuse): ``what`` is what it replaces."""
    parser.add_argument("--overwrite", action=argparse.BooleanOptionalAction, default=False,
                        help=f"{what.removesuffix('.')} (default: off).")


def launcher_device(device: str) -> str:
    """``auto`` under a distributed launcher: this process's own GPU (``cuda:LOCAL_RANK``)."""
    from quals.distributed import local_rank, world_size

    if device == "auto" and world_size() > 1:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{local_rank()}"
    return device


def _cuda_index(device: str) -> int | None:
    return int(device.split(":", 1)[1]) if device.startswith("cuda:") else None


def trainer_use_cpu(device: str) -> bool:
    """``--device`` of a training command as the HF Trainer's ``use_cpu``.

    The Trainer puts each process on ``cuda:LOCAL_RANK`` (``cuda:0`` alone) or, without CUDA, on
    mps when there is one; it cannot be told another GPU.

    Raises:
        ValueError: a device the Trainer cannot honour, with the way to get it.
    """
    if device == "cpu":
        return True
    if device == "auto":
        return False
    import torch

    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available (use --device cpu or auto)")
        index = _cuda_index(device)
        if index:
            raise ValueError(f"--device {device}: training runs on the HF Trainer, which takes cuda:0 (or one GPU "
                             f"per process under a launcher); use CUDA_VISIBLE_DEVICES={index} to train on GPU "
                             f"{index}, or `accelerate launch` for several GPUs")
        return False
    # mps: the Trainer takes it by itself on Apple silicon, but only when no CUDA GPU is there.
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        raise ValueError("--device mps: MPS is not available (use --device cpu or auto)")
    if torch.cuda.is_available():
        raise ValueError("--device mps: the HF Trainer prefers the visible CUDA GPU; hide it with "
                         "CUDA_VISIBLE_DEVICES= to train on mps")
    return False
