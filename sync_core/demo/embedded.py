"""The embedded default: a demo MIS database and a QuickBooks simulator, both created on first
use under the git-ignored data folder, so `streamlit run app.py` works with no configuration."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sync_core.database import create_db_engine
from sync_core.settings import Secret, Settings

DEMO_SIMULATOR_LATENCY_MS = 120  # a little network delay makes the demo's progress visible

_simulators: dict[Path, object] = {}
_simulators_lock = threading.Lock()


def ensure_demo_database(settings: Settings, *, with_history: bool = True) -> Path:
    """Create and fill the demo SQLite MIS the first time it is needed; return its path.

    The default demo is the real experience: the university's table shape, and rows an earlier
    integration synced, left stuck or lost, whose customers the embedded simulator already
    holds (:func:`embedded_simulator`). It is built under a temporary name and moved into place,
    so a dashboard and a CLI starting together never see a half-filled database.
    """
    path = settings.demo_database_path
    if path.exists():
        return path
    from sync_core.demo.data import create_demo_database  # the generator: only to build it
    from sync_core.mis.setup import ensure_tracking_columns

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    engine = create_db_engine(f"sqlite:///{partial}")
    try:
        create_demo_database(engine, with_history=with_history)
        ensure_tracking_columns(engine)
    finally:
        engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    if path.exists():  # another process won the race; keep theirs
        partial.unlink(missing_ok=True)
    else:
        os.replace(partial, path)
    return path


def embedded_simulator(settings: Settings):
    """The process's QuickBooks simulator for the demo, started once, its company kept in
    ``data/qbo_simulator.sqlite`` so customers and tokens survive a restart. Its limits are the
    client's limits, so the demo paces itself exactly as against QuickBooks."""
    from qbo_simulator import Faults, QuickBooksSimulator, SimulatorConfig

    store = settings.data_dir / "qbo_simulator.sqlite"
    with _simulators_lock:
        simulator = _simulators.get(store)
        if simulator is None:
            store.parent.mkdir(parents=True, exist_ok=True)
            config = SimulatorConfig(
                requests_per_minute=settings.qbo_requests_per_minute,
                batch_requests_per_minute=settings.qbo_batch_requests_per_minute,
                max_concurrent=settings.qbo_max_concurrent,
                limit_window_s=settings.qbo_limit_window_s,
                refresh_token_rotation_s=86400,  # as Intuit: the value changes about daily
            )
            simulator = QuickBooksSimulator(
                config,
                store_path=store,
                faults=Faults(latency_ms=DEMO_SIMULATOR_LATENCY_MS),
                customers=_earlier_customers(settings),
            ).start()
            _simulators[store] = simulator
        return simulator


def _earlier_customers(settings: Settings) -> list[dict[str, Any]]:
    """The customers the earlier integration made for the demo MIS (none without history, or
    when the MIS is the university's own): the simulator starts with them, once."""
    from sync_core.demo.data import legacy_customers, read_demo_marker

    if not settings.uses_demo_database or not settings.demo_database_path.exists():
        return []
    engine = create_db_engine(f"sqlite:///{settings.demo_database_path}")
    try:
        return legacy_customers(engine) if read_demo_marker(engine) else []
    finally:
        engine.dispose()


def demo_token_key(settings: Settings) -> Secret:
    """The demo's token encryption key, generated once into the data folder (mode 0600)."""
    from sync_core.store.tokens import generate_key

    path = settings.data_dir / "qbo_token.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process wrote it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(generate_key())
    return Secret(path.read_text().strip())


def reset_embedded_demo(settings: Settings) -> Any:
    """``demo-db --reset``: the embedded demo as on first start. Its MIS is regenerated from
    its marker (same seed, sizes, history), the product's record of syncing it is cleared
    (runs, record states, audit trail, locks, rate windows, outbox; the QuickBooks
    connection, API keys, schedules and users stay), and the simulator's company holds again
    only the customers the earlier integration made. Answers the demo's summary."""
    import sqlalchemy as sa

    from sync_core.database import write_transaction
    from sync_core.demo.data import reset_demo_database
    from sync_core.domain.errors import ConfigurationError
    from sync_core.mis.setup import ensure_tracking_columns
    from sync_core.store.setup import SYNC_STATE_TABLES

    if not settings.uses_demo_database:
        raise ConfigurationError(
            "demo-db --reset without --url resets the embedded demo only, and MIS_DATABASE_URL "
            "points at a university MIS: nothing was changed",
            what_to_do="Give --url of a demo database to reset that one.",
        )
    path = ensure_demo_database(settings)
    engine = create_db_engine(f"sqlite:///{path}")
    try:
        summary = reset_demo_database(engine)
        ensure_tracking_columns(engine)
        present = {t.lower() for t in sa.inspect(engine).get_table_names()}
        with write_transaction(engine) as conn:
            for table in SYNC_STATE_TABLES:
                if table.name.lower() in present:
                    conn.execute(table.delete())
    finally:
        engine.dispose()
    _reset_simulator_company(settings, summary.customers)
    return summary


def _reset_simulator_company(settings: Settings, customers: list[dict[str, Any]]) -> None:
    store = settings.data_dir / "qbo_simulator.sqlite"
    if not store.exists():
        return  # made with these customers when the demo next starts
    from qbo_simulator import QuickBooksSimulator, SimulatorConfig

    simulator = QuickBooksSimulator(SimulatorConfig(), store_path=store)
    try:
        simulator.reset()  # customers and request log; its OAuth grants stay
        if customers:
            simulator.load_customers(customers)
    finally:
        simulator.store.close()
