"""How a run splits its concurrent requests between batch requests and single ones.

QuickBooks counts batch requests in its 500 requests a minute as well as in their own 40: 40
batches carry 1,200 records, and the 460 requests batches leave carry up to 460 more one by one
(less what the run's look-ups need; :class:`~sync_core.quickbooks.limiter.Limits`). So a run
sends both at once, each kind from its own workers, so that a slow single never holds up a
batch, nor the other way round.
"""

from __future__ import annotations

from sync_core import defaults
from sync_core.quickbooks.limiter import Limits


def lane_widths(workers: int) -> tuple[int, int]:
    """(batch workers, single workers) for ``workers`` concurrent requests: half send singles,
    and one place is left for the run's own look-ups, so that the lanes and the look-ups never
    queue for one another's concurrency slot. No singles below three workers."""
    if workers < 3:
        return max(workers, 1), 0
    singles = workers // 2
    return workers - singles - 1, singles


def singles_share(limits: Limits, per_batch: int = defaults.MAX_BATCH_ITEMS) -> float:
    """The share of records single requests can carry under ``limits``: 414 of 1,614 (about a
    quarter) at QuickBooks' limits."""
    by_batch = limits.batch_requests_per_minute * per_batch
    return limits.spare_per_window / max(by_batch + limits.spare_per_window, 1)


def split_for_lanes(count: int, limits: Limits) -> int:
    """How many of ``count`` records to send one by one: the records batches of 30 leave once
    the batches have their share, so that every batch is full."""
    per_batch = defaults.MAX_BATCH_ITEMS
    batches = round(count * (1 - singles_share(limits, per_batch)) / per_batch)
    return max(count - batches * per_batch, 0)
