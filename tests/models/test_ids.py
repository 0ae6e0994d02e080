"""Row ids: random version-4 UUIDs from a pool of kernel randomness, unique across threads and a fork."""

from __future__ import annotations

import os
import threading
import uuid

from hopflow.models.orm.base import _RandomPool, new_id


def test_ids_are_version_4_uuids_and_unique_across_threads_and_pool_refills() -> None:
    per_thread = 3 * _RandomPool.SIZE // 16  # each thread alone passes the pool's refill three times
    results: list[list[str]] = [[] for _ in range(4)]

    def make(out: list[str]) -> None:
        out.extend(new_id() for _ in range(per_thread))

    threads = [threading.Thread(target=make, args=(out,)) for out in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for out in results for i in out]
    assert len(set(ids)) == len(ids) == 4 * per_thread
    parsed = [uuid.UUID(i) for i in ids[::97]]
    assert {(u.version, u.variant) for u in parsed} == {(4, uuid.RFC_4122)}
    assert all(str(u) == i for u, i in zip(parsed, ids[::97], strict=True))


def test_a_forked_child_does_not_hand_out_its_parents_next_ids() -> None:
    new_id()  # the pool is part-used when the process forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.write(write, ",".join(new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split(","))
    parent = {new_id() for _ in range(50)}
    assert len(child) == 50 and not child & parent
