"""Check: what the product finds in the MIS, before it changes anything. Works also when the
MIS cannot be opened for syncing (a missing grant, a missing column): that is when it helps."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from sync_core.service.check import run_check
from sync_core.settings import load_settings
from views._components import ui
from views._components.present import plural

ui.require_signed_in()
st.title("Check")
st.caption(
    "The MIS as the product finds it: tables and columns, the status and QuickBooks Id columns "
    "it uses, the account's grants, counts, and problems with what to do. Read-only."
)

try:
    settings = load_settings()
except Exception as exc:  # a malformed setting: said plainly, the check cannot start
    ui.show_error(exc)
    st.stop()

with st.spinner("Checking the MIS…"):
    report = run_check(settings)

cols = st.columns(3)
cols[0].metric("MIS database", "reachable" if report.reachable else "unreachable")
cols[1].metric("Problems", plural(sum(p.severity == "error" for p in report.problems), "error"))
cols[2].metric("Warnings", str(sum(p.severity == "warning" for p in report.problems)))
st.text(f"MIS database: {report.mis_database}\nServer: {report.server or '-'}")
st.text(f"Product tables: {report.product_tables}\nSync scope: {'; '.join(report.scope)}")

if report.problems:
    st.subheader("Problems")
    st.dataframe(
        pd.DataFrame(
            [
                {"Severity": p.severity, "Problem": p.what, "What to do": p.what_to_do}
                for p in report.problems
            ]
        ),
        hide_index=True,
        column_config={
            "Problem": st.column_config.TextColumn(width="large"),
            "What to do": st.column_config.TextColumn(width="large"),
        },
        key="check_problems",
    )
else:
    st.success("No problems found.")

if report.reachable:
    st.subheader("Columns used")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Table": kind + "s",
                    "Status column": report.status_columns.get(kind) or "(added at first start)",
                    "QuickBooks Id column": report.id_columns.get(kind) or "(added at first start)",
                    "SyncToken column": report.sync_token_columns.get(kind) or "(none)",
                }
                for kind in report.status_columns
            ]
        ),
        hide_index=True,
        key="check_columns_used",
    )
    st.subheader("Tables and columns")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Table": table.name,
                    "Column": column.name,
                    "Found": "yes" if column.found else "MISSING",
                    "Type": column.type,
                    "Used for": column.used_for,
                }
                for table in report.tables
                for column in table.columns
            ]
        ),
        hide_index=True,
        key="check_tables",
    )
    if report.earlier_system:
        st.subheader("What an earlier integration left")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Records": kind + "s",
                        "Linked to a customer": v["linked_before_this_product"],
                        "Synced without a QuickBooks Id": v["synced_without_id"],
                        "In progress": v["left_in_progress"],
                    }
                    for kind, v in report.earlier_system.items()
                ]
            ),
            hide_index=True,
            key="check_earlier",
        )
    st.subheader("Grants of the MIS account")
    st.code("\n".join(report.grants), language=None)
