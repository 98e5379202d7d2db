"""QA-pair generation: diverse beam search and its settings (torch loads on first use)."""

from quals.generation.config import GenerationConfig


def __getattr__(name: str):
    if name in ("TokenConstraint", "diverse_beam_search"):
        from quals.generation import diverse_beam

        return getattr(diverse_beam, name)
    raise AttributeError(name)


__all__ = ["GenerationConfig", "TokenConstraint", "diverse_beam_search"]
