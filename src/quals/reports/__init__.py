"""Render results for people: an HTML explanation page and the per-token figure.

Reports never compute metrics; they draw what a :class:`~quals.metrics.results.QualsExample` holds.
matplotlib is imported only when a figure is drawn.
"""

from quals.reports.html import render_explanation
from quals.reports.plots import plot_token_probabilities

__all__ = ["plot_token_probabilities", "render_explanation"]
