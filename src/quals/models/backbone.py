"""One interface over encoder-decoder and decoder-only language models.

Everything above this module (beam search, teacher-forced scoring) talks to a :class:`Backbone`
through three operations on a :class:`DecodeState`: ``prefill`` a batch of contexts, ``select``
rows of the state (beam reordering, expanding a context to many sequences, dropping finished rows)
and ``extend`` every row by some tokens. For a seq2seq model the context goes to the encoder and
the decoder holds the QA text; for a decoder-only model the context is a prompt whose KV cache the
QA text continues. Either way the context is computed once per batch and reused.
"""

from __future__ import annotations

from dataclasses import dataclass

import inspect

import torch
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.modeling_outputs import BaseModelOutput

from quals.models.formats import QAFormat
from quals.models.kv_cache import GrowingCache


@dataclass
class DecodeState:
    """Batched decoding state; row i holds one partial sequence.

    Attributes:
        cache: the model's KV cache, batch dimension = rows.
        next_logprobs: (rows, vocab) float32 log-probs of the next token of every row.
        attention_mask: causal only, (rows, prompt+generated) 1 for real tokens (prompts are
            left-padded).
        next_position: causal only, (rows,) position id of the next token.
        encoder_hidden: seq2seq only, (rows, source_len, hidden).
        encoder_mask: seq2seq only, (rows, source_len).
    """

    cache: Cache
    next_logprobs: torch.Tensor
    attention_mask: torch.Tensor | None = None
    next_position: torch.Tensor | None = None
    encoder_hidden: torch.Tensor | None = None
    encoder_mask: torch.Tensor | None = None

    @property
    def rows(self) -> int:
        return int(self.next_logprobs.shape[0])

    def select(self, rows: torch.Tensor) -> None:
        """Keep, reorder or repeat rows in place (``rows`` indexes the current rows)."""
        rows = rows.to(self.next_logprobs.device)
        self.cache.reorder_cache(rows)
        self.next_logprobs = self.next_logprobs.index_select(0, rows)
        for name in ("attention_mask", "next_position", "encoder_hidden", "encoder_mask"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.index_select(0, rows))


def causal_mask(mask: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """(rows, 1, new_tokens, L) boolean attention mask of the last ``new_tokens`` positions of a
    (rows, L) padding mask: each attends to the real positions up to itself."""
    length = mask.shape[1]
    keys = torch.arange(length, device=mask.device)
    queries = length - new_tokens + torch.arange(new_tokens, device=mask.device)
    return mask.bool()[:, None, None, :] & (keys[None, :] <= queries[:, None])[None, None]


def eos_token_id(tokenizer, model, model_id: str) -> int:
    """The end-of-sequence id: the tokenizer's, else the model config's first one."""
    eos = tokenizer.eos_token_id
    if eos is None:
        eos = getattr(model.config, "eos_token_id", None)
    if isinstance(eos, (list, tuple)):
        eos = eos[0]
    if eos is None:
        raise ValueError(f"{model_id} defines no EOS token")
    return int(eos)


def special_wrapping(tokenizer) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after a text (e.g. BART's <s> ... </s>)."""
    probe = "quals"
    plain = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start:start + len(plain)] == plain:
            return list(full[:start]), list(full[start + len(plain):])
    return [], []


class Backbone:
    """A loaded model, its tokenizer and QA format. Build with :func:`quals.models.load_backbone`.

    Args:
        model: a ``PreTrainedModel`` (encoder-decoder or causal LM), already on its device.
        tokenizer: its tokenizer.
        qa_format: the QA text layout; its ``family`` must match the model.
        model_id: what the user asked for (hub id, directory or ``packaged:NAME``).
        fingerprint: hash of the weights, for signatures and caches.
        max_positions: most tokens the model attends to (context side for seq2seq, prompt plus
            continuation for causal).
    """

    def __init__(self, model, tokenizer, qa_format: QAFormat, model_id: str, fingerprint: str,
                 max_positions: int) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.qa_format = qa_format
        self.model_id = model_id
        self.fingerprint = fingerprint
        self.max_positions = max_positions
        self.family = "seq2seq" if model.config.is_encoder_decoder else "causal"
        # transformers 5.2x renamed `past_key_values` to `cache`; the cache object updates in place.
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        if qa_format.family != self.family:
            raise ValueError(f"QA format is for {qa_format.family} models but {model_id} is {self.family}")
        self.device = next(model.parameters()).device
        # transformers turns a 2D mask into attention masks on every call and, for one new token,
        # first asks whether the mask has any padding: a read-back that stalls a GPU every
        # decoding step. Off the CPU the 4D mask is built here instead and passed as it is.
        self.prebuilt_masks = self.device.type != "cpu"
        self.eos_token_id = self._eos_token_id()
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_token_id
        self._special_prefix, self._special_suffix = special_wrapping(tokenizer)
        self._structural_ids = {self.eos_token_id, self.pad_token_id} | {
            t for t in (tokenizer.bos_token_id, model.config.decoder_start_token_id
                        if model.config.is_encoder_decoder else None) if t is not None}
        if self.family == "causal":
            self._prompt_prefix = self.tokenize(qa_format.prompt_prefix)
            bos = self._special_prefix
            if bos and self._prompt_prefix[:len(bos)] != bos:
                self._prompt_prefix = bos + self._prompt_prefix
            self._prompt_suffix = self.tokenize(qa_format.prompt_suffix)
        else:
            self._prompt_prefix = list(self._special_prefix)
            self._prompt_suffix = list(self._special_suffix)

    def _eos_token_id(self) -> int:
        return eos_token_id(self.tokenizer, self.model, self.model_id)

    @property
    def format_fingerprint(self) -> str:
        """sha256 of what turns text into scored tokens besides the weights: the QA format (prompt,
        separator) and the tokenizer. Two runs that differ only there score differently, so it goes
        into signatures and the generation-cache key."""
        if getattr(self, "_format_fingerprint", None) is None:
            import dataclasses
            import hashlib
            import json

            backend = getattr(self.tokenizer, "backend_tokenizer", None)
            tokenizer = backend.to_str() if backend is not None else json.dumps(
                sorted(self.tokenizer.get_vocab().items()), ensure_ascii=False)
            digest = hashlib.sha256(json.dumps(dataclasses.asdict(self.qa_format), sort_keys=True).encode())
            digest.update(tokenizer.encode())
            self._format_fingerprint = "sha256:" + digest.hexdigest()[:16]
        return self._format_fingerprint

    # ----- text <-> tokens -------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def qa_token_ids(self, question: str, answer: str) -> list[int]:
        """Token ids of a QA pair as the model writes it, EOS included."""
        return self.tokenize(self.qa_format.qa_text(question, answer)) + [self.eos_token_id]

    def decode(self, token_ids) -> str:
        """Text of generated tokens without BOS/EOS/padding. Other special tokens stay: a
        seq2seq QAGen's separator is often an added special token such as ``<sep>``."""
        ids = [t for t in token_ids if t not in self._structural_ids]
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    @property
    def context_overhead(self) -> int:
        """Prompt tokens that wrap every context."""
        return len(self._prompt_prefix) + len(self._prompt_suffix)

    def prompt_ids(self, context_ids: list[int]) -> list[int]:
        """Model input for a (window of a) tokenized context."""
        return self._prompt_prefix + list(context_ids) + self._prompt_suffix

    def max_context_tokens(self, continuation_tokens: int) -> int:
        """Context tokens that fit beside the template and a continuation of the given length."""
        budget = self.max_positions - self.context_overhead
        if self.family == "causal":
            budget -= continuation_tokens
        if budget < 16:
            raise ValueError(f"{self.model_id}: window of {self.max_positions} positions leaves no room for context")
        return budget

    # ----- decoding state --------------------------------------------------------------------
    @torch.inference_mode()
    def prefill(self, prompts: list[list[int]]) -> DecodeState:
        """Encode a batch of prompts (from :meth:`prompt_ids`); one row per prompt."""
        if not prompts or any(len(p) == 0 for p in prompts):
            raise ValueError("prefill needs non-empty prompts")
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            if self.family == "causal":  # left-pad so every row's next token is at the end
                ids[row, width - len(prompt):] = torch.tensor(prompt)
                mask[row, width - len(prompt):] = 1
            else:
                ids[row, :len(prompt)] = torch.tensor(prompt)
                mask[row, :len(prompt)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        if self.family == "causal":
            return self._prefill_causal(ids, mask)
        return self._prefill_seq2seq(ids, mask)

    def _prefill_causal(self, ids: torch.Tensor, mask: torch.Tensor) -> DecodeState:
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = GrowingCache(config=self.model.config)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                         use_cache=True, logits_to_keep=1, **{self._cache_kw: cache})
        return DecodeState(
            cache=cache,
            next_logprobs=out.logits[:, -1].float().log_softmax(-1),
            attention_mask=mask,
            next_position=mask.sum(-1),
        )

    def _prefill_seq2seq(self, ids: torch.Tensor, mask: torch.Tensor) -> DecodeState:
        encoder = self.model.get_encoder()
        hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        start = self.decoder_start_token_id()
        state = DecodeState(
            cache=EncoderDecoderCache(GrowingCache(), DynamicCache()),  # cross-attention: filled once
            next_logprobs=torch.empty(0),
            encoder_hidden=hidden,
            encoder_mask=mask,
        )
        start_ids = torch.full((ids.shape[0], 1), start, dtype=torch.long, device=self.device)
        self._extend_seq2seq(state, start_ids)
        return state

    def decoder_start_token_id(self) -> int:
        """The token a seq2seq decoder starts from (its generation config first, as generate does)."""
        for source in (self.model.generation_config, self.model.config):
            start = getattr(source, "decoder_start_token_id", None)
            if start is not None:
                return int(start)
        raise ValueError(f"{self.model_id} defines no decoder_start_token_id")

    @torch.inference_mode()
    def extend(self, state: DecodeState, tokens: torch.Tensor) -> torch.Tensor:
        """Append ``tokens`` (rows, T) to every row; return (rows, T, vocab) logits.

        Rows may be right-padded: a padded position only influences later positions of its own
        row, whose outputs the caller ignores. ``state.next_logprobs`` becomes the distribution
        after the last appended token.
        """
        tokens = tokens.to(self.device)
        if self.family == "causal":
            return self._extend_causal(state, tokens)
        return self._extend_seq2seq(state, tokens)

    def _extend_causal(self, state: DecodeState, tokens: torch.Tensor) -> torch.Tensor:
        rows, length = tokens.shape
        mask = torch.cat([state.attention_mask, torch.ones((rows, length), dtype=torch.long, device=self.device)], 1)
        positions = state.next_position[:, None] + torch.arange(length, device=self.device)[None, :]
        out = self.model(input_ids=tokens, attention_mask=causal_mask(mask, length) if self.prebuilt_masks else mask,
                         position_ids=positions, use_cache=True, **{self._cache_kw: state.cache})
        state.attention_mask = mask
        state.next_position = state.next_position + length
        state.next_logprobs = out.logits[:, -1].float().log_softmax(-1)
        return out.logits

    def _extend_seq2seq(self, state: DecodeState, tokens: torch.Tensor) -> torch.Tensor:
        out = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=state.encoder_hidden),
            attention_mask=state.encoder_mask,
            decoder_input_ids=tokens,
            use_cache=True,
            **{self._cache_kw: state.cache},
        )
        state.next_logprobs = out.logits[:, -1].float().log_softmax(-1)
        return out.logits
