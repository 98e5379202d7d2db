"""Finished hypotheses of a diverse beam search, kept on the search's device.

Adding a hypothesis when a beam emits EOS is a handful of tensor writes, so the step loop never
waits for the device to hand values to Python; the store is read back once, after the search.
"""

from __future__ import annotations

import torch


class FinishedStore:
    """Up to ``width`` finished hypotheses per (input, group), in the order they finished.

    The beam score of a finishing EOS (its log-prob minus its diversity penalty) is subtracted on
    the host in float64 when the store is read, as the search always computed it; every other
    value is stored as the float32 the search produced.
    """

    def __init__(self, n_inputs: int, groups: int, width: int, max_length: int, device: torch.device) -> None:
        shape = (n_inputs, groups, width)
        self.width = width
        self.tokens = torch.zeros((*shape, max_length), dtype=torch.long, device=device)
        self.raw = torch.zeros((*shape, max_length), device=device)
        self.pen = torch.zeros((*shape, max_length), device=device)
        self.score = torch.zeros(shape, device=device)
        self.eos_penalty = torch.zeros(shape, device=device)
        self.length = torch.zeros(shape, dtype=torch.long, device=device)
        self.count = torch.zeros((n_inputs, groups), dtype=torch.long, device=device)

    def add(self, g: int, finalize: torch.Tensor, top_scores: torch.Tensor, beam_of: torch.Tensor, lp: torch.Tensor,
            penalty: torch.Tensor, history: tuple[torch.Tensor, torch.Tensor, torch.Tensor], eos: int) -> None:
        """Finish the beams of group ``g`` whose EOS candidate is marked in ``finalize``.

        Args:
            finalize: (n, k) candidates (in rank order) that finish a hypothesis; only the first
                ``width`` ranks can.
            top_scores, beam_of: (n, k) the candidates' beam scores and parent beams.
            lp: (n, groups, width, vocab) raw log-probs of this step.
            penalty: (n, vocab) the diversity penalty group ``g`` saw.
            history: (tokens, raw log-probs, beam scores) of every beam, each (n, groups, width, t).
        """
        tokens, raw, pen = history
        n, t = tokens.shape[0], tokens.shape[-1]
        rows = torch.arange(n, device=tokens.device)
        for c in range(min(self.width, finalize.shape[1])):
            slot = self.count[:, g].clamp(max=self.width - 1)
            take = finalize[:, c] & (self.count[:, g] < self.width)
            beam = beam_of[:, c]
            eos_column = torch.full((n, 1), eos, dtype=torch.long, device=tokens.device)
            self._write(self.tokens, rows, g, slot, take, torch.cat([tokens[rows, g, beam], eos_column], 1))
            eos_logprob = lp[rows, g, beam, eos]
            self._write(self.raw, rows, g, slot, take, torch.cat([raw[rows, g, beam], eos_logprob[:, None]], 1))
            self._write(self.pen, rows, g, slot, take, pen[rows, g, beam])
            for target, value in ((self.score, top_scores[:, c]), (self.eos_penalty, penalty[:, eos]),
                                  (self.length, torch.full_like(self.length[:, 0, 0], t + 1))):
                target[rows, g, slot] = torch.where(take, value, target[rows, g, slot])
            self.count[:, g] += take.long()

    @staticmethod
    def _write(target: torch.Tensor, rows: torch.Tensor, g: int, slot: torch.Tensor, take: torch.Tensor,
               values: torch.Tensor) -> None:
        width = values.shape[1]
        old = target[rows, g, slot, :width]
        target[rows, g, slot, :width] = torch.where(take[:, None], values, old)

    def lists(self) -> list[list[list[tuple]]]:
        """``[input][group]`` lists of (tokens, raw log-probs, beam scores, score, finished=True)."""
        count, length = self.count.tolist(), self.length.tolist()
        tokens, raw, pen = self.tokens.tolist(), self.raw.tolist(), self.pen.tolist()
        score, eos_penalty = self.score.tolist(), self.eos_penalty.tolist()
        out: list[list[list[tuple]]] = []
        for i, per_input in enumerate(count):
            out.append([])
            for g, finished in enumerate(per_input):
                group = []
                for s in range(finished):
                    size = length[i][g][s]
                    beam_scores = pen[i][g][s][:size - 1] + [raw[i][g][s][size - 1] - eos_penalty[i][g][s]]
                    group.append((tokens[i][g][s][:size], raw[i][g][s][:size], beam_scores, score[i][g][s], True))
                out[i].append(group)
        return out
