"""Pairwise human evaluation, run locally: build a study, serve it to annotators, export statistics.

The workflow of the paper's human study (two systems' summaries of the same documents, judged
better / worse / equal on factual consistency, informativeness and grammatical correctness),
without a cloud service: a study JSONL file, an SQLite database next to it, a web app bound to
127.0.0.1, and an export with shares, sign tests, Krippendorff's alpha and a bar chart.

Example:
    >>> from quals.annotate import AssignmentConfig, StudyStore, build_study, export_study, write_study
    >>> study = build_study("mle.jsonl", "conseq.jsonl")  # doctest: +SKIP
    >>> store = StudyStore.create("study.sqlite", study, AssignmentConfig(annotators=3, per_item=2))  # doctest: +SKIP
    >>> export_study(store, "results")  # doctest: +SKIP
"""

from quals.annotate.assignment import Assignment, AssignmentConfig, assign_items
from quals.annotate.build import BuildConfig, build_study
from quals.annotate.export import StudyResults, export_study, summarise_judgments
from quals.annotate.stats import PreferenceCounts, krippendorff_alpha_nominal, sign_test
from quals.annotate.storage import StudyStore
from quals.annotate.study import ATTRIBUTES, Study, StudyItem, read_study, write_study

__all__ = [
    "ATTRIBUTES", "Assignment", "AssignmentConfig", "BuildConfig", "PreferenceCounts", "Study", "StudyItem",
    "StudyResults", "StudyStore", "assign_items", "build_study", "export_study", "krippendorff_alpha_nominal",
    "read_study", "sign_test", "summarise_judgments", "write_study",
]
