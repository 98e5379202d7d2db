"""QA-pair generation: diverse beam search and its settings."""

from quals.generation.config import GenerationConfig
from quals.generation.diverse_beam import TokenConstraint, diverse_beam_search

__all__ = ["GenerationConfig", "TokenConstraint", "diverse_beam_search"]
