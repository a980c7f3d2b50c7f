"""Safe to deploy (issue 10) through Streamlit's AppTest: sign-in outside the demo, roles the
library enforces, and text from the MIS, QuickBooks and operators shown as text on every page.

Passwords are hashed with a low bcrypt cost here (the CLI's hashes cost 12), so that signing
in takes milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest
from conftest import update_record
from test_dashboard import (
    app,
    assert_fine,
    dataframe,
    demo,  # noqa: F401  (fixture)
    metric,
    open_page,
    set_operator,
    texts,
)

from sync_core.demo.data import PLANTED_FAILURES
from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.service.worklist import WorkStatus
from sync_core.settings import SettingsError, load_settings
from sync_core.store.tokens import generate_key
from views._components.text import literal, unliteral

PASSWORD = "correct horse battery staple"
USERS = {"vera": ("Vera Rubin", "viewer"), "otto": ("Otto Neurath", "operator")}
USERS["ada"] = ("Ada Lovelace", "admin")


def _hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


HASH = _hash(PASSWORD)


def write_secrets(path: Path, roles: dict[str, str] | None = None, extra: str = "") -> None:
    """A secrets.toml with the three users (roles may be changed per user)."""
    roles = roles or {}
    lines = [extra]
    for username, (name, role) in USERS.items():
        lines += [
            f"[users.{username}]",
            f'name = "{name}"',
            f'password_hash = "{HASH}"',
            f'role = "{roles.get(username, role)}"',
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture
def secrets_file(demo, tmp_path, monkeypatch):  # noqa: F811
    path = tmp_path / "secrets.toml"
    write_secrets(path)
    monkeypatch.setenv("SYNC_SECRETS_FILE", str(path))
    return path


@pytest.fixture
def sandbox(secrets_file, simulator, monkeypatch):
    """QuickBooks in sandbox mode (a QuickBooks simulator standing in for Intuit's sandbox):
    outside the demo, so every page needs a signed-in user."""
    monkeypatch.setenv("QBO_ENVIRONMENT", "sandbox")
    monkeypatch.setenv("QBO_API_BASE_URL", simulator.base_url)
    monkeypatch.setenv("QBO_DISCOVERY_URL", simulator.discovery_url)
    monkeypatch.setenv("QBO_CLIENT_ID", simulator.config.client_id)
    monkeypatch.setenv("QBO_CLIENT_SECRET", simulator.config.client_secret)
    monkeypatch.setenv("QBO_TOKEN_KEY", generate_key())
    monkeypatch.setenv("QBO_REALM_ID", simulator.config.realm_id)
    monkeypatch.setenv("QBO_REFRESH_TOKEN", simulator.issue_refresh_token())
    return secrets_file


def sign_in(at, username: str, password: str = PASSWORD):
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(password)
    at.button(key="sign_in").click().run()
    assert_fine(at)
    return at


def signed_out(at) -> bool:
    """Only the sign-in form: no count, no table, no page list."""
    return bool(at.text_input(key="signin_password")) and not at.metric and not at.dataframe


# ---------------------------------------------------------------- sign-in


def test_production_without_a_way_to_sign_in_refuses_and_says_how(demo, monkeypatch):  # noqa: F811
    monkeypatch.setenv("QBO_ENVIRONMENT", "production")
    at = app().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "**The dashboard cannot open: no way to sign in is configured.**"
    ]
    how = at.code[0].value
    assert "python -m sync_core hash-password" in how and "[users.ada]" in how
    assert 'role = "operator"' in how and "[roles]" in how and "[auth]" in how
    assert not at.metric and not at.dataframe and not at.button
    at.switch_page("views/records.py").run()  # any address: the same refusal
    assert not at.metric and not at.dataframe and not at.text_input


def test_sign_in_outside_the_demo_keeps_the_address_and_signs_out(sandbox):
    at = app().run()
    at.switch_page("views/runs.py").run()  # a deep link opened before signing in
    assert_fine(at)
    assert signed_out(at) and not at.sidebar.text_input
    assert "Sign in to use the dashboard." in texts(at)

    sign_in(at, "otto", "wrong password")
    assert [e.value for e in at.error] == ["Wrong username or password."]
    assert signed_out(at)
    sign_in(at, "nobody", PASSWORD)
    assert [e.value for e in at.error] == ["Wrong username or password."]

    sign_in(at, "OTTO")  # usernames are not case-sensitive
    assert [t.value for t in at.title] == ["Runs"], "the page the address named opens"
    assert "Signed in as **Otto Neurath** · operator" in texts(at)
    assert not at.sidebar.text_input, "outside the demo nobody types an operator name"
    banner = [w.value for w in at.sidebar.warning]
    assert banner == ["**Demo data (QuickBooks is real: pushes create real customers)**"]

    # the signed-in user is the operator of what they push
    open_page(at, "records")
    at.query_params.update(kind="applicant", id="3")
    at.run()
    at.button(key="push_applicant_3").click().run()
    assert_fine(at)
    assert "Pushed by **Otto Neurath** at" in texts(at)

    at.sidebar.button(key="sign_out").click().run()
    assert signed_out(at), "signing out forgets the session"
    at.switch_page("views/overview.py").run()
    assert signed_out(at)


def test_roles_disable_buttons_and_the_library_refuses_what_a_role_lacks(secrets_file):
    # a viewer sees everything and pushes nothing: the buttons say so
    viewer = sign_in(app().run(), "vera")
    assert "Signed in as **Vera Rubin** · viewer" in texts(viewer)
    assert metric(viewer, "Total records") == "2,050"
    open_page(viewer, "sync")
    start = viewer.button(key="start_sync")
    assert start.disabled and start.help == "Needs the operator role: ask an administrator."
    open_page(viewer, "records")
    viewer.query_params.update(kind="applicant", id="3")
    viewer.run()
    assert viewer.button(key="push_applicant_3").disabled
    open_page(viewer, "quickbooks")
    assert viewer.button(key="disconnect").disabled
    assert "Connecting and disconnecting QuickBooks needs the admin role." in texts(viewer)
    open_page(viewer, "schedules")
    assert [e.value for e in viewer.error] == [
        "Only an administrator manages schedules and notifications."
    ]

    # the library refuses, not only the buttons: an operator's page is open when an
    # administrator makes them a viewer; their next clicks are refused with the reason
    at = sign_in(app().run(), "otto")
    open_page(at, "sync")
    assert not at.button(key="start_sync").disabled
    write_secrets(secrets_file, roles={"otto": "viewer"})
    at.button(key="start_sync").click().run()
    assert_fine(at)
    refused = [unliteral(e.value) for e in at.error]
    assert refused == [
        "Not allowed: Otto Neurath is a viewer and may not push records to QuickBooks"
    ], refused
    assert any("Ask an administrator for the operator role." in unliteral(i.value) for i in at.info)
    assert at.button(key="start_sync").disabled
    open_page(at, "runs")
    assert "No sync has run yet." in texts(at), "nothing was started"

    write_secrets(secrets_file)
    open_page(at, "records")
    at.query_params.update(kind="applicant", id="4")
    at.run()
    write_secrets(secrets_file, roles={"otto": "viewer"})
    at.button(key="push_applicant_4").click().run()
    assert_fine(at)
    assert [unliteral(e.value) for e in at.error] == [
        "Not allowed: Otto Neurath is a viewer and may not push records to QuickBooks"
    ]
    assert metric(at, "Status") == "not synced"

    # disconnecting is an administrator's: Ada confirms, and is an operator by then
    admin = sign_in(app().run(), "ada")
    open_page(admin, "quickbooks")
    admin.button(key="disconnect").click().run()
    write_secrets(secrets_file, roles={"ada": "operator"})
    admin.button(key="confirm").click().run()
    assert_fine(admin)
    assert [unliteral(e.value) for e in admin.error] == [
        "Not allowed: Ada Lovelace is an operator and may not disconnect QuickBooks"
    ]
    assert "Connected to realm" in texts(admin), "still connected"


OIDC = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret",
    "client_id": "dashboard",
    "client_secret": "not-a-secret",
    "server_metadata_url": "https://idp.example.edu/.well-known/openid-configuration",
}


def test_oidc_sign_in_takes_roles_from_the_roles_section(sandbox, monkeypatch):
    from views._components import ui

    monkeypatch.setattr(ui, "login_available", lambda: True)  # Authlib may not be installed
    sandbox.write_text('[roles]\noperators = ["Grace@Example.edu"]\n', encoding="utf-8")
    at = app()
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": False}
    at.run()
    assert_fine(at)
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and not at.dataframe, "no MIS data before sign-in"

    at.user = {"is_logged_in": True, "name": "Grace Hopper", "email": "grace@example.edu"}
    at.run()
    assert_fine(at)
    assert "Signed in as **Grace Hopper** · operator" in texts(at)
    assert not at.sidebar.text_input, "no name to type: the sign-in names the operator"
    open_page(at, "records")
    at.query_params.update(kind="applicant", id="3")
    at.run()
    at.button(key="push_applicant_3").click().run()
    assert_fine(at)
    assert "Pushed by **Grace Hopper** at" in texts(at)

    someone = app()  # anyone else the identity provider signs in is a viewer
    someone.secrets["auth"] = OIDC
    someone.user = {"is_logged_in": True, "name": "Alan Turing", "email": "alan@example.edu"}
    someone.run()
    assert "Signed in as **Alan Turing** · viewer" in texts(someone)
    open_page(someone, "sync")
    assert someone.button(key="start_sync").disabled


def test_oidc_without_authlib_says_what_is_missing(demo, monkeypatch):  # noqa: F811
    from views._components import ui

    monkeypatch.setattr(ui, "login_available", lambda: False)
    at = app()
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert any("Authlib" in e.value for e in at.error)
    assert not at.button and not at.metric


def test_users_in_secrets_are_checked_readably(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text(
        '[users.ada]\nname = "Ada"\npassword_hash = "hunter2"\nrole = "operator"\n', "utf-8"
    )
    with pytest.raises(SettingsError, match=r"\[users.ada\].*bcrypt hash.*hash-password"):
        load_settings(environ={}, secrets_file=path)
    path.write_text(f'[users.ada]\npassword_hash = "{HASH}"\nrole = "boss"\n', "utf-8")
    with pytest.raises(SettingsError, match="role must be one of viewer, operator, admin"):
        load_settings(environ={}, secrets_file=path)
    path.write_text(f'[users.ada]\npassword_hash = "{HASH}"\nrole = "Admin"\n', "utf-8")
    (user,) = load_settings(environ={}, secrets_file=path).dashboard_users
    assert (user.username, user.name, user.role) == ("ada", "ada", "admin")
    assert HASH not in repr(user), "the hash is never printed"


def test_hash_password_reads_without_echo_and_prints_a_hash(monkeypatch, capsys):
    import getpass

    from sync_core.cli.main import main

    typed = iter(["s3cret pass", "s3cret pass"])
    prompts = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: prompts.append(prompt) or next(typed))
    assert main(["hash-password"]) == 0
    out, err = capsys.readouterr()
    hashed = out.strip()
    assert bcrypt.checkpw(b"s3cret pass", hashed.encode()), hashed
    assert hashed.startswith("$2b$12$"), "the CLI's hashes cost 12"
    assert "s3cret" not in out + err and len(prompts) == 2
    assert f'password_hash = "{hashed}"' in err

    typed = iter(["one", "another"])
    assert main(["hash-password"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "differ" in err


def test_the_demo_redirect_follows_the_port_it_is_served_on(demo):  # noqa: F811
    at = app()
    at.context["url"] = "http://localhost:8765/QuickBooks"
    open_page(at.run(), "quickbooks")
    at.button(key="disconnect").click().run()
    at.button(key="confirm").click().run()
    assert_fine(at)
    links = [m.value for m in at.markdown if "Connect to QuickBooks" in m.value]
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A8765%2FQuickBooks" in links[0]
    caption = next(unliteral(c.value) for c in at.caption if "sends you back to" in c.value)
    assert "http://localhost:8765/QuickBooks (the address this dashboard is served on" in caption


# ---------------------------------------------------------------- text is text

# Markdown, colour and icon directives, emoji shortcodes, HTML, autolinks, math, typography
H_FIRST = "**Bold** [link](http://evil.example/a) ![img](http://evil.example/i.png)"
H_LAST = ":red[Red] :material/home: :smile: <img src=http://evil.example/h.png> $x$ a -> b"
H_EMAIL = "[m](http://evil.example/m) :smile:"
H_OPERATOR = "Op **bold** [x](http://evil.example/o) :blue[b] :tada: <b>h</b> www.evil.example"
# none of these appears in the dashboard's own texts: found unescaped, they came from data
FRAGMENTS = (
    "**Bold**",
    "**bold**",
    "](http",
    "](//",
    "![img]",
    "red[Red]",
    ":blue[",
    ":material/home:",
    ":smile:",
    ":tada:",
    "<img",
    "<b>",
    "http://evil",
    "www.evil",
    "$x$",
    " -> ",
)


def markdown_strings(at) -> list[str]:
    """Every string the page gave to a Streamlit API that interprets Markdown."""
    out: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "toast"):
        out += [str(e.value) for e in getattr(at, kind)]
    for kind in ("error", "warning", "info", "success"):
        out += [str(e.value) for e in getattr(at, kind)]
    for m in at.metric:
        out += [m.label, m.value, m.proto.help]
    out += [e.label for e in at.expander] + [t.label for t in at.tabs]
    for b in at.button:
        out += [b.label, b.help or ""]
    for name in ("page_link", "download_button"):
        out += [e.proto.label for e in at.get(name)]
    for widget in (*at.checkbox, *at.toggle, *at.text_input, *at.number_input, *at.selectbox):
        out.append(widget.label)
    for r in at.radio:
        out += [r.label, *r.options]
    for group in at.button_group:
        out += [group.label, *(o.content for o in group.proto.options)]
    for t in at.table:
        out += [str(v) for v in t.value.to_numpy().ravel()]
    return out


def literal_strings(at) -> list[str]:
    """What the page showed in widgets that never interpret Markdown."""
    out = [str(e.value) for kind in ("text", "code", "json") for e in getattr(at, kind)]
    for frame in at.dataframe:
        out += [str(v) for v in frame.value.to_numpy().ravel()]
    for s in at.selectbox:
        out += [str(o) for o in s.options]
    return out


def unescaped(fragment: str, text: str) -> bool:
    """``fragment`` occurs in ``text`` other than right after a backslash (an escape)."""
    at = text.find(fragment)
    while at >= 0:
        if at == 0 or text[at - 1] != "\\":
            return True
        at = text.find(fragment, at + 1)
    return False


def assert_text_is_text(at, *shown: str) -> None:
    """No hostile fragment reaches a Markdown slot unescaped, and each of ``shown`` is on the
    page verbatim (after the escaping, as a person reads it)."""
    assert_fine(at)
    raw = markdown_strings(at)
    found = [(f, s) for s in raw for f in FRAGMENTS if unescaped(f, s)]
    assert not found, found
    visible = [unliteral(s) for s in raw] + literal_strings(at)
    for text in shown:
        assert any(text in v for v in visible), f"{text!r} is not on the page"


def test_hostile_text_shows_as_text_on_every_page(demo):  # noqa: F811
    from views._components import ui

    service = ui._open_context(ui._fingerprint(demo), demo)
    student = next(f.row_id for f in PLANTED_FAILURES if f.column == "reg_no")  # cannot sync
    update_record(service, APPLICANT, 7, first_name=H_FIRST, family_name=H_LAST, email1=H_EMAIL)
    update_record(service, STUDENT, student, fname=H_FIRST, lname=H_LAST)
    applicant = service.record("applicant", 7)
    name, warnings = applicant.mapped.display_name, applicant.mapped.warnings
    email_warning = next(w for w in warnings if w.startswith("email"))
    assert "](http" in name and "**Bold**" in name, "the name QuickBooks gets is still hostile"
    student_name = service.record("student", student).mapped.display_name

    at = app().run()
    set_operator(at, H_OPERATOR)
    assert_text_is_text(at)

    # Preview: the table, then the record's detail (title, warnings)
    open_page(at, "preview")
    table = dataframe(at, "preview_table")
    assert name in set(table.value["DisplayName"])
    at.session_state[table.key] = {"selection": {"rows": [6], "columns": [], "cells": []}}
    at.run()
    assert_text_is_text(at, name, email_warning, H_FIRST)

    # Records: push both (one synced, one failed), each under the hostile operator's name
    open_page(at, "records")
    at.query_params.update(kind="applicant", id="7")
    at.run()
    at.button(key="push_applicant_7").click().run()
    assert_text_is_text(at, name, f"Pushed by {H_OPERATOR}.", f"Pushed by **{H_OPERATOR}** at")
    at.query_params.update(kind="student", id=str(student))
    at.run()
    at.button(key=f"push_student_{student}").click().run()
    assert_text_is_text(at, student_name, "Not synced: RegNo is empty")
    at.query_params.clear()
    at.text_input(key="q").input("Bold").run()  # search: a literal table
    assert_text_is_text(at, f"{H_FIRST} {H_LAST}")
    at.text_input(key="q").input("").run()  # the worklist, filtered to failures
    at.multiselect(key="wl_status").set_value([WorkStatus.FAILED]).run()
    assert_text_is_text(at, student_name)

    # Sync: the last run (the failed push) and its error, selected
    open_page(at, "sync")
    at.session_state["run2_errors"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert_text_is_text(at, H_OPERATOR, student_name, "RegNo is empty in the MIS")

    # Runs, Overview (last pushes), QuickBooks, Check, Schedules
    open_page(at, "runs")
    assert_text_is_text(at, f"by {H_OPERATOR}", student_name)
    open_page(at, "overview")
    assert_text_is_text(at, H_OPERATOR)
    pushes = at.table[-1].value
    assert unliteral(pushes.iloc[0]["Operator"]) == H_OPERATOR
    assert pushes.iloc[0]["Operator"] == literal(H_OPERATOR)
    for page in ("quickbooks", "check", "schedules"):
        open_page(at, page)
        assert_text_is_text(at)
