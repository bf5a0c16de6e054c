from aimall_cart.recovery.engine import Engine


def _draws(engine: Engine, customer: str, stage: int) -> list[float]:
    return list(engine.draws_for(customer, stage).random(4))


def test_a_seeded_engine_gives_each_decision_its_own_repeatable_stream() -> None:
    first, second = Engine.create(seed=5), Engine.create(seed=5)
    _draws(second, "someone-else", 1)  # other decisions taken first change nothing
    assert _draws(first, "ann", 1) == _draws(second, "ann", 1)
    assert _draws(first, "ann", 1) != _draws(first, "ann", 2)
    assert _draws(first, "ann", 1) != _draws(first, "bob", 1)
    assert _draws(first, "ann", 1) != _draws(Engine.create(seed=6), "ann", 1)


def test_an_unseeded_engine_shares_one_stream() -> None:
    engine = Engine.create()
    assert engine.draws_for("ann", 1) is engine.draws_for("bob", 2) is engine.rng
