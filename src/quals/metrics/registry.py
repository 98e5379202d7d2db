"""Scorers by name: every command and the meta-evaluation build QUALS, QAGS, FactCC and the baselines here.

One place decides which model each scorer reads and shares loaded models between them, so a
new metric (a trained QAGS, a classifier) plugs in by adding a name, and a command cannot forget
to pass the device, dtype or batch size to one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

SCORERS = ("quals", "qags", "factcc", "lexical", "likelihood")


@dataclass(frozen=True)
class ScorerOptions:
    """What the scorers are built from (the command line's model, device and metric flags).

    ``model`` None: QUALS reads the default QAGen and QAGS and the likelihood baselines the
    packaged base model (prompted QG/QA and plain summary likelihood are not what a QAGen adapter
    was trained for); a model given is read by all of them, loaded once. FactCC reads a
    sequence classifier, ``factcc_model`` (default: the shipped FactCC-style classifier).
    """

    model: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 64
    quals_preset: str = "default"
    quals_settings: dict = field(default_factory=dict)
    qags_settings: dict = field(default_factory=dict)
    qg_model: str | None = None
    qa_model: str | None = None
    factcc_model: str | None = None
    factcc_settings: dict = field(default_factory=dict)
    show_progress: bool = False


class ScorerFactory:
    """``build(name)`` makes the scorer ``name`` of :data:`SCORERS`; scorers on the same model share
    one loaded :class:`quals.QAGen`."""

    def __init__(self, options: ScorerOptions) -> None:
        self.options = options
        self._qagens: dict[str, object] = {}
        self._builders: dict[str, Callable[[], object]] = {
            "quals": self._quals, "qags": self._qags, "factcc": self._factcc, "lexical": self._lexical,
            "likelihood": self._likelihood}

    def build(self, name: str):
        if name not in self._builders:
            raise ValueError(f"unknown scorer {name!r}; known: {', '.join(SCORERS)}")
        return self._builders[name]()

    def qagen(self, default_model: str):
        """The loaded QAGen of ``options.model`` (or ``default_model``), loaded once."""
        o = self.options
        model = o.model or default_model
        if model not in self._qagens:
            from quals.qagen import QAGen

            window = {k: v for k, v in o.quals_settings.items() if k in ("window_tokens", "window_overlap")}
            self._qagens[model] = QAGen(model, device=o.device, dtype=o.dtype, batch_size=o.batch_size,
                                        show_progress=o.show_progress, **window)
        return self._qagens[model]

    def _quals(self):
        from quals.metrics.quals import QUALS
        from quals.metrics.quals_config import preset_config
        from quals.models.packaged import DEFAULT_MODEL

        return QUALS(qagen=self.qagen(DEFAULT_MODEL), config=preset_config(self.options.quals_preset),
                     **self.options.quals_settings)

    def _qags(self):
        from quals.metrics.qags import QAGS, qags_components
        from quals.models.packaged import DEFAULT_BASE_MODEL

        o = self.options
        qg_model, qa_model = qags_components(o.model, o.qg_model, o.qa_model)
        external = qg_model is not None and qa_model is not None
        return QAGS(o.model, qg_model=qg_model, qa_model=qa_model, device=o.device,
                    dtype=o.dtype, batch_size=o.batch_size, show_progress=o.show_progress,
                    qagen=None if external else self.qagen(DEFAULT_BASE_MODEL), **o.qags_settings)

    def _factcc(self):
        from quals.metrics.factcc import DEFAULT_FACTCC_MODEL, FactCC

        o = self.options
        return FactCC(o.factcc_model or DEFAULT_FACTCC_MODEL, device=o.device, dtype=o.dtype, batch_size=o.batch_size,
                      **o.factcc_settings)

    def _lexical(self):
        from quals.metrics.baselines import LexicalBaselines

        return LexicalBaselines()

    def _likelihood(self):
        from quals.metrics.baselines import LikelihoodBaselines
        from quals.models.packaged import DEFAULT_BASE_MODEL

        return LikelihoodBaselines(self.qagen(DEFAULT_BASE_MODEL))
