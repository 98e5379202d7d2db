"""The SQLite database of one study: items, annotators and their tokens, assignments, judgments.

Every call opens its own connection and runs in one transaction; writes take the write lock first
(``BEGIN IMMEDIATE``) and wait for it up to ``BUSY_TIMEOUT_S``, and a judgment is keyed by
(annotator, item). So concurrent annotators (the web server answers each request in a thread)
never lose or duplicate a vote: a second save of the same item replaces the first and counts a
revision. The file is in WAL mode so readers never wait for a writer.

Judgments are stored in study terms (``a``, ``b``, ``equal``: which summary of the study file is
better); the page speaks of the left and right summary, and :func:`study_choice` converts.

Example:
    >>> store = StudyStore.create("study.sqlite", read_study("study.jsonl"), AssignmentConfig())  # doctest: +SKIP
    >>> [a.name for a in store.annotators()]  # doctest: +SKIP
    ['annotator-1', 'annotator-2', 'annotator-3']
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from quals.annotate.assignment import AssignmentConfig, assign_items
from quals.annotate.study import ATTRIBUTES, Study
from quals.files import atomic_path

FORMAT_VERSION = "1"
BUSY_TIMEOUT_S = 30.0
SIDES = ("left", "equal", "right")  # what the page posts
MAX_COMMENT_CHARS = 2000

_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (idx INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, document TEXT NOT NULL,
                    summary_a TEXT NOT NULL, summary_b TEXT NOT NULL);
CREATE TABLE annotators (idx INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, token TEXT NOT NULL UNIQUE);
CREATE TABLE assignments (annotator INTEGER NOT NULL REFERENCES annotators(idx),
                          position INTEGER NOT NULL, item INTEGER NOT NULL REFERENCES items(idx),
                          b_on_left INTEGER NOT NULL CHECK (b_on_left IN (0, 1)),
                          PRIMARY KEY (annotator, position), UNIQUE (annotator, item));
CREATE TABLE judgments (annotator INTEGER NOT NULL, item INTEGER NOT NULL,
                        {", ".join(f"{a} TEXT NOT NULL CHECK ({a} IN ('a', 'equal', 'b'))" for a in ATTRIBUTES)},
                        comment TEXT NOT NULL DEFAULT '', created TEXT NOT NULL, updated TEXT NOT NULL,
                        revisions INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (annotator, item),
                        FOREIGN KEY (annotator, item) REFERENCES assignments(annotator, item));
"""


@dataclass(frozen=True)
class Annotator:
    """An annotator, their secret token and their progress."""

    index: int
    name: str
    token: str
    assigned: int
    done: int


@dataclass(frozen=True)
class Task:
    """Item number ``position`` (from 0) of an annotator's queue, as the page shows it (blinded).

    ``answers`` maps attributes to ``left``/``equal``/``right`` once saved, and is empty before.
    """

    position: int
    total: int
    done: int
    document: str
    left: str
    right: str
    answers: dict[str, str]
    comment: str


@dataclass(frozen=True)
class Judgment:
    """One saved judgment, unblinded: ``choices`` maps attributes to ``a``/``equal``/``b``."""

    item_id: str
    annotator: str
    choices: dict[str, str]
    b_on_left: bool
    comment: str
    created: str
    updated: str
    revisions: int


def study_choice(side: str, b_on_left: bool) -> str:
    """The study-terms choice (``a``/``equal``/``b``) of a page choice (``left``/``equal``/``right``)."""
    if side not in SIDES:
        raise ValueError(f"choice must be one of {SIDES}, got {side!r}")
    if side == "equal":
        return "equal"
    return "b" if (side == "left") == b_on_left else "a"


def page_side(choice: str, b_on_left: bool) -> str:
    """The inverse of :func:`study_choice`."""
    if choice == "equal":
        return "equal"
    return "left" if (choice == "b") == b_on_left else "right"


class StudyStore:
    """One study's database file. Make one with :meth:`create`, reopen it with :meth:`open`."""

    def __init__(self, path: Path, meta: dict[str, str]) -> None:
        self.path = path
        self.study_sha256 = meta["study_sha256"]
        self.system_a = meta["system_a"]
        self.system_b = meta["system_b"]
        self.config = AssignmentConfig(annotators=int(meta["annotators"]), per_item=int(meta["per_item"]),
                                       seed=int(meta["seed"]))

    @classmethod
    def create(cls, path: str | Path, study: Study, config: AssignmentConfig) -> StudyStore:
        """Write a new database: the study's items, ``config.annotators`` tokens and the assignment.

        Raises:
            FileExistsError: ``path`` exists.
        """
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"database {path} exists")
        meta = {"format_version": FORMAT_VERSION, "study_sha256": study.sha256, "system_a": study.system_a,
                "system_b": study.system_b, "annotators": str(config.annotators), "per_item": str(config.per_item),
                "seed": str(config.seed), "created": _now()}
        with atomic_path(path) as temporary:  # built aside and moved in whole: a failed creation leaves nothing
            _write_new_database(temporary, study, config, meta)
        return cls(path, meta)

    @classmethod
    def open(cls, path: str | Path, study: Study) -> StudyStore:
        """Open the database of ``study``.

        Raises:
            FileNotFoundError: no database at ``path``.
            ValueError: it is not a study database of this version, or was made from another study file.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"database {path} does not exist")
        try:
            con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
            try:
                meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            finally:
                con.close()
        except sqlite3.DatabaseError as err:
            raise ValueError(f"{path} is not a quals study database ({err})") from None
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path} has study database format {meta.get('format_version')!r}; "
                             f"this quals reads format {FORMAT_VERSION}")
        if meta["study_sha256"] != study.sha256:
            raise ValueError(f"the study file changed since {path} was made from it (sha256 {study.sha256[:12]}..., "
                             f"database has {meta['study_sha256'][:12]}...); restore it or start a new database")
        return cls(path, meta)

    @contextmanager
    def _transaction(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            con.execute("PRAGMA foreign_keys = ON")
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    @property
    def n_items(self) -> int:
        with self._transaction() as con:
            return con.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def annotators(self) -> list[Annotator]:
        """All annotators with their progress, in order."""
        with self._transaction() as con:
            rows = con.execute(
                "SELECT n.idx, n.name, n.token, (SELECT COUNT(*) FROM assignments s WHERE s.annotator = n.idx),"
                " (SELECT COUNT(*) FROM judgments j WHERE j.annotator = n.idx) FROM annotators n ORDER BY n.idx"
            ).fetchall()
        return [Annotator(*row) for row in rows]

    def find_annotator(self, token: str) -> Annotator | None:
        """The annotator holding ``token``, or None."""
        return next((a for a in self.annotators() if secrets.compare_digest(a.token, token)), None)

    def next_position(self, annotator: int) -> int | None:
        """The first position of ``annotator``'s queue without a judgment, or None when all are done."""
        with self._transaction() as con:
            return con.execute(
                "SELECT MIN(s.position) FROM assignments s WHERE s.annotator = ? AND NOT EXISTS"
                " (SELECT 1 FROM judgments j WHERE j.annotator = s.annotator AND j.item = s.item)", (annotator,)
            ).fetchone()[0]

    def task(self, annotator: int, position: int) -> Task | None:
        """What ``annotator`` sees at ``position``, or None when the position is out of range."""
        with self._transaction() as con:
            total, done = con.execute(
                "SELECT (SELECT COUNT(*) FROM assignments WHERE annotator = ?),"
                " (SELECT COUNT(*) FROM judgments WHERE annotator = ?)", (annotator, annotator)).fetchone()
            row = con.execute(
                f"SELECT i.document, i.summary_a, i.summary_b, s.b_on_left, {', '.join('j.' + a for a in ATTRIBUTES)},"
                " j.comment FROM assignments s JOIN items i ON i.idx = s.item LEFT JOIN judgments j"
                " ON j.annotator = s.annotator AND j.item = s.item WHERE s.annotator = ? AND s.position = ?",
                (annotator, position)).fetchone()
        if row is None:
            return None
        document, summary_a, summary_b, b_on_left, *choices, comment = row
        left, right = (summary_b, summary_a) if b_on_left else (summary_a, summary_b)
        answers = {} if comment is None else {a: page_side(c, bool(b_on_left))
                                              for a, c in zip(ATTRIBUTES, choices, strict=True)}
        return Task(position, total, done, document, left, right, answers, comment or "")

    def save(self, annotator: int, position: int, sides: Mapping[str, str], comment: str = "") -> bool:
        """Save (or replace) ``annotator``'s judgment of the item at ``position``, atomically.

        Args:
            sides: for every attribute, ``left``, ``equal`` or ``right`` as chosen on the page.
            comment: free text, at most ``MAX_COMMENT_CHARS`` characters.

        Returns:
            True for a first judgment, False when it replaced an earlier one.

        Raises:
            ValueError: an attribute is missing or has another value, the comment is too long, or
                the position is not in the annotator's queue.
        """
        missing = [a for a in ATTRIBUTES if a not in sides]
        if missing:
            raise ValueError(f"no choice for {', '.join(missing)}")
        if len(comment) > MAX_COMMENT_CHARS:
            raise ValueError(f"the comment has {len(comment)} characters; at most {MAX_COMMENT_CHARS} are kept")
        now = _now()
        with self._transaction(write=True) as con:
            row = con.execute("SELECT item, b_on_left FROM assignments WHERE annotator = ? AND position = ?",
                              (annotator, position)).fetchone()
            if row is None:
                raise ValueError(f"annotator {annotator} has no item at position {position}")
            item, b_on_left = row
            choices = [study_choice(sides[a], bool(b_on_left)) for a in ATTRIBUTES]
            existed = con.execute("SELECT 1 FROM judgments WHERE annotator = ? AND item = ?",
                                  (annotator, item)).fetchone() is not None
            con.execute(
                f"INSERT INTO judgments (annotator, item, {', '.join(ATTRIBUTES)}, comment, created, updated)"
                f" VALUES (?, ?, {', '.join('?' for _ in ATTRIBUTES)}, ?, ?, ?) ON CONFLICT (annotator, item) DO UPDATE"
                f" SET {', '.join(f'{a} = excluded.{a}' for a in ATTRIBUTES)}, comment = excluded.comment,"
                " updated = excluded.updated, revisions = revisions + 1",
                (annotator, item, *choices, comment, now, now))
        return not existed

    def judgments(self) -> list[Judgment]:
        """Every saved judgment, by item (study order) then annotator."""
        with self._transaction() as con:
            rows = con.execute(
                f"SELECT i.id, n.name, {', '.join('j.' + a for a in ATTRIBUTES)}, s.b_on_left, j.comment, j.created,"
                " j.updated, j.revisions FROM judgments j JOIN items i ON i.idx = j.item"
                " JOIN annotators n ON n.idx = j.annotator"
                " JOIN assignments s ON s.annotator = j.annotator AND s.item = j.item ORDER BY j.item, j.annotator"
            ).fetchall()
        judgments = []
        for item_id, name, *rest in rows:
            choices = dict(zip(ATTRIBUTES, rest[:len(ATTRIBUTES)], strict=True))
            b_on_left, comment, created, updated, revisions = rest[len(ATTRIBUTES):]
            judgments.append(Judgment(item_id, name, choices, bool(b_on_left), comment, created, updated, revisions))
        return judgments

    def n_assignments(self) -> int:
        with self._transaction() as con:
            return con.execute("SELECT COUNT(*) FROM assignments").fetchone()[0]


def _write_new_database(path: Path, study: Study, config: AssignmentConfig, meta: dict[str, str]) -> None:
    items = [(k, item.id, item.document, item.summary_a, item.summary_b) for k, item in enumerate(study.items)]
    annotators = [(k, f"annotator-{k + 1}", secrets.token_urlsafe(16)) for k in range(config.annotators)]
    assignments = [(a.annotator, a.position, a.item, int(a.b_on_left))
                   for a in assign_items(len(study.items), config)]
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.executescript(_SCHEMA)
        con.execute("BEGIN")
        con.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        con.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)", items)
        con.executemany("INSERT INTO annotators VALUES (?, ?, ?)", annotators)
        con.executemany("INSERT INTO assignments VALUES (?, ?, ?, ?)", assignments)
        con.execute("COMMIT")
        con.execute("PRAGMA journal_mode = WAL")
    finally:
        con.close()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
