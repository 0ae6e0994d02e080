"""A process's first mission freezes what the imports built out of the garbage collector's way, once."""

from __future__ import annotations

import gc

from hopflow.flows import heap


def test_the_first_mission_freezes_the_imports_and_later_ones_do_not() -> None:
    gc.unfreeze()
    heap._frozen = False
    heap.freeze_imports()
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # Prefect, SQLAlchemy, pydantic and hopflow are imported here
    later = [[i] for i in range(1_000)]  # a mission's own objects stay collectable
    heap.freeze_imports()
    # Not an equality: a frozen object that another thread releases leaves the permanent generation.
    assert gc.get_freeze_count() <= frozen
    collectable = {id(o) for o in gc.get_objects()}  # generations 0-2; the permanent one is not listed
    assert all(id(o) in collectable for o in later)
