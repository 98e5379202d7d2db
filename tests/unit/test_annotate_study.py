"""Study files: reading, checking, writing; ``build_study`` joins, samples and checks summary files."""

from __future__ import annotations

import json

import pytest

from quals.annotate.build import BuildConfig, build_study
from quals.annotate.study import Study, StudyItem, read_study, write_study


def _jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _item(k, a="mle", b="conseq", **over):
    return {"id": f"d{k}", "document": f"Document {k}.", "summary_a": {"system": a, "text": f"A {k}"},
            "summary_b": {"system": b, "text": f"B {k}"}, **over}


def test_write_then_read_round_trips_with_the_same_hash(tmp_path):
    items = (StudyItem("1", "Doc \u2028 with a line separator.", "A <b>", 'B "q"'), StudyItem("2", "Doc 2.", "", "B"))
    study = Study.from_items(items, "mle", "conseq")
    path = write_study(study, tmp_path / "s.jsonl")
    assert read_study(path) == study
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_study(study, path)
    write_study(study, path, overwrite=True)


def test_integer_ids_become_strings(tmp_path):
    study = read_study(_jsonl(tmp_path / "s.jsonl", [_item(1, id=7)]))
    assert study.items[0].id == "7" and (study.system_a, study.system_b) == ("mle", "conseq")


@pytest.mark.parametrize("rows,message", [
    ([], "has no items"),
    (["{not json"], ":1: malformed JSON"),
    ([[1, 2]], "expected a JSON object"),
    ([{"id": "x", "document": "d"}], r"missing field\(s\) \['summary_a', 'summary_b'\]"),
    ([_item(1, summary_a="just text")], "summary_a must be"),
    ([_item(1, document=" ")], "document must be a non-empty string"),
    ([_item(1, id=True)], "id must be"),
    ([_item(1), _item(1)], ":2: id 'd1' already used on line 1"),
    ([_item(1), _item(2, b="other")], ":2: systems .* differ"),
    ([_item(1, b="mle")], "both named 'mle'"),
])
def test_bad_study_files_are_refused_with_the_line(tmp_path, rows, message):
    with pytest.raises(ValueError, match=message):
        read_study(_jsonl(tmp_path / "s.jsonl", rows))


def test_missing_study_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_study(tmp_path / "nope.jsonl")


def _summaries(tmp_path, name, ids, prefix, document=True, **fields):
    rows = []
    for k in ids:
        row = {"id": k, "summary": f"{prefix} {k}", "system": name}
        if document:
            row["document"] = f"Document {k}."
        rows.append({**row, **fields})
    return _jsonl(tmp_path / f"{name}.jsonl", rows)


def test_build_joins_on_id_and_samples_reproducibly(tmp_path, caplog):
    a = _summaries(tmp_path, "mle", [f"x{k}" for k in range(20)], "A")
    b = _summaries(tmp_path, "conseq", [f"x{k}" for k in range(5, 25)], "B", document=False)
    study = build_study(a, b, config=BuildConfig(n_items=8, seed=3))
    assert (study.system_a, study.system_b) == ("mle", "conseq") and len(study.items) == 8
    assert all(item.summary_a == f"A {item.id}" and item.summary_b == f"B {item.id}" for item in study.items)
    assert all(item.document == f"Document {item.id}." for item in study.items)
    assert all(5 <= int(item.id[1:]) < 20 for item in study.items)
    assert "5 ids only in" in caplog.text
    assert build_study(a, b, config=BuildConfig(n_items=8, seed=3)) == study
    assert build_study(a, b, config=BuildConfig(n_items=8, seed=4)) != study
    named = build_study(a, b, "base", "new", BuildConfig(n_items=15))
    assert (named.system_a, named.system_b) == ("base", "new") and len(named.items) == 15


def test_build_reads_other_field_names_and_skips_null_summaries(tmp_path, caplog):
    rows = [{"key": k, "article": f"Doc {k}.", "highlights": None if k == 2 else f"S {k}"} for k in range(4)]
    a = _jsonl(tmp_path / "a.jsonl", rows)
    b = _jsonl(tmp_path / "b.jsonl", [{**r, "highlights": f"T {r['key']}"} for r in rows])
    config = BuildConfig(n_items=3, id_field="key", document_field="article", summary_field="highlights")
    study = build_study(a, b, config=config)
    assert [item.id for item in study.items] == ["0", "1", "3"]
    assert "1 rows without a summary" in caplog.text
    with pytest.raises(ValueError, match="only 3 ids have a summary in both"):
        build_study(a, b, config=BuildConfig(n_items=4, id_field="key", document_field="article",
                                             summary_field="highlights"))


def test_build_joins_documents_from_the_summarized_test_file(tmp_path):
    """quals summarize writes no documents: they come from the test file, joined on id."""
    ids = [f"x{k}" for k in range(6)]
    a = _summaries(tmp_path, "mle", ids, "A", document=False)
    b = _summaries(tmp_path, "conseq", ids, "B", document=False)
    test = _jsonl(tmp_path / "test.jsonl", [{"id": k, "document": f"Article {k}.", "summary": "ref"}
                                           for k in reversed(ids)])
    with pytest.raises(ValueError, match="missing field 'document'"):
        build_study(a, b, config=BuildConfig(n_items=4))
    study = build_study(a, b, config=BuildConfig(n_items=4), documents=test)
    assert len(study.items) == 4 and all(item.document == f"Article {item.id}." for item in study.items)
    assert all(item.summary_b == f"B {item.id}" for item in study.items)
    with pytest.raises(ValueError, match="has no row in"):
        build_study(a, b, config=BuildConfig(n_items=6), documents=_jsonl(tmp_path / "few.jsonl", [
            {"id": "x0", "document": "Article x0."}]))
    with pytest.raises(ValueError, match="documents in .*mle.jsonl and .*test.jsonl differ"):
        build_study(_summaries(tmp_path, "mle", ids, "A"), b, config=BuildConfig(n_items=6), documents=test)


def test_a_detached_study_holds_hashes_and_takes_its_documents_back_from_the_test_file(tmp_path):
    """--no-embed-documents: no document text in the file; reading it needs the same test file."""
    ids = [f"x{k}" for k in range(6)]
    a = _summaries(tmp_path, "mle", ids, "A", document=False)
    b = _summaries(tmp_path, "conseq", ids, "B", document=False)
    test = _jsonl(tmp_path / "test.jsonl", [{"id": k, "article": f"Article {k}."} for k in ids])
    config = dict(n_items=4, document_field="article")
    embedded = build_study(a, b, config=BuildConfig(**config), documents=test)
    study = build_study(a, b, config=BuildConfig(**config, embed_documents=False), documents=test)
    assert study.items == embedded.items and study.detached and study.sha256 != embedded.sha256
    path = write_study(study, tmp_path / "study.jsonl")
    assert "Article" not in path.read_text()
    assert all(set(json.loads(line)) == {"id", "document_sha256", "summary_a", "summary_b"}
               for line in path.read_text().splitlines())

    with pytest.raises(ValueError, match="holds no documents .* --documents"):
        read_study(path)
    with pytest.raises(ValueError, match="needs the 'id' and 'document' fields"):
        read_study(path, test)
    again = read_study(path, test, document_field="article")
    assert again == study and again.sha256 == study.sha256
    # where the study holds its documents, --documents is not read
    assert read_study(write_study(embedded, tmp_path / "e.jsonl"), tmp_path / "absent.jsonl") == embedded

    edited = study.items[2].id
    changed = _jsonl(tmp_path / "changed.jsonl", [{"id": k, "article": f"Article {k}." + (" Edited." if k == edited
                                                                                          else "")} for k in ids])
    with pytest.raises(ValueError, match=f":3: the document of id '{edited}' .* is not the one the study was built"):
        read_study(path, changed, document_field="article")
    few = _jsonl(tmp_path / "few.jsonl", [{"id": study.items[0].id, "article": study.items[0].document}])
    with pytest.raises(ValueError, match=f":2: id '{study.items[1].id}' has no row in"):
        read_study(path, few, document_field="article")


def test_a_study_mixing_documents_and_hashes_is_refused(tmp_path):
    path = _jsonl(tmp_path / "s.jsonl", [_item(1), {k: v for k, v in _item(2).items() if k != "document"}
                                         | {"document_sha256": "0" * 64}])
    with pytest.raises(ValueError, match=":2: every item holds its document"):
        read_study(path, tmp_path / "s.jsonl")


@pytest.mark.parametrize("rows_b,message", [
    ([{"id": "1", "summary": "T", "document": "Another document."}], "documents in .* differ"),
    ([{"id": "1", "text": "T"}], "missing field 'summary'"),
    ([{"summary": "T"}], "no usable 'id' field"),
    ([{"id": "1", "summary": "T"}, {"id": "1", "summary": "U"}], ":2: id '1' appears twice"),
    ([{"id": "1", "summary": 3}], "'summary' must be a string"),
    (["[]"], "expected a JSON object"),
])
def test_build_refuses_damaged_inputs(tmp_path, rows_b, message):
    a = _jsonl(tmp_path / "a.jsonl", [{"id": "1", "document": "Doc.", "summary": "S"}])
    b = _jsonl(tmp_path / "b.jsonl", rows_b)
    with pytest.raises(ValueError, match=message):
        build_study(a, b, config=BuildConfig(n_items=1))


def test_build_needs_distinct_names_and_a_positive_size(tmp_path):
    (tmp_path / "x").mkdir()
    a = _summaries(tmp_path, "run", ["1"], "A")
    b = _summaries(tmp_path / "x", "run", ["1"], "B")
    with pytest.raises(ValueError, match="both named 'run'"):
        build_study(a, b, config=BuildConfig(n_items=1))
    with pytest.raises(ValueError, match="n_items must be >= 1"):
        BuildConfig(n_items=0)
