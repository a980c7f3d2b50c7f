"""The Reconcile page through Streamlit's AppTest, on the demo MIS and the embedded simulator:
what finance sees after reading QuickBooks (counts, twins with balances, drift field by field),
an orphan linked in two steps, what changed since pushed, and text from QuickBooks shown as the
text it is (no Markdown)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import repair_planted_failures
from streamlit.testing.v1 import AppTest

from sync_core.demo.embedded import ensure_demo_database
from sync_core.domain.access import Actor, Role
from sync_core.domain.statuses import Scope
from sync_core.settings import load_settings
from sync_core.sync.request import SyncRequest

PAGE = Path(__file__).resolve().parent.parent / "views" / "reconcile.py"
HOSTILE = "**Bold** :material/warning: [click](http://evil.example) <b>x</b>"
ENV = (
    "MIS_DATABASE_URL",
    "QBO_ENVIRONMENT",
    "QBO_API_BASE_URL",
    "QBO_DISCOVERY_URL",
    "QBO_TOKEN_KEY",
    "QBO_REALM_ID",
    "QBO_REFRESH_TOKEN",
    "QBO_CUSTOM_FIELDS",
    "SYNC_STUDENT_CUSTOMER",
)


@pytest.fixture
def demo(tmp_path, monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SYNC_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    monkeypatch.setenv("QBO_LIMIT_WINDOW_S", "2")
    monkeypatch.setenv("QBO_LIMIT_WINDOW_MARGIN_S", "0.2")
    settings = load_settings()
    ensure_demo_database(settings, with_history=False)
    from views._components import ui

    service = ui._open_context(ui._fingerprint(settings), settings)
    yield service


def page() -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    at.session_state["operator"] = "Finance Clerk"
    return at


def fine(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    problems = [e.value for e in at.error if "went wrong" in e.value or "could not" in e.value]
    assert not problems, problems


def frame(at: AppTest, prefix: str):
    """A selectable table, by its key."""
    found = [d for d in at.dataframe if (d.key or "").startswith(prefix)]
    assert found, [d.key for d in at.dataframe]
    return found[0]


def table_with(at: AppTest, *columns: str):
    """A plain table (Streamlit keys only selectable ones), by its columns."""
    found = [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]
    assert found, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def markdown_text(at: AppTest) -> str:
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "success", "info", "warning"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts + [str(e.value) for e in at.error])


def prepare(service) -> dict[str, str]:
    """Applicants synced; then finance and hand-made customers as a company has them."""
    who = Actor("Setup", Role.ADMIN)
    repair_planted_failures(service)  # the first 40 applicants all become customers
    service.run_sync(SyncRequest(Scope.APPLICANTS, operator="Setup", limit=40), who)
    sim = service.embedded_simulator
    first = service.record("applicant", 1)
    twin = sim.get_customer(first.source.qk_id)
    sim.load_customers(
        [
            # Alice's twin, typed by hand from the product's Notes, with a balance
            {"DisplayName": HOSTILE, "Notes": twin["Notes"], "Balance": 250.0},
            # a customer of applicant 500 (never synced here): an orphan with its identity
            {
                "DisplayName": "Orphan Of Five Hundred",
                "Notes": "CustomerType: Applicant\nApplicationID: 500",
            },
        ]
    )
    drifted = service.record("applicant", 2).source.qk_id
    sim.edit_customer(drifted, PrimaryPhone="+250722999999")
    orphan = next(
        c["Id"] for c in sim.inspect().customers if c["DisplayName"] == "Orphan Of Five Hundred"
    )
    return {"orphan": orphan, "drifted": drifted}


def test_reconcile_page_shows_what_finance_must_see_and_links_an_orphan(demo):
    ids = prepare(demo)
    at = page().run()
    fine(at)
    assert "Not read yet in this session." in markdown_text(at)
    at.button(key="reconcile_run").click().run()
    fine(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Customers read"] == "42" and metrics["Read calls used"] == "1"
    counts = dict(table_with(at, "What", "How many").values.tolist())
    assert counts["twins"] == 1 and counts["linked but drifted"] == 1
    assert counts["orphan customer"] == 1 and counts["linked and matching"] == 39
    assert at.get("download_button"), "the twins' CSV"

    at.selectbox(key="reconcile_category").set_value("twins").run()
    fine(at)
    twins = frame(at, "reconcile_table:twins").value
    shown = twins["Customers (Id, name, balance)"].iloc[0]
    assert HOSTILE in shown and "250.00" in shown  # verbatim, with the balance
    assert "Bold" not in markdown_text(at) and "evil" not in markdown_text(at)

    at.selectbox(key="reconcile_category").set_value("linked but drifted").run()
    key = frame(at, "reconcile_table:linked but drifted").key
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    fine(at)
    fields = table_with(at, "Field", "QuickBooks", "The MIS")
    assert fields.iloc[0].tolist()[:2] == ["PrimaryPhone", "+250722999999"]

    at.selectbox(key="reconcile_category").set_value("orphan customer").run()
    key = frame(at, "reconcile_table:orphan customer").key
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    fine(at)
    at.button(key="reconcile_pick:orphan customer:0_plan").click().run()
    fine(at)
    plan = [t.value for t in at.text if "will be linked" in t.value]
    assert plan and ids["orphan"] in plan[0]
    assert demo.record("applicant", 500).source.qk_id is None  # not yet: confirm first
    at.button(key="reconcile_confirm").click().run()
    fine(at)
    assert demo.record("applicant", 500).source.qk_id == ids["orphan"]
    assert "Done, and recorded in the audit trail" in markdown_text(at)
    trail = demo.audit.trail("applicant", 500)
    assert trail[0]["actor"] == "Finance Clerk"


def test_changes_tab_shows_each_change_field_by_field(demo):
    prepare(demo)
    table = demo.schema.applicants
    with demo.mis_engine.begin() as conn:
        conn.execute(
            table.table.update()
            .where(table.row_id == 3)
            .values({table.table.c.email1: "changed@example.org"})
        )
    at = page().run()
    fine(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Changed since pushed"] == "1"
    changes = frame(at, "changes_table:").value
    assert changes["Changes (before -> after)"].iloc[0].endswith("-> changed@example.org")
    pairs = table_with(at, "RegNo", "What applies")
    assert len(pairs) > 0 and "What applies" in pairs.columns
    assert any("SYNC_STUDENT_CUSTOMER=separate" in t.value for t in at.text)


def test_a_viewer_reads_but_cannot_act(tmp_path, monkeypatch):
    import bcrypt

    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        f'[users.vera]\nname = "Vera Viewer"\nrole = "viewer"\npassword_hash = "{hashed}"\n',
        encoding="utf-8",
    )
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SYNC_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("QBO_LIMIT_WINDOW_S", "2")
    settings = load_settings()
    ensure_demo_database(settings, with_history=False)
    from views._components import ui

    prepare(ui._open_context(ui._fingerprint(settings), settings))
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    at.session_state[ui.SIGNED_IN_KEY] = "vera"
    at.run()
    fine(at)
    assert at.button(key="changes_send").disabled
    at.button(key="reconcile_run").click().run()  # reading is open to every role
    fine(at)
    at.selectbox(key="reconcile_category").set_value("orphan customer").run()
    key = frame(at, "reconcile_table:orphan customer").key
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    plan = at.button(key="reconcile_pick:orphan customer:0_plan")
    assert plan.disabled and "operator" in (plan.help or "")


def change_email(service, row_id: int, email: str) -> None:
    table = service.schema.applicants
    with service.mis_engine.begin() as conn:
        conn.execute(
            table.table.update().where(table.row_id == row_id).values({table.table.c.email1: email})
        )


def test_the_preview_shows_each_change_field_by_field(demo):
    prepare(demo)
    change_email(demo, 3, "changed@example.org")
    at = AppTest.from_file(str(PAGE.parent / "preview.py"), default_timeout=120)
    at.run()
    fine(at)
    at.segmented_control(key="preview_what").set_value("changes").run()
    fine(at)
    assert {m.label: m.value for m in at.metric}["Changed since pushed"] == "1"
    table = frame(at, "preview_changes_table:")
    assert table.value["Changes (before -> after)"].iloc[0].endswith("-> changed@example.org")
    assert table.value["Record"].iloc[0] == demo.record("applicant", 3).mapped.reference


def test_the_sync_page_sends_the_changes_of_synced_records(demo):
    prepare(demo)
    change_email(demo, 3, "moved@example.org")
    customer_id = demo.record("applicant", 3).source.qk_id
    at = AppTest.from_file(str(PAGE.parent / "sync.py"), default_timeout=120)
    at.session_state["operator"] = "Registrar"
    at.run()
    fine(at)
    at.radio(key="sync_scope").set_value(Scope.UPDATES).run()
    fine(at)
    assert "update their customers where the MIS changed" in markdown_text(at)
    at.button(key="start_sync").click().run()
    fine(at)
    deadline = time.monotonic() + 120
    while demo.active_run() is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    run = demo.runs(1)[0]
    assert (run.scope, run.synced, run.updated, run.failed) == (Scope.UPDATES, 0, 1, 0)
    customer = demo.embedded_simulator.get_customer(customer_id)
    assert customer["PrimaryEmailAddr"]["Address"] == "moved@example.org"
    at.run()
    assert "Changes sent: 1 customer updated" in markdown_text(at)
