"""The Schedules page through Streamlit's AppTest, on the demo MIS and the embedded simulator:
an administrator adds, edits, disables and deletes schedules (names shown literally, bad cron
refused readably), and sends a test notification that a local listener receives."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import hook  # noqa: F401  (fixture)
from streamlit.testing.v1 import AppTest

from sync_core.settings import load_settings

APP = Path(__file__).resolve().parent.parent / "app.py"
PAGE = "views/schedules.py"
PRODUCT_ENV = (
    "MIS_DATABASE_URL",
    "SYNC_DATABASE_URL",
    "QBO_ENVIRONMENT",
    "QBO_API_BASE_URL",
    "QBO_DISCOVERY_URL",
    "QBO_TOKEN_KEY",
    "QBO_REALM_ID",
    "QBO_REFRESH_TOKEN",
    "SYNC_NOTIFY_URLS",
    "SYNC_NOTIFY_SUMMARY",
)
HOSTILE = "**Night** run :red[x] [l](http://127.0.0.1:9/) <b>b</b> a -> b"


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """A fresh demo MIS and simulator for this test only."""
    for name in PRODUCT_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SYNC_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    return monkeypatch


def open_schedules() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert_fine(at)
    assert [t.value for t in at.title] == ["Schedules"]
    return at


def assert_fine(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    wrong = [e.value for e in at.error if "something went wrong" in e.value.lower()]
    assert not wrong, wrong


def table(at: AppTest):
    frames = [d.value for d in at.dataframe if "Cron (UTC)" in d.value.columns]
    assert frames, [list(d.value.columns) for d in at.dataframe]
    return frames[0]


def fill(at: AppTest, prefix: str, **values) -> None:
    for name, value in values.items():
        widget = {"scope": at.selectbox, "retry": at.checkbox, "updates": at.checkbox}.get(
            name, at.number_input if name in ("batch", "limit") else at.text_input
        )
        element = widget(key=f"{prefix}_{name}")
        if hasattr(element, "input") and isinstance(value, str):
            element.input(value)
        else:
            element.set_value(value)


def markdown_texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "success", "info", "warning", "error", "subheader")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def test_an_administrator_manages_schedules_and_names_show_literally(demo):
    at = open_schedules()
    assert any("No schedule yet" in i.value for i in at.info)
    assert "skips" in markdown_texts(at) and "UTC" in markdown_texts(at)

    fill(at, "new", name=HOSTILE, cron="0 2 * * *", scope="students", batch=20, limit=500)
    at.button(key="add_schedule").click().run()
    assert_fine(at)
    assert [s.value for s in at.success] == ["Schedule added."]
    assert HOSTILE in [t.value for t in at.text], "the name is said as text"
    row = table(at).iloc[0]
    assert row["Name"] == HOSTILE and row["Cron (UTC)"] == "0 2 * * *"
    assert row["Scope"] == "Students" and row["Batch size"] == 20 and row["Limit"] == "500"
    assert row["Enabled"] == "yes" and row["Next fire (UTC)"].endswith("02:00")
    assert row["Last outcome"] == "—"
    assert "Night" not in markdown_texts(at), "never through Markdown"

    # a bad cron expression is refused with the reason and the expression, literally
    fill(at, "new", name="Every minute-ish", cron="61 * * * *")
    at.button(key="add_schedule").click().run()
    assert_fine(at)
    assert [e.value for e in at.error] == ["The schedule was not added."]
    said = [t.value for t in at.text]
    assert "cron expression '61 * * * *' is not valid" in said
    assert any(t.startswith("What to do: Use five fields") for t in said)
    assert len(table(at)) == 1

    # select it: disable, edit, delete
    at.session_state["schedules_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert_fine(at)
    schedule_id = int(next(b.key for b in at.button if (b.key or "").startswith("toggle_"))[7:])
    assert f"Schedule: {HOSTILE}" in [t.value for t in at.text]
    assert any(t.value.startswith("Next fires: ") for t in at.text)
    at.button(key=f"toggle_{schedule_id}").click().run()
    assert_fine(at)
    assert [s.value for s in at.success] == ["Schedule disabled."]
    assert table(at).iloc[0]["Next fire (UTC)"] == "disabled"

    fill(at, f"edit{schedule_id}", name="Nightly students", cron="30 3 * * 1-5")
    at.button(key=f"save_schedule_{schedule_id}").click().run()
    assert_fine(at)
    row = table(at).iloc[0]
    assert (row["Name"], row["Cron (UTC)"], row["Enabled"]) == (
        "Nightly students",
        "30 3 * * 1-5",
        "no",
    )

    assert at.button(key=f"delete_{schedule_id}").disabled, "deleting needs a confirmation"
    at.checkbox(key=f"confirm_delete_{schedule_id}").check().run()
    at.button(key=f"delete_{schedule_id}").click().run()
    assert_fine(at)
    assert [s.value for s in at.success] == ["Schedule deleted."]
    assert any("No schedule yet" in i.value for i in at.info)


def test_a_test_notification_reaches_the_listener(demo, hook):  # noqa: F811
    at = open_schedules()
    assert at.button(key="test_notification").disabled, "no target configured"
    assert any("SYNC_NOTIFY_URLS" in i.value for i in at.info)

    demo.setenv("SYNC_NOTIFY_URLS", hook.url())
    at = open_schedules()
    targets = [d.value for d in at.dataframe if "Target (from SYNC_NOTIFY_URLS)" in d.value]
    assert list(targets[0].iloc[:, 0]) == ["1. Webhook (JSON) (127.0.0.1)"]
    page = markdown_texts(at) + "\n".join(t.value for t in at.text)
    assert "SECRET-PATH-TOKEN" not in page, "the URL itself is never shown"
    at.button(key="test_notification").click().run()
    assert_fine(at)
    assert [s.value for s in at.success] == ["Test notification sent to 1 target(s)."]
    assert [r.body["title"] for r in hook.received] == ["QuickBooks sync: test notification"]
    assert load_settings().describe()["Notification targets"] == "1 configured"
