"""Which waiting jobs the runner starts next, fairly across workspaces.

Pure. The runner has ``free`` slots and a list of jobs that could start, oldest first. Taking
them oldest first lets one workspace's burst of fifty jobs hold every slot until it has
drained, while another workspace's single job waits behind it. Instead each slot goes to the
workspace with the fewest jobs running (counting the ones picked in this pass), and within a
workspace to its oldest job; ties between workspaces go to the one whose oldest waiting job
is older. A workspace alone on the cluster still gets every slot.

    >>> pick_fairly([Waiting("a1", "A"), Waiting("a2", "A"), Waiting("b1", "B")], {}, 2)
    ['a1', 'b1']
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Waiting:
    job_id: str
    workspace_id: str


def pick_fairly(
    waiting: Sequence[Waiting], running: Mapping[str, int], free: int
) -> list[str]:
    """The ids of up to ``free`` jobs to start now.

    Args:
        waiting: jobs that could start, oldest first.
        running: jobs running per workspace id.
        free: slots the runner has.
    """
    queues: dict[str, deque[str]] = defaultdict(deque)
    age: dict[str, int] = {}  # a workspace's rank by its oldest waiting job
    for n, w in enumerate(waiting):
        queues[w.workspace_id].append(w.job_id)
        age.setdefault(w.workspace_id, n)
    load = Counter(running)
    picked: list[str] = []
    while len(picked) < free and queues:
        ws = min(queues, key=lambda k: (load[k], age[k]))
        picked.append(queues[ws].popleft())
        load[ws] += 1
        if not queues[ws]:
            del queues[ws]
    return picked
