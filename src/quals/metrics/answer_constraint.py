"""Constrained decoding that keeps every generated answer a substring of the summary.

While a beam is still writing its question nothing is restricted. Once the separator has been
written, a token is allowed only if the answer, extended by it, still occurs (lowercased) in the
summary; EOS is allowed once the answer is non-empty. Allowed tokens are found by walking a trie
of the lowercased vocabulary along the summary from every place the answer so far occurs, so a
step costs O(occurrences x longest token), not O(vocabulary).
"""

from __future__ import annotations

from collections.abc import Sequence

from quals.models.backbone import Backbone

_END = -1  # trie key holding the token ids that end at a node


def _vocab_trie(backbone: Backbone) -> dict:
    cached = getattr(backbone, "_quals_vocab_trie", None)
    if cached is not None:
        return cached
    tokenizer = backbone.tokenizer
    special = set(tokenizer.all_special_ids)
    trie: dict = {}
    for token_id in range(len(tokenizer)):
        if token_id in special:
            continue
        text = tokenizer.decode([token_id]).lower()
        if not text or "\ufffd" in text:  # partial UTF-8 pieces cannot be matched as text
            continue
        node = trie
        for char in text:
            node = node.setdefault(char, {})
        node.setdefault(_END, []).append(token_id)
    backbone._quals_vocab_trie = trie
    return trie


class SummarySpanConstraint:
    """``TokenConstraint`` for a batch of summaries (input i of the batch = ``summaries[i]``)."""

    def __init__(self, backbone: Backbone, summaries: Sequence[str]) -> None:
        self.backbone = backbone
        self.summaries = [s.lower() for s in summaries]
        self.separator = backbone.qa_format.separator.strip()
        self.trie = _vocab_trie(backbone)

    def __call__(self, index: int, prefix: Sequence[int]) -> list[int] | None:
        text = self.backbone.decode(prefix)
        if self.separator not in text:
            return None
        answer = text.split(self.separator, 1)[1]
        summary = self.summaries[index]
        stripped = answer.lstrip().lower()
        allowed: set[int] = set()
        if stripped:
            starts = [i + len(stripped) for i in _occurrences(summary, stripped)]
            allowed.add(self.backbone.eos_token_id)
        else:
            # The answer has not started: its first token may carry leading spaces.
            starts = [i for i in range(len(summary)) if not summary[i].isspace()]
        for start in starts:
            self._walk(summary, start, allowed, leading_space=not stripped)
        return sorted(allowed)

    def _walk(self, summary: str, start: int, allowed: set[int], leading_space: bool) -> None:
        """Add tokens whose text is a prefix of ``summary[start:]`` (optionally after spaces)."""
        roots = [self.trie]
        if leading_space and " " in self.trie:
            roots.append(self.trie[" "])
        for node in roots:
            position = start
            while node and position < len(summary):
                node = node.get(summary[position])
                position += 1
                if node and _END in node:
                    allowed.update(node[_END])


def _occurrences(text: str, part: str) -> list[int]:
    found, start = [], text.find(part)
    while start != -1:
        found.append(start)
        start = text.find(part, start + 1)
    return found
