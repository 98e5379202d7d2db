"""ConSeq's batch layout, its loss inside the Trainer and what training does to the two summaries.

These catch the bugs the pipeline tests cannot: the positive and negative swapped in the collator,
a missing causal shift in the trainer, or a loss that moves both likelihoods the same way.
"""

from __future__ import annotations

import json

import pytest
import torch

from quals.training.conseq.collator import ConseqCollator
from quals.training.conseq.config import ConseqConfig
from quals.training.conseq.loss import conseq_loss
from quals.training.conseq.trainer import ConseqTrainer, train_conseq
from quals.training.summarizer.model import load_summarizer

DOCUMENT = "The cat sat on the mat in Paris on Monday. Officials said 12 people were hurt near Leeds."
POSITIVE = "The cat sat on the mat in Paris."
NEGATIVE = "A dog ran in Rome on Friday."


def _example(ids: list[int], prompt: int) -> dict:
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [-100] * prompt + ids[prompt:]}


def test_collator_worked_batch_decoder_only(tiny_dirs):
    """The layout of the collator's docstring, with this tokenizer's pad id."""
    summarizer = load_summarizer(str(tiny_dirs["llama"]), device="cpu", dtype="float32")
    tokenizer = summarizer.tokenizer
    tokenizer.padding_side = "right"
    pad = tokenizer.pad_token_id
    features = [{"positive": _example([5, 6, 7, 8, 2], 2), "negative": _example([5, 6, 9, 2], 2)},
                {"positive": _example([5, 7, 2], 1), "negative": _example([5, 10, 11, 12, 2], 1)}]
    batch = ConseqCollator(tokenizer)(features)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 2], [5, 6, 9, 2, pad], [5, 7, 2, pad, pad], [5, 10, 11, 12, 2]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["labels"].tolist() == [[-100, -100, 7, 8, 2], [-100, -100, 9, 2, -100],
                                        [-100, 7, 2, -100, -100], [-100, 10, 11, 12, 2]]
    assert batch["is_positive"].tolist() == [True, False, True, False]  # row 2i: reference, 2i + 1: negative


def test_collator_worked_batch_encoder_decoder(tiny_dirs):
    summarizer = load_summarizer(str(tiny_dirs["bart"]), device="cpu", dtype="float32")
    features = [{"positive": {"input_ids": [0, 5, 6, 2], "attention_mask": [1] * 4, "labels": [7, 8, 2]},
                 "negative": {"input_ids": [0, 5, 6, 2], "attention_mask": [1] * 4, "labels": [9, 2]}}]
    batch = ConseqCollator(summarizer.tokenizer, summarizer.model)(features)
    assert batch["labels"].tolist() == [[7, 8, 2], [9, 2, -100]]
    start = summarizer.model.config.decoder_start_token_id
    assert batch["decoder_input_ids"][:, 0].tolist() == [start, start]
    assert batch["decoder_input_ids"][0, 1:].tolist() == [7, 8]  # labels shifted right
    assert batch["is_positive"].tolist() == [True, False]


def _trainer(model, tokenizer, tmp_path) -> ConseqTrainer:
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path / "t"), use_cpu=True, report_to=[], per_device_train_batch_size=1)
    return ConseqTrainer(model=model, args=args, processing_class=tokenizer, label_smoothing=0.1)


@pytest.mark.parametrize("kind", ["llama", "bart"])
def test_compute_loss_is_conseq_loss_on_shifted_logits(tiny_dirs, tmp_path, kind):
    summarizer = load_summarizer(str(tiny_dirs[kind]), device="cpu", dtype="float32")
    model = summarizer.model.eval()
    features = [{"positive": summarizer.encode_example(DOCUMENT, POSITIVE),
                 "negative": summarizer.encode_example(DOCUMENT, NEGATIVE)}]
    batch = ConseqCollator(summarizer.tokenizer, model)(features)
    trainer = _trainer(model, summarizer.tokenizer, tmp_path)
    with torch.no_grad():
        loss = trainer.compute_loss(model, batch)
        inputs = {k: v for k, v in batch.items() if k not in ("labels", "is_positive")}
        logits, labels = model(**inputs).logits, batch["labels"]
        if kind == "llama":  # by hand: position t predicts token t + 1
            logits, labels = logits[:, :-1], labels[:, 1:]
        expected = conseq_loss(logits, labels, batch["is_positive"], label_smoothing=0.1).loss
        unshifted = conseq_loss(model(**inputs).logits, batch["labels"], batch["is_positive"], label_smoothing=0.1).loss
    assert float(loss) == pytest.approx(float(expected), abs=1e-6)
    if kind == "llama":
        assert abs(float(unshifted) - float(expected)) > 1e-3  # the shift matters, so the test can see it


def _summary_logprob(summarizer, document: str, summary: str) -> float:
    example = summarizer.encode_example(document, summary)
    batch = ConseqCollator(summarizer.tokenizer, summarizer.model)([{"positive": example, "negative": example}])
    inputs = {k: v[:1] for k, v in batch.items() if k not in ("labels", "is_positive")}
    labels = batch["labels"][:1]
    with torch.no_grad():
        logits = summarizer.model(**inputs).logits
    if not summarizer.model.config.is_encoder_decoder:
        logits, labels = logits[:, :-1], labels[:, 1:]
    logprobs = logits.log_softmax(-1)
    mask = labels != -100
    return float(logprobs[0][mask[0]].gather(-1, labels[0][mask[0]].unsqueeze(-1)).sum())


def _taught(directory, out, document: str, summary: str):
    """The tiny model after a few MLE steps on ``summary``: its tokens become likely, so the
    unlikelihood term (whose gradient scales with p) has something to push down, as it has for a
    trained MLE summarizer's own samples."""
    summarizer = load_summarizer(str(directory), device="cpu", dtype="float32")
    model = summarizer.model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    example = summarizer.encode_example(document, summary)
    batch = ConseqCollator(summarizer.tokenizer, model)([{"positive": example, "negative": example}])
    inputs = {k: v[:1] for k, v in batch.items() if k != "is_positive"}
    torch.manual_seed(0)
    for _ in range(25):
        optimizer.zero_grad()
        model(**inputs).loss.backward()
        optimizer.step()
    model.save_pretrained(out, safe_serialization=True)
    summarizer.tokenizer.save_pretrained(out)
    return out


@pytest.mark.parametrize("kind", ["llama", "bart"])
def test_training_raises_the_positive_lowers_the_negative_and_moves_every_parameter(tiny_dirs, tmp_path, kind):
    start_dir = _taught(tiny_dirs[kind], tmp_path / "mle", DOCUMENT, NEGATIVE)
    triples = tmp_path / "triples.jsonl"
    triples.write_text(json.dumps({"document": DOCUMENT, "positive": POSITIVE, "negative": NEGATIVE}) + "\n")
    before = load_summarizer(str(start_dir), device="cpu", dtype="float32")
    start = {name: p.detach().clone() for name, p in before.model.named_parameters()}
    config = ConseqConfig(learning_rate=1e-3, num_train_epochs=8, batch_size=1, max_grad_norm=1.0,
                          weight_decay=0.0, lora=False, seed=0)
    train_conseq(triples, tmp_path / "run", model=str(start_dir), config=config, use_cpu=True)
    after = load_summarizer(str(tmp_path / "run"), device="cpu", dtype="float32")
    assert _summary_logprob(after, DOCUMENT, POSITIVE) > _summary_logprob(before, DOCUMENT, POSITIVE) + 0.5
    assert _summary_logprob(after, DOCUMENT, NEGATIVE) < _summary_logprob(before, DOCUMENT, NEGATIVE) - 0.5
    trained = dict(after.model.named_parameters())
    unchanged = [name for name, value in start.items() if torch.equal(value, trained[name].detach())]
    assert unchanged == []
