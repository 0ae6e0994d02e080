"""The runner side of a mission lease: a thread that renews it while the runner works, and lets go at the end.

A runner that dies (SIGKILL) stops renewing; its lease expires after HOPFLOW_MISSION_LEASE_SECONDS and
the next runner takes the mission over. Renewals are short units of work of their own.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from hopflow.models.access.leases import read_lease_holder, release_lease, renew_lease
from hopflow.models.db import session_scope
from hopflow.models.orm import utcnow
from hopflow.models.settings import get_settings

logger = logging.getLogger("hopflow.leases")


class LeaseKeeper:
    """`with LeaseKeeper(mission_id, owner):` renews the lease every third of its duration.

    It may be entered before the lease is taken (so that no stall between taking it and entering,
    such as a slow Prefect API finishing the task that took it, lets it expire): until `held()` is
    called, a renewal that finds the lease not held waits for the next round instead of giving up.
    """

    def __init__(self, mission_id: str, owner: str, seconds: float | None = None) -> None:
        self.mission_id = mission_id
        self.owner = owner
        self.seconds = seconds or get_settings().mission_lease_seconds
        self.lost = threading.Event()
        self._held = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"hopflow-lease-{mission_id[:8]}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def held(self) -> None:
        """The runner took the lease: from now on a renewal that fails means it was lost."""
        self._held.set()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        try:
            with session_scope() as session:
                release_lease(session, self.mission_id, self.owner)
        except Exception as error:  # the database may be what failed; the lease then simply expires
            logger.warning("mission %s: could not release the lease (%s)", self.mission_id, error)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                with session_scope() as session:
                    held = renew_lease(
                        session, self.mission_id, self.owner, seconds=self.seconds, now=utcnow()
                    )
                    holder = None if held else read_lease_holder(session, self.mission_id)
            except Exception as error:  # keep trying: a blip must not end the lease early
                logger.warning("mission %s: lease renewal failed (%s)", self.mission_id, error)
                continue
            if held or not self._held.is_set():
                continue
            if holder is not None:  # None: the runner let go itself (mission finished or failed)
                logger.error(
                    "mission %s: runner %s lost its lease to flow run %s", self.mission_id, self.owner, holder
                )
                self.lost.set()
            return


def let_go(mission_id: str) -> None:
    """The runner in this process was interrupted (Ctrl-C) and is going away with it: free the
    mission's lease at once, whoever's flow run holds it, instead of letting it expire."""
    with session_scope() as session:
        holder = read_lease_holder(session, mission_id)
        if holder is not None:
            release_lease(session, mission_id, holder)
