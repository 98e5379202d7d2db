"""The study database: creation, reopening, blinded tasks, saves, and concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter

import pytest

from quals.annotate.assignment import AssignmentConfig
from quals.annotate.storage import StudyStore, page_side, study_choice
from quals.annotate.study import ATTRIBUTES, Study, StudyItem

ALL_LEFT = dict.fromkeys(ATTRIBUTES, "left")


def _study(n: int = 6, prefix: str = "") -> Study:
    items = tuple(StudyItem(f"{prefix}i{k}", f"Document {k}.", f"A says {k}.", f"B says {k}.") for k in range(n))
    return Study.from_items(items, "sys-a", "sys-b")


@pytest.fixture
def store(tmp_path):
    return StudyStore.create(tmp_path / "study.sqlite", _study(), AssignmentConfig(annotators=3, per_item=2, seed=1))


@pytest.mark.parametrize("b_on_left", [True, False])
def test_page_and_study_choices_convert_both_ways(b_on_left):
    for side in ("left", "equal", "right"):
        assert page_side(study_choice(side, b_on_left), b_on_left) == side
    assert study_choice("left", b_on_left) == ("b" if b_on_left else "a")
    with pytest.raises(ValueError, match="choice must be one of"):
        study_choice("A", b_on_left)


def test_create_then_open_keeps_design_tokens_and_items(store, tmp_path):
    annotators = store.annotators()
    assert [a.name for a in annotators] == ["annotator-1", "annotator-2", "annotator-3"]
    assert sorted(a.assigned for a in annotators) == [4, 4, 4] and all(a.done == 0 for a in annotators)
    assert len({a.token for a in annotators}) == 3 and all(len(a.token) >= 20 for a in annotators)
    again = StudyStore.open(tmp_path / "study.sqlite", _study())
    assert again.config == AssignmentConfig(annotators=3, per_item=2, seed=1)
    assert [a.token for a in again.annotators()] == [a.token for a in annotators]
    assert (again.system_a, again.system_b, again.n_items) == ("sys-a", "sys-b", 6)
    with sqlite3.connect(tmp_path / "study.sqlite") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_existing_database_is_not_overwritten(store, tmp_path):
    with pytest.raises(FileExistsError):
        StudyStore.create(tmp_path / "study.sqlite", _study(), AssignmentConfig())


def test_open_refuses_a_changed_study_or_a_foreign_file(store, tmp_path):
    with pytest.raises(ValueError, match="study file changed"):
        StudyStore.open(tmp_path / "study.sqlite", _study(prefix="x"))
    (tmp_path / "other.sqlite").write_text("not a database")
    with pytest.raises(ValueError, match="not a quals study database"):
        StudyStore.open(tmp_path / "other.sqlite", _study())
    with pytest.raises(FileNotFoundError):
        StudyStore.open(tmp_path / "missing.sqlite", _study())


def test_task_is_blinded_and_resolves_sides(store):
    for annotator in store.annotators():
        for position in range(annotator.assigned):
            task = store.task(annotator.index, position)
            k = int(task.document.split()[1].rstrip("."))
            assert {task.left, task.right} == {f"A says {k}.", f"B says {k}."}
            assert task.answers == {} and task.total == annotator.assigned
            store.save(annotator.index, position, ALL_LEFT)
            on_left = "b" if task.left.startswith("B") else "a"
            judgment = next(j for j in store.judgments() if j.item_id == f"i{k}" and j.annotator == annotator.name)
            assert judgment.choices == dict.fromkeys(ATTRIBUTES, on_left)
            assert judgment.b_on_left == (on_left == "b")
            assert store.task(annotator.index, position).answers == ALL_LEFT
    assert store.task(0, 99) is None


def test_next_position_resumes_and_saving_twice_revises(store):
    assert store.next_position(0) == 0
    assert store.save(0, 1, ALL_LEFT, "first") is True
    assert store.next_position(0) == 0
    assert store.save(0, 0, ALL_LEFT) is True
    assert store.next_position(0) == 2
    assert store.save(0, 1, {**ALL_LEFT, "consistency": "equal"}, "changed") is False
    judgments = [j for j in store.judgments() if j.annotator == "annotator-1"]
    assert len(judgments) == 2
    revised = next(j for j in judgments if j.comment == "changed")
    assert revised.revisions == 1 and revised.choices["consistency"] == "equal"
    for position in range(2, 4):
        store.save(0, position, ALL_LEFT)
    assert store.next_position(0) is None
    assert store.annotators()[0].done == 4


@pytest.mark.parametrize("sides,comment,message", [
    ({"consistency": "left"}, "", "no choice for informativeness, grammaticality"),
    ({**ALL_LEFT, "grammaticality": "B"}, "", "choice must be one of"),
    (ALL_LEFT, "x" * 2001, "at most 2000"),
])
def test_bad_answers_are_refused_and_nothing_is_written(store, sides, comment, message):
    with pytest.raises(ValueError, match=message):
        store.save(0, 0, sides, comment)
    assert store.judgments() == []


def test_position_outside_the_queue_is_refused(store):
    with pytest.raises(ValueError, match="no item at position 4"):
        store.save(0, 4, ALL_LEFT)


def test_concurrent_writers_never_lose_or_duplicate_a_vote(tmp_path):
    store = StudyStore.create(tmp_path / "busy.sqlite", _study(16), AssignmentConfig(annotators=4, per_item=3))
    annotators = store.annotators()
    # Every (annotator, position) is saved by two threads at once, one of them twice: 3 saves each.
    jobs = [(a.index, p) for a in annotators for p in range(a.assigned)]
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(share: list[tuple[int, int]]) -> None:
        for index, position in share:
            try:
                first = store.save(index, position, ALL_LEFT, f"by {threading.get_ident()}")
            except BaseException as err:  # noqa: BLE001 (reported below)
                errors.append(err)
                return
            with lock:
                results.append(first)

    shares = [jobs[k::4] for k in range(4)] + [jobs[::-1][k::4] for k in range(4)] + [jobs[k::2] for k in range(2)]
    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 3 * len(jobs) and results.count(True) == len(jobs)  # exactly one first save each
    judgments = store.judgments()
    assert len(judgments) == len(jobs) == 16 * 3
    assert Counter((j.item_id, j.annotator) for j in judgments).most_common(1)[0][1] == 1
    assert sum(j.revisions for j in judgments) == 2 * len(jobs)
    assert all(a.done == a.assigned for a in store.annotators())
