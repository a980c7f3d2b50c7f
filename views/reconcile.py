"""Reconcile: QuickBooks against the MIS. Every customer read once (one read call per 1,000
customers), each record and customer classified, twins listed for finance to merge (CSV), and
the product's actions (link an orphan whose identity is verified, re-link, re-push) planned
first and done only when confirmed. Also: what changed in the MIS since records were pushed,
field by field, and the applicants who enrolled with what SYNC_STUDENT_CUSTOMER makes of them.

Everything from the MIS or QuickBooks is shown in tables, st.text or st.code (never Markdown).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from sync_core.domain.access import Role
from sync_core.domain.errors import SyncError
from sync_core.service.changes import enrolment_pairs
from sync_core.service.reconcile import (
    Category,
    Finding,
    ReconcileReport,
    link_customer,
    mark_for_repush,
    reconcile,
    twins_csv,
)
from views._components import ui
from views._components.changes import changes_section

ctx = ui.page_context()
REPORT_KEY = "reconcile_report"
PLAN_KEY = "reconcile_plan"
MESSAGES = "reconcile"
KINDS = {"applicant": "Applicants", "student": "Students"}
PAGE_SIZES = [10, 25, 50, 100]
LISTED = [
    Category.DRIFTED,
    Category.MISSING,
    Category.INACTIVE,
    Category.MISLINKED,
    Category.NO_ID,
    Category.ORPHAN,
    Category.TWINS,
    Category.CARRIED_ON,
    Category.MATCHING,
]

st.title("Reconcile")
st.caption(
    "QuickBooks against the MIS: every customer is read once and compared with every record. "
    "Nothing is deleted or merged by the product: twins are for finance to merge in QuickBooks."
)
ui.show_messages(MESSAGES)
operator_ok = ui.may(Role.OPERATOR)


# ---------------------------------------------------------------- helpers


def customers_text(finding: Finding) -> str:
    return "; ".join(
        f"{c.id} {c.display_name}" + ("" if c.active else " (inactive)") + f" · {c.balance:,.2f}"
        for c in finding.customers
    )


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Type": f.kind,
                "Record": f.identity,
                "Name in the MIS": f.name,
                "QuickBooks Id in the MIS": f.qk_id or "",
                "Customers (Id, name, balance)": customers_text(f),
                "What differs": f.detail,
                "Action": f.action or "",
            }
            for f in findings
        ],
        columns=[
            "Type",
            "Record",
            "Name in the MIS",
            "QuickBooks Id in the MIS",
            "Customers (Id, name, balance)",
            "What differs",
            "Action",
        ],
    )


def plan(action: str, finding: Finding, customer_id: str | None) -> None:
    """First step: what would happen (nothing changes yet)."""
    person = ui.actor()
    try:
        if action == "re-push":
            result = mark_for_repush(ctx, finding.kind, finding.row_id, person)
        else:
            assert customer_id is not None
            result = link_customer(ctx, finding.kind, finding.row_id, customer_id, person)
    except SyncError as exc:
        ui.remember_error(MESSAGES, exc)
        st.session_state.pop(PLAN_KEY, None)
        return
    ui.forget_message(MESSAGES)
    st.session_state[PLAN_KEY] = {
        "action": action,
        "kind": finding.kind,
        "row_id": finding.row_id,
        "customer_id": customer_id,
        "message": result.message,
    }


def confirm() -> None:
    """Second step: do what was planned, as planned (checked again)."""
    planned = st.session_state.pop(PLAN_KEY, None)
    if not planned:
        return
    person = ui.actor()
    try:
        if planned["action"] == "re-push":
            result = mark_for_repush(ctx, planned["kind"], planned["row_id"], person, confirm=True)
        else:
            result = link_customer(
                ctx,
                planned["kind"],
                planned["row_id"],
                planned["customer_id"],
                person,
                confirm=True,
            )
    except SyncError as exc:
        ui.remember_error(MESSAGES, exc)
        return
    ui.remember_message(
        MESSAGES,
        "success",
        "Done, and recorded in the audit trail. Read QuickBooks again to see the result.",
    )
    st.session_state["reconcile_done"] = result.message
    ui.clear_caches()


def cancel() -> None:
    st.session_state.pop(PLAN_KEY, None)


def action_panel(finding: Finding, key: str) -> None:
    """The chosen finding's details and its action, in two steps."""
    with st.container(border=True):
        st.text(f"{finding.kind} {finding.identity} · {finding.name}")
        if finding.detail:
            st.text(finding.detail)
        if finding.changes:
            st.dataframe(
                pd.DataFrame(
                    [
                        {"Field": c.field, "QuickBooks": c.before, "The MIS": c.after}
                        for c in finding.changes
                    ]
                ),
                hide_index=True,
                key=f"{key}_changes",
            )
        if not finding.action:
            st.caption("No action of the product's: finance decides in QuickBooks.")
            return
        customer_id = None
        if finding.action in ("link", "re-link"):
            candidates = [c.id for c in finding.customers if not c.linked]
            if not candidates:
                st.caption("No customer identifies this record: re-push it instead.")
                return
            customer_id = st.selectbox("Customer to link", candidates, key=f"{key}_customer")
        label = {"link": "Link…", "re-link": "Re-link…", "re-push": "Re-push…"}[finding.action]
        st.button(
            label,
            key=f"{key}_plan",
            on_click=plan,
            args=(finding.action, finding, customer_id),
            disabled=not operator_ok,
            help=ui.role_help(Role.OPERATOR),
        )


def show_plan() -> None:
    planned = st.session_state.get(PLAN_KEY)
    if not planned:
        return
    with st.container(border=True):
        st.markdown("**Confirm this change?** Nothing has changed yet.")
        st.text(planned["message"])
        left, right = st.columns(2)
        left.button("Confirm", key="reconcile_confirm", type="primary", on_click=confirm)
        right.button("Cancel", key="reconcile_cancel", on_click=cancel)


# ---------------------------------------------------------------- the tabs

compare, changes, enrolled = st.tabs(
    ["Compare with QuickBooks", "Changes since pushed", "Applicants who enrolled"]
)

with compare:
    st.caption(
        "Reads every customer, inactive ones too: one read call per 1,000 customers (reads "
        "count against the company's monthly allowance). Records synced before the product "
        "remembered what it sent are compared with their customer for the first time."
    )
    if st.button("Read every customer now", key="reconcile_run", type="primary"):
        bar = st.progress(0.0, text="Reading customers…")

        def progress(read: int, total: int) -> None:
            bar.progress(min(read / total, 1.0) if total else 1.0, text=f"{read:,} of {total:,}")

        try:
            st.session_state[REPORT_KEY] = reconcile(ctx, on_progress=progress)
            st.session_state.pop(PLAN_KEY, None)
        except SyncError as exc:
            ui.show_error(exc, "Reconciliation")
        bar.empty()
    if "reconcile_done" in st.session_state:
        st.text(st.session_state.pop("reconcile_done"))
    show_plan()
    report: ReconcileReport | None = st.session_state.get(REPORT_KEY)
    if report is None:
        st.info("Not read yet in this session.")
    else:
        cols = st.columns(4)
        cols[0].metric("Customers read", f"{report.customers_read:,}")
        cols[1].metric("Read calls used", f"{report.read_calls:,}")
        cols[2].metric("MIS records", f"{report.records_read:,}")
        cols[3].metric("Seconds", f"{report.seconds:.1f}")
        counts = [{"What": c, "How many": report.counts[c]} for c in LISTED]
        counts += [
            {"What": "customers identifying no MIS record", "How many": report.not_ours},
            {
                "What": "customers naming a record the MIS does not have",
                "How many": report.unknown_records,
            },
        ]
        st.dataframe(pd.DataFrame(counts), hide_index=True, key="reconcile_counts")
        if report.baselines_remembered:
            st.caption(
                f"{report.baselines_remembered:,} records synced before change tracking were "
                "compared with their customers for the first time."
            )
        if report.counts[Category.TWINS]:
            st.download_button(
                "Download the twins (CSV, with balances)",
                twins_csv(report),
                file_name="twins.csv",
                mime="text/csv",
                key="reconcile_twins_csv",
            )
        category = st.selectbox(
            "Show",
            [c for c in LISTED if report.findings[c]],
            key="reconcile_category",
            format_func=lambda c: f"{c} ({report.counts[c]:,})",
        )
        if category:
            findings = report.findings[category]
            if report.counts[category] > len(findings):
                st.caption(f"The first {len(findings):,} of {report.counts[category]:,}.")
            table_key = f"reconcile_table:{category}"
            event = st.dataframe(
                findings_frame(findings),
                hide_index=True,
                on_select="rerun",
                selection_mode="single-row",
                key=table_key,
                column_config={
                    "What differs": st.column_config.TextColumn(width="large"),
                    "Customers (Id, name, balance)": st.column_config.TextColumn(width="large"),
                },
            )
            rows = event.selection.rows
            if rows and rows[0] < len(findings):
                action_panel(findings[rows[0]], f"reconcile_pick:{category}:{rows[0]}")
            else:
                st.caption("Select a row to see it in full and act on it.")


with changes:
    changes_section(ctx, "changes")

with enrolled:
    mode = ctx.settings.sync_student_customer
    st.caption(
        "An applicant enrolled when their reg_no in the MIS is a student's. "
        "SYNC_STUDENT_CUSTOMER decides the student's customer: separate (a customer of its own, "
        "named with its RegNo if the name is taken) or continue (the applicant's customer "
        "carries on: one customer per person)."
    )
    st.text(f"This installation: SYNC_STUDENT_CUSTOMER={mode}")
    pairs_page = st.number_input("Page", min_value=1, step=1, key="pairs_page")
    pairs = enrolment_pairs(ctx, limit=50, offset=(int(pairs_page) - 1) * 50)
    if not pairs.total:
        st.info("No applicant in the MIS carries a student's RegNo.")
    else:
        st.caption(f"{pairs.total:,} applicants who enrolled")
        shown = [{k: v for k, v in p.items() if not k.endswith("_row_id")} for p in pairs.pairs]
        st.dataframe(pd.DataFrame(shown), hide_index=True, key="pairs_table")
