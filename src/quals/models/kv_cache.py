"""A KV cache that grows in place, for step-by-step decoding of many rows.

transformers' ``DynamicLayer`` appends each step's keys and values with ``torch.cat``, which copies
the whole cache of every layer at every step. Diverse beam search keeps 60 rows per summary whose
prompt is as long as the summary, so those copies were about a seventh of QA generation time on a
CPU (cProfile of QUALS on CNN/DM candidates). :class:`GrowingLayer` keeps a buffer with spare
positions and writes new states into it; ``keys``/``values`` are views of its filled part. The
values a model reads are the same numbers in the same layout of the last two dimensions, so
attention computes the same results (tests compare searches bit for bit with ``DynamicCache``).

Written here because transformers has no such layer: ``StaticLayer`` has a fixed length and makes
attention read (and mask) all of it, which changes both the cost and the floating-point sums.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

#: Spare positions added whenever a buffer is full: one reallocation covers a 60-token search.
GROWTH = 64


class GrowingLayer(DynamicLayer):
    """A ``DynamicLayer`` whose keys and values live in a buffer with spare positions."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._key_buffer: torch.Tensor | None = None
        self._value_buffer: torch.Tensor | None = None
        self._length = 0

    def _view(self) -> None:
        self.keys = self._key_buffer[:, :, :self._length]
        self.values = self._value_buffer[:, :, :self._length]

    def _reserve(self, new: int, like_key: torch.Tensor, like_value: torch.Tensor) -> None:
        needed = self._length + new
        if self._key_buffer is not None and self._key_buffer.shape[2] >= needed:
            return
        capacity = needed + GROWTH
        buffers = []
        for old, like in ((self._key_buffer, like_key), (self._value_buffer, like_value)):
            rows, heads, _, dim = like.shape
            buffer = like.new_empty((rows, heads, capacity, dim))
            if old is not None and self._length:
                buffer[:, :, :self._length] = old[:, :, :self._length]
            buffers.append(buffer)
        self._key_buffer, self._value_buffer = buffers

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
               ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        new = key_states.shape[2]
        self._reserve(new, key_states, value_states)
        self._key_buffer[:, :, self._length:self._length + new] = key_states
        self._value_buffer[:, :, self._length:self._length + new] = value_states
        self._length += new
        self._view()
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self._length

    def _select_rows(self, rows: torch.Tensor) -> None:
        if self._length:
            rows = rows.to(self._key_buffer.device)
            self._key_buffer = self._key_buffer.index_select(0, rows)
            self._value_buffer = self._value_buffer.index_select(0, rows)
            self._view()

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self._select_rows(beam_idx)

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self._length:
            self._select_rows(torch.arange(self._key_buffer.shape[0], device=self._key_buffer.device)[indices])

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self._length:
            self._select_rows(torch.arange(self._key_buffer.shape[0], device=self._key_buffer.device)
                              .repeat_interleave(repeats))

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError(f"crop takes a negative number of tokens to remove, got {tokens_to_remove}")
        if tokens_to_remove and self.is_initialized:
            self._length = max(0, self._length + tokens_to_remove)
            self._view()

    def reset(self) -> None:
        self._key_buffer = self._value_buffer = None
        self._length = 0
        super().reset()

    def offload(self):  # would move the views, not the buffers
        raise NotImplementedError("GrowingLayer does not offload")

    prefetch = offload


class GrowingCache(DynamicCache):
    """``DynamicCache`` whose plain full-attention layers are :class:`GrowingLayer`; other layer
    kinds of a model (sliding window, linear attention) stay as transformers builds them."""

    def __init__(self, config=None) -> None:
        super().__init__(config=config)
        if self.layer_class_to_replicate is DynamicLayer:
            self.layer_class_to_replicate = GrowingLayer
        self.layers = [GrowingLayer() if type(layer) is DynamicLayer else layer for layer in self.layers]
