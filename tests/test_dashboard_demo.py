"""The default demo is the real experience: the university's table shape, an earlier
integration's history, its customers already in QuickBooks; and the Check page. Through
Streamlit's AppTest, as an operator sees it."""

from __future__ import annotations

import pytest
from conftest import status_counts
from streamlit.testing.v1 import AppTest
from test_dashboard import (
    APP,
    PRODUCT_ENV,
    _stop_runs,
    assert_fine,
    metric,
    open_page,
    table_with,
    texts,
)

from sync_core.domain.access import Actor, Role
from sync_core.domain.identity import Verdict, identify
from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.domain.statuses import RunState, Scope, SyncStatus
from sync_core.settings import load_settings
from sync_core.sync.request import SyncRequest

pytestmark = pytest.mark.integration


@pytest.fixture
def default_demo(tmp_path, monkeypatch):
    """The demo a new user gets: no configuration at all (a fresh data folder)."""
    for name in PRODUCT_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SYNC_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    monkeypatch.setenv("QBO_LIMIT_WINDOW_S", "2")
    monkeypatch.setenv("QBO_LIMIT_WINDOW_MARGIN_S", "0.2")
    settings = load_settings()
    yield settings
    _stop_runs(settings)


def test_the_default_demo_has_the_earlier_integrations_history(default_demo):
    from views._components import ui

    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert_fine(at)
    synced = int(metric(at, "Synced").replace(",", ""))
    assert synced > 0  # the earlier integration synced part of the demo already
    assert "synced without a QuickBooks Id" in texts(at)

    service = ui._open_context(ui._fingerprint(default_demo), default_demo)
    assert service.schema.applicants.quickbooks_id.name == "quickbooks_id"
    simulator = service.embedded_simulator
    before = simulator.inspect(customer_limit=100_000).customers  # type: ignore[attr-defined]
    assert before, "the earlier integration's customers are in the simulated company"
    result = service.run_sync(
        SyncRequest(Scope.ALL, "x", batch_size=100, retry_failed=True),
        Actor("Demo Registrar", Role.OPERATOR),
    )
    assert result is not None
    assert result.run.state in (RunState.COMPLETED, RunState.COMPLETED_WITH_ERRORS)
    assert result.run.adopted + result.run.reconciled > 0  # stuck and lost rows adopted
    everyone = simulator.inspect(customer_limit=100_000).customers  # type: ignore[attr-defined]
    counts = status_counts(service, APPLICANT) + status_counts(service, STUDENT)
    assert counts[SyncStatus.IN_PROGRESS] == 0
    for kind in (APPLICANT, STUDENT):  # never a twin: each synced record is one customer
        page = service.preview(kind, limit=100)
        assert page.total == 0
    sample = [service.record(APPLICANT, row_id) for row_id in range(60, 400, 7)]
    for detail in sample:
        if detail is None or detail.source.qk_id is None:
            continue
        theirs = [c for c in everyone if identify(c, detail.mapped).verdict is Verdict.THIS]
        assert [c["Id"] for c in theirs] == [detail.source.qk_id]

    open_page(at, "overview")
    assert int(metric(at, "Synced").replace(",", "")) > synced


def test_the_check_page_shows_the_mis_as_found(default_demo):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    open_page(at, "check")
    assert_fine(at)
    assert [t.value for t in at.title] == ["Check"]
    assert metric(at, "MIS database") == "reachable"
    columns = table_with(at, "Status column", "QuickBooks Id column")
    assert set(columns["Status column"]) == {"QuickBk_status"}
    assert set(columns["QuickBooks Id column"]) == {"quickbooks_id", "qk_id"}
    tables = table_with(at, "Table", "Column", "Found", "Used for")
    assert {"tbl_online_application", "tbl_program_type"} <= set(tables["Table"])
    assert "SQLite" in "\n".join(t.value for t in at.text)
