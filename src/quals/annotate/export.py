"""The results of a study: per attribute, B-vs-A shares, the sign test and agreement.

:func:`summarise_judgments` is pure (judgments in, :class:`StudyResults` out);
:func:`export_study` reads a database and writes ``human-eval.md``, ``human-eval.json``,
``human-eval.png``/``.svg`` (the stacked bar chart) and ``judgments.jsonl`` (every judgment,
unblinded, for analyses of your own).

What the numbers are:

- *shares*: over all judgments (one per annotator and item), how often B was better, equal, worse;
- *sign test*: two-sided, over items, each item's verdict being its net vote (B wins minus A wins);
  ties are left out. With one annotator per item, items and judgments are the same thing;
- *alpha*: Krippendorff's alpha (nominal) over items with at least two judgments.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from quals.annotate.stats import (
    PreferenceCounts,
    count_preferences,
    item_preferences,
    krippendorff_alpha_nominal,
    sign_test,
)
from quals.annotate.storage import Judgment, StudyStore
from quals.annotate.study import ATTRIBUTE_LABELS, ATTRIBUTES

STEM = "human-eval"


@dataclass(frozen=True)
class AttributeResult:
    """One attribute: judgment counts, item verdicts, the sign-test p-value over items and alpha."""

    attribute: str
    judgments: PreferenceCounts
    items: PreferenceCounts
    p_value: float | None
    alpha: float | None

    def to_dict(self) -> dict:
        return {"attribute": self.attribute, "label": ATTRIBUTE_LABELS[self.attribute],
                "judgments": self.judgments.to_dict(), "shares": self.judgments.shares(),
                "items": self.items.to_dict(), "sign_test_p": self.p_value, "krippendorff_alpha": self.alpha}


@dataclass(frozen=True)
class StudyResults:
    """Everything the export reports; ``signature`` says how it was computed."""

    system_a: str
    system_b: str
    n_items: int
    n_judged_items: int
    n_annotators: int
    n_judgments: int
    n_assignments: int
    attributes: tuple[AttributeResult, ...]
    signature: str

    def to_dict(self) -> dict:
        return {"system_a": self.system_a, "system_b": self.system_b, "n_items": self.n_items,
                "n_judged_items": self.n_judged_items, "n_annotators": self.n_annotators,
                "n_judgments": self.n_judgments, "n_assignments": self.n_assignments,
                "complete": self.n_judgments == self.n_assignments,
                "attributes": [a.to_dict() for a in self.attributes], "signature": self.signature}


def summarise_judgments(judgments: Sequence[Judgment], system_a: str, system_b: str, n_items: int,
                        n_assignments: int, signature: str) -> StudyResults:
    """Per-attribute statistics of ``judgments`` (B against A)."""
    results = []
    for attribute in ATTRIBUTES:
        by_item: dict[str, list[str]] = defaultdict(list)
        for judgment in judgments:
            by_item[judgment.item_id].append(judgment.choices[attribute])
        items = item_preferences(by_item.values())
        results.append(AttributeResult(attribute, count_preferences(j.choices[attribute] for j in judgments), items,
                                       sign_test(items.better, items.worse),
                                       krippendorff_alpha_nominal(list(by_item.values()))))
    return StudyResults(system_a, system_b, n_items, len({j.item_id for j in judgments}),
                        len({j.annotator for j in judgments}), len(judgments), n_assignments, tuple(results),
                        signature)


def render_markdown(results: StudyResults) -> str:
    """The results as a Markdown section: one table row per attribute, then how to read it."""
    a, b = (name.replace("|", "\\|") for name in (results.system_a, results.system_b))  # table-safe
    lines = [f"# Human evaluation: {b} (B) vs {a} (A)", ""]
    status = "complete" if results.n_judgments == results.n_assignments else \
        f"**incomplete: {results.n_judgments} of {results.n_assignments} assigned judgments**"
    lines += [f"{results.n_judgments} judgments by {results.n_annotators} annotators on {results.n_judged_items} of "
              f"{results.n_items} items ({status}).", "",
              f"| Attribute | {b} better | Equal | {b} worse | Items B/=/A | Sign test p | Krippendorff's alpha |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results.attributes:
        shares = r.judgments.shares()
        cells = [f"{shares[k]:.1%} ({getattr(r.judgments, k)})" if shares[k] is not None else "n/a"
                 for k in ("better", "equal", "worse")]
        lines.append(f"| {ATTRIBUTE_LABELS[r.attribute]} | {' | '.join(cells)} | "
                     f"{r.items.better}/{r.items.equal}/{r.items.worse} | {_number(r.p_value, '.3g')} | "
                     f"{_number(r.alpha, '.3f')} |")
    lines += ["", f"Shares are over judgments. The sign test (two-sided) compares the items where {b} won with the "
              f"items where {a} won, an item's verdict being its net vote; ties are left out. Alpha is "
              "Krippendorff's alpha for nominal values over items with two or more judgments (1: perfect "
              "agreement, 0: chance); n/a when undefined.", "", f"`{results.signature}`", ""]
    return "\n".join(lines)


def export_study(store: StudyStore, output_dir: str | Path) -> list[Path]:
    """Write the Markdown, JSON, chart and per-judgment JSONL of ``store`` into ``output_dir``.

    Returns:
        The written paths: Markdown, JSON, PNG, SVG, JSONL.
    """
    from quals import __version__, provenance
    from quals.annotate.chart import plot_preferences

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    judgments = store.judgments()
    config = store.config
    signature = provenance.signature(
        f"quals-annotate:{__version__}", f"study_sha256={store.study_sha256[:16]}", f"annotators={config.annotators}",
        f"per_item={config.per_item}", f"seed={config.seed}", "shares=judgments", "sign_test=two-sided,items,net-vote",
        "agreement=krippendorff-alpha-nominal")
    results = summarise_judgments(judgments, store.system_a, store.system_b, store.n_items, store.n_assignments(),
                                  signature)
    markdown = output_dir / f"{STEM}.md"
    markdown.write_text(render_markdown(results), encoding="utf-8")
    summary = output_dir / f"{STEM}.json"
    summary.write_text(json.dumps(results.to_dict(), indent=2) + "\n", encoding="utf-8")
    figures = plot_preferences(results, output_dir / STEM)
    rows = output_dir / "judgments.jsonl"
    with rows.open("w", encoding="utf-8") as handle:
        for j in judgments:
            handle.write(json.dumps({"id": j.item_id, "annotator": j.annotator, **j.choices,
                                     "b_shown": "left" if j.b_on_left else "right", "comment": j.comment,
                                     "created": j.created, "updated": j.updated, "revisions": j.revisions},
                                    ensure_ascii=False) + "\n")
    return [markdown, summary, *figures, rows]


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)
