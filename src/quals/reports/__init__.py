"""Render results for people: HTML explanation pages (QUALS, QAGS) and the per-token figure.

Reports never compute metrics; they draw what a :class:`~quals.metrics.results.QualsExample` (or a
:class:`~quals.metrics.qags_results.QagsExample`) holds.
matplotlib is imported only when a figure is drawn.
"""

from quals.reports.html import render_explanation
from quals.reports.plots import plot_token_probabilities
from quals.reports.qags_html import render_qags_explanation

__all__ = ["plot_token_probabilities", "render_explanation", "render_qags_explanation"]
