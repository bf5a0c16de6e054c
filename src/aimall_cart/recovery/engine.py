"""The recovery engine's per-process state: its random generator, text index and templates.

Built lazily by the worker and the admin route, so the model libraries are never imported at API
start-up.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from aimall_cart.recovery.alternatives import TextIndex
from aimall_cart.recovery.messages import Renderer

# "bandit" is the product. "blanket_discount" gives every ai-group cart the largest discount the
# policy allows: the comparison arm the simulator reports beside the bandit.
Strategy = Literal["bandit", "blanket_discount"]


@dataclass
class Engine:
    rng: np.random.Generator
    strategy: Strategy = "bandit"
    seed: int | None = None
    index: TextIndex = field(default_factory=TextIndex)
    renderer: Renderer = field(default_factory=Renderer)

    @classmethod
    def create(cls, *, seed: int | None = None, strategy: Strategy = "bandit") -> Engine:
        return cls(rng=np.random.default_rng(seed), strategy=strategy, seed=seed)

    def draws_for(self, customer: str, stage: int) -> np.random.Generator:
        """The random stream one decision draws from. A seeded engine gives each (customer, stage)
        its own stream, so a run repeats exactly whatever order the database hands cases over
        in (cart ids are random); an unseeded one shares a single stream. Seeding is for
        simulations and tests: one customer's two carts at the same stage would draw alike."""
        if self.seed is None:
            return self.rng
        digest = hashlib.blake2b(customer.encode(), digest_size=8).digest()
        return np.random.default_rng([self.seed, int.from_bytes(digest, "big"), stage])
