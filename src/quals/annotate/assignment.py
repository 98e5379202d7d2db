"""Who judges which item, in which order, and which summary they see on the left.

Pure and seeded: the same (items, design) always gives the same assignment, so a study database
can be rebuilt from its study file and design. Three balances hold by construction:

- every item is judged by exactly ``per_item`` different annotators;
- annotators' workloads differ by at most one item;
- each annotator sees system B on the left in half of their items (one more or less when odd),
  so a preference for the left (or right) position cannot favour either system.

Which items those are, and the order each annotator works in, are random.

Example:
    >>> rows = assign_items(4, AssignmentConfig(annotators=2, per_item=1, seed=0))
    >>> sorted(sum(1 for r in rows if r.annotator == a) for a in range(2))
    [2, 2]
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AssignmentConfig:
    """The design of a study: how many annotators, how many judge each item, and the seed."""

    annotators: int = field(default=3, metadata={"help": "Annotators, one personal link each."})
    per_item: int = field(default=3, metadata={"help": "Annotators who judge each item (at most --annotators); "
                                                       "2 or more to measure agreement."})
    seed: int = field(default=0, metadata={"help": "Seed of the assignment, item order and left/right order."})

    def __post_init__(self) -> None:
        if self.annotators < 1:
            raise ValueError(f"annotators must be >= 1, got {self.annotators}")
        if not 1 <= self.per_item <= self.annotators:
            raise ValueError(f"per_item must be between 1 and annotators ({self.annotators}), got {self.per_item}")


@dataclass(frozen=True)
class Assignment:
    """Annotator ``annotator`` judges item ``item`` as number ``position`` (from 0) of their queue."""

    annotator: int
    item: int
    position: int
    b_on_left: bool


def assign_items(n_items: int, config: AssignmentConfig) -> list[Assignment]:
    """Assign ``n_items`` items (indices 0..n_items-1) to ``config.annotators`` annotators.

    Items are shuffled, then dealt round-robin ``per_item`` at a time: item k of the shuffled order
    goes to annotators ``(k * per_item + j) % annotators`` for ``j < per_item``, which are distinct
    because ``per_item <= annotators``, and the deal spreads ``n_items * per_item`` judgments evenly.

    Returns:
        One :class:`Assignment` per (annotator, item), sorted by annotator then position.

    Raises:
        ValueError: ``n_items`` < 1.
    """
    if n_items < 1:
        raise ValueError(f"n_items must be >= 1, got {n_items}")
    rng = random.Random(config.seed)
    order = list(range(n_items))
    rng.shuffle(order)
    queues: list[list[int]] = [[] for _ in range(config.annotators)]
    for k, item in enumerate(order):
        for j in range(config.per_item):
            queues[(k * config.per_item + j) % config.annotators].append(item)
    assignments = []
    for annotator, queue in enumerate(queues):
        rng.shuffle(queue)
        for position, (item, b_on_left) in enumerate(zip(queue, _balanced_sides(len(queue), rng), strict=True)):
            assignments.append(Assignment(annotator, item, position, b_on_left))
    return assignments


def _balanced_sides(count: int, rng: random.Random) -> list[bool]:
    """``count`` flags, half True (the odd one out is a coin flip), in random order."""
    sides = [True] * (count // 2) + [False] * (count // 2)
    if count % 2:
        sides.append(rng.random() < 0.5)
    rng.shuffle(sides)
    return sides
