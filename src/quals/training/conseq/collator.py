"""Batches of ConSeq triples: the positive and the negative of a document in the same batch."""

from __future__ import annotations

import torch


class ConseqCollator:
    """Turn N encoded triples into one padded batch of 2N sequences.

    Each feature is ``{"positive": example, "negative": example}``, where an example is
    :meth:`quals.training.summarizer.model.Summarizer.encode_example` of (document, summary): the
    reference for the positive, the worst candidate for the negative. Row ``2i`` of the batch is
    triple i's positive and row ``2i + 1`` its negative, and ``is_positive`` says which is which;
    the loss (:func:`quals.training.conseq.loss.conseq_loss`) reads it. Padding is HF's
    ``DataCollatorForSeq2Seq``: the pad token in ``input_ids`` (on the tokenizer's padding side),
    -100 in ``labels``, and ``decoder_input_ids`` made from the labels for encoder-decoder models.

    Worked example, decoder-only, right padding, pad id 0, EOS 2, one triple whose prompt+document
    tokens are ``[5, 6]``, positive ``[7, 8]`` and negative ``[9]``::

        input_ids      = [[5, 6, 7, 8, 2],      # row 0: positive (reference)
                          [5, 6, 9, 2, 0]]      # row 1: negative (worst candidate)
        attention_mask = [[1, 1, 1, 1, 1],
                          [1, 1, 1, 1, 0]]
        labels         = [[-100, -100, 7, 8, 2],
                          [-100, -100, 9, 2, -100]]
        is_positive    = [True, False]

    The trainer shifts decoder-only logits by one (position t predicts ``labels[:, t + 1]``), so
    the loss covers exactly the summary tokens and EOS. For an encoder-decoder model
    ``input_ids`` holds the document alone and ``labels`` the summary.

    Args:
        tokenizer: the summarizer's tokenizer (its pad token and padding side are used).
        model: the model, for ``decoder_input_ids`` of encoder-decoder models.
    """

    def __init__(self, tokenizer, model=None) -> None:
        from transformers import DataCollatorForSeq2Seq

        self._pad = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        if not features:
            raise ValueError("empty batch")
        rows = []
        for feature in features:
            rows.extend((dict(feature["positive"]), dict(feature["negative"])))
        batch = dict(self._pad(rows))
        batch["is_positive"] = torch.tensor([True, False] * len(features))
        return batch
