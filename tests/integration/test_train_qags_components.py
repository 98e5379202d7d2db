"""QAGS's trained components end to end on tiny random models: ``train-qagen --task qg|qa`` lowers
the loss of the task's own target tokens on both model families, records the task (and the QG
prompt), and QAGS loads the two adapters as its question generator and greedy answerer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fixtures.tiny_qa import fake_questions

from quals.cli.main import main
from quals.data.qa_datasets import QAExample
from quals.metrics.qags import QAGS
from quals.metrics.qags_answering import BackboneAnswerer, ModelAnswer
from quals.metrics.qags_questions import QGPromptRecord
from quals.models import load_backbone
from quals.training.qagen.config import QAGenTrainingConfig
from quals.training.qagen.examples import QACollator, QAFeatureDataset
from quals.training.qagen.tasks import build_task_feature
from quals.training.qagen.trainer import causal_qa_loss, train_qagen

ROWS = [
    ("The cat sat on the mat in Paris on Monday.", "Where did the cat sit?", "on the mat"),
    ("Officials said 12 people were hurt when a bus crashed near Leeds.", "How many people were hurt?", "12"),
    ("The company reported profits of 3 billion dollars.", "What did the company report?", "profits"),
    ("Scientists found water on Mars, NASA announced on Tuesday.", "What did scientists find?", "water"),
]
EXAMPLES = [QAExample(str(i), c, q, a, c.index(a)) for i, (c, q, a) in enumerate(ROWS)]
DOCUMENT = "The cat sat on the mat in Paris on Monday. Officials said 12 people were hurt near Leeds."
SUMMARY = "The cat sat on the mat in Paris."
TINY = dict(beam_size=2, questions_per_answer=2, max_question_tokens=6, max_answer_tokens=4)


@pytest.fixture
def qa_file(tmp_path) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps({"context": c, "question": q, "answer": a}) + "\n" for c, q, a in ROWS * 2))
    return path


def _train(model: Path, data: Path, output: Path, task: str, **overrides) -> Path:
    settings = dict(model=str(model), task=task, train_files=(str(data),), heldout_files=(str(data),), eval_size=4,
                    output_dir=str(output), max_steps=8, batch_size=4, learning_rate=5e-3, warmup_steps=0,
                    save_steps=4, eval_steps=4, logging_steps=1, progress=False, seed=3)
    train_qagen(QAGenTrainingConfig(**{**settings, **overrides}))
    return output


@torch.no_grad()
def _task_loss(model: str, task: str) -> float:
    """Mean NLL of the task's target tokens (question for qg, answer for qa) on the examples."""
    backbone = load_backbone(model, device="cpu", dtype="float32")
    prompt = QGPromptRecord().prompt(backbone)
    features = [build_task_feature(task, backbone, e, 512, prompt) for e in EXAMPLES]
    dataset = QAFeatureDataset(features)
    batch = QACollator(backbone.pad_token_id, backbone.family)([dataset[i] for i in range(len(dataset))])
    if backbone.family == "seq2seq":
        return float(backbone.model(**batch).loss)
    logits = backbone.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                            position_ids=batch["position_ids"]).logits
    return float(causal_qa_loss(logits, batch["labels"]))


@pytest.mark.parametrize("task", ["qg", "qa"])
@pytest.mark.parametrize("kind, lora", [("llama", True), ("bart", False)])
def test_a_few_steps_lower_the_loss_of_the_task_target(tiny_dirs, qa_file, tmp_path, kind, lora, task):
    output = _train(tiny_dirs[kind], qa_file, tmp_path / "out", task, lora=lora)
    assert _task_loss(str(output), task) < _task_loss(str(tiny_dirs[kind]), task) - 0.05
    info = json.loads((output / "quals_qagen.json").read_text())
    assert info["task"] == task and info["data"]["train_examples"] == 8
    assert ("qg_prompt" in info) == (task == "qg")
    if task == "qg":
        assert QGPromptRecord(**info["qg_prompt"]) == QGPromptRecord()


def test_qags_uses_the_trained_generator_prompt_and_the_trained_answerer(tiny_dirs, qa_file, tmp_path, monkeypatch):
    qg = _train(tiny_dirs["llama"], qa_file, tmp_path / "qg", "qg", max_steps=2,
                qg_instruction="Ask about the answer.")
    qa = _train(tiny_dirs["llama"], qa_file, tmp_path / "qa", "qa", max_steps=2)
    scorer = QAGS(str(tiny_dirs["llama"]), qg_model=str(qg), qa_model=str(qa), device="cpu", dtype="float32",
                  answer_match_f1=0.0, **TINY)
    assert scorer.qagen is None  # both jobs have their own model
    models = scorer.models()
    assert models["qg"]["prompt"] == {"template": QGPromptRecord().template, "instruction": "Ask about the answer."}
    assert models["qa"] == {**models["qa"], "model": str(qa), "kind": "backbone-greedy"}
    assert models["qa"]["weights"] == load_backbone(str(qa), device="cpu").fingerprint
    text = scorer.generator.backbone.decode(scorer.generator.prompt.ids(SUMMARY, "Paris"))
    assert text.startswith("Ask about the answer.") and "Answer: Paris" in text
    assert '"instruction": "Ask about the answer."' in scorer.signature
    prompted = QAGS(str(tiny_dirs["llama"]), device="cpu", dtype="float32", **TINY)
    assert "qg_prompt" not in prompted.signature and "prompt" not in prompted.models()["qg"]

    # the answers are the trained adapter's, decoded greedily after the forced question
    questions = ["Where did the cat sit?", "What about Paris here?"]
    reference = BackboneAnswerer(load_backbone(str(qa), device="cpu", dtype="float32"), lambda n: 200,
                                 max_answer_tokens=4)
    expected = [a.text for a in reference.answer([DOCUMENT], [questions])[0]]
    assert [a.text for a in scorer.answer([DOCUMENT], [questions])[0]] == expected
    base = BackboneAnswerer(load_backbone(str(tiny_dirs["llama"]), device="cpu", dtype="float32"), lambda n: 200,
                            max_answer_tokens=4)
    assert [a.score for a in base.answer([DOCUMENT], [questions])[0]] != [
        a.score for a in scorer.answer([DOCUMENT], [questions])[0]]
    monkeypatch.setattr(scorer, "generate_questions", fake_questions.__get__(scorer))
    example = scorer.score([DOCUMENT], [SUMMARY]).examples[0]
    assert example.n_answered > 0 and example.reason in (None, "no question passed the answer-consistency filter")


def test_cli_scores_qags_with_trained_adapters(tiny_dirs, qa_file, tmp_path):
    qg = _train(tiny_dirs["llama"], qa_file, tmp_path / "qg", "qg", max_steps=2)
    assert main(["train-qagen", str(qa_file), "-o", str(tmp_path / "qa"), "--task", "qa", "--model",
                 str(tiny_dirs["llama"]), "--max-steps", "2", "--batch-size", "4", "--eval-size", "4",
                 "--no-progress", "--seed", "1"]) == 0
    assert json.loads((tmp_path / "qa" / "quals_qagen.json").read_text())["task"] == "qa"
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"id": "a", "document": DOCUMENT, "summary": SUMMARY}) + "\n")
    out = tmp_path / "qags.jsonl"
    assert main(["score", str(data), "-o", str(out), "--metric", "qags", "--model", str(tiny_dirs["llama"]),
                 "--qg-model", str(qg), "--qa-model", str(tmp_path / "qa"), "--beam-size", "2",
                 "--questions-per-answer", "2", "--max-question-tokens", "6", "--max-answer-tokens", "4",
                 "--device", "cpu", "--no-progress"]) == 0
    run = json.loads((tmp_path / "qags.jsonl.run.json").read_text())["run"]
    assert run["models"]["qa"]["kind"] == "backbone-greedy" and run["models"]["qg"]["prompt"]["instruction"]
    with pytest.raises(SystemExit):
        main(["train-qagen", str(qa_file), "-o", str(tmp_path / "x"), "--task", "summarize"])


def _squad(path: Path) -> Path:
    paragraphs = [{"context": c, "qas": [{"id": f"q{i}", "question": q,
                                          "answers": [{"text": t, "answer_start": c.index(t)}
                                                      for t in (a, a.split()[-1])]}]}
                  for i, (c, q, a) in enumerate(ROWS)]
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]}))
    return path


def test_eval_qa_scores_the_answerer_qags_would_use(tiny_dirs, tmp_path, monkeypatch):
    import quals.metrics.qags as qags_module

    data = _squad(tmp_path / "dev.json")
    out = tmp_path / "eval.json"
    assert main(["eval-qa", str(data), "-o", str(out), "--model", str(tiny_dirs["llama"]), "--device", "cpu",
                 "--max-answer-tokens", "4", "--no-progress"]) == 0
    result = json.loads(out.read_text())
    assert result["questions"] == 4 and result["model"]["kind"] == "backbone-greedy"
    assert [p["answers"] for p in result["predictions"]] == [list(dict.fromkeys([a, a.split()[-1]]))
                                                             for _, _, a in ROWS]
    assert result["f1"] == pytest.approx(sum(p["f1"] for p in result["predictions"]) / 4)

    class Oracle:  # answers all but the second passage's question right: EM and F1 are 0.75
        fingerprint = "sha256:oracle"

        def answer(self, contexts, questions):
            gold = {q: a for _, q, a in ROWS}
            return [[ModelAnswer(gold[q] if i % 2 == 0 else "", 0.0, 0) for q in qs]
                    for i, qs in zip((int(c == ROWS[1][0]) for c in contexts), questions, strict=True)]

    monkeypatch.setattr(qags_module, "load_answerer", lambda *args, **kwargs: Oracle())
    assert main(["eval-qa", str(data), "-o", str(out), "--no-progress"]) == 0
    oracle = json.loads(out.read_text())
    assert (oracle["exact_match"], oracle["f1"]) == (0.75, 0.75)
    assert main(["eval-qa", str(data), "-o", str(out), "--no-progress", "--num-questions", "2", "--seed", "1"]) == 0
    assert json.loads(out.read_text())["questions"] == 2
