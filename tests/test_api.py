"""The REST API through FastAPI's TestClient, over the real service on SQLite and MariaDB and the
QuickBooks simulator over HTTP: the seed's endpoints with their documented fields, keys and
roles, 202/409/401/403/422, runs watched and cancelled, one record pushed, and errors that never
show a traceback, SQL or a secret."""

from __future__ import annotations

import json
import logging
import warnings

import pytest
import sqlalchemy as sa
from api_support import (
    ADMIN,
    BLANK_REGNO_STUDENT,
    SMALL_APPLICANTS,
    SMALL_STUDENTS,
    make_small_service,  # noqa: F401  (fixture)
    small,  # noqa: F401  (fixture)
    small_url,  # noqa: F401  (fixture)
    wait_for_run_end,
)

from sync_core.api import create_app
from sync_core.domain.access import Actor, Role
from sync_core.service.api_keys import create_key, revoke_key
from sync_core.sync.request import SyncRequest

with warnings.catch_warnings():  # starlette 1.x prefers httpx2; httpx works the same here
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BASE = "/api/v1/sync/customers"
SEED_ENDPOINTS = [
    ("GET", f"{BASE}/analyze"),
    ("GET", f"{BASE}/preview/applicants"),
    ("GET", f"{BASE}/preview/students"),
    ("POST", f"{BASE}/applicants"),
    ("POST", f"{BASE}/students"),
    ("POST", f"{BASE}/all"),
    ("GET", f"{BASE}/status"),
]
LEAKS = ("Traceback", "SELECT ", "INSERT ", "UPDATE ", "sqlalchemy", "pymysql", 'File "')


class Api:
    """A TestClient with the keys of the test: an operator ("Admissions portal") and a viewer."""

    def __init__(self, service) -> None:
        self.service = service
        self.client = TestClient(create_app(lambda: service), raise_server_exceptions=False)
        self.operator_key = create_key(service, ADMIN, "Admissions portal", "operator").key
        self.viewer_key = create_key(service, ADMIN, "Finance dashboard", "viewer").key

    def call(self, method: str, path: str, key: str | None = "operator", **kwargs):
        headers = kwargs.pop("headers", {})
        if key == "operator":
            headers["Authorization"] = f"Bearer {self.operator_key}"
        elif key == "viewer":
            headers["Authorization"] = f"Bearer {self.viewer_key}"
        elif key is not None:
            headers["Authorization"] = key
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, key: str | None = "viewer", **kwargs):
        return self.call("GET", path, key, **kwargs)

    def post(self, path: str, key: str | None = "operator", **kwargs):
        return self.call("POST", path, key, **kwargs)

    def run_until_done(self, run_id: int) -> dict:
        wait_for_run_end(self.service, run_id)
        answer = self.get(f"/api/v1/sync/runs/{run_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]


@pytest.fixture
def api(small) -> Api:  # noqa: F811
    return Api(small)


def assert_clean_error(answer, status: int, category: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["success"] is False
    assert body["error"]["category"] == category
    assert body["error"]["message"]
    for leak in LEAKS:
        assert leak not in answer.text, f"{leak!r} in {answer.text}"
    return body["error"]


def slow_runs(simulator) -> None:
    """Every QuickBooks answer takes 250 ms: a run of the small MIS lasts a few seconds."""
    simulator.set_faults(latency_ms=250)


# ---------------------------------------------------------------- the seed's endpoints


def test_analyze_and_previews_answer_the_seeds_fields(api):
    answer = api.get(f"{BASE}/analyze")
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True
    data = body["data"]
    for kind, total in (("applicants", SMALL_APPLICANTS), ("students", SMALL_STUDENTS)):
        assert set(data[kind]) >= {"total", "not_synced", "synced", "failed", "in_progress"}
        assert data[kind]["total"] == total and data[kind]["not_synced"] == total
        assert data[kind]["synced"] == data[kind]["failed"] == data[kind]["in_progress"] == 0
    overall = data["overall"]
    assert overall["total_customers"] == SMALL_APPLICANTS + SMALL_STUDENTS
    assert overall["total_not_synced"] == SMALL_APPLICANTS + SMALL_STUDENTS
    assert overall["total_synced"] == overall["total_failed"] == 0

    first = api.get(f"{BASE}/preview/applicants").json()["data"]  # the seed's default: 10
    assert first["kind"] == "applicants" and first["limit"] == 10 and first["offset"] == 0
    assert first["total_not_synced"] == SMALL_APPLICANTS and len(first["records"]) == 10
    assert first["next_offset"] == 10
    record = first["records"][0]
    assert set(record) >= {
        "row_id", "identity", "reference", "display_name", "payload", "fields", "placement",
        "warnings", "error", "source",
    }  # fmt: skip
    assert record["payload"]["DisplayName"] == record["display_name"]
    assert record["fields"]["CustomerType"] == "Applicant"
    assert record["reference"] == f"APP {record['identity']}"

    page = api.get(f"{BASE}/preview/students", params={"limit": 3, "offset": 5}).json()["data"]
    assert [r["row_id"] for r in page["records"]] == [6, 7, 8]
    assert page["records"][0]["fields"]["CustomerType"] == "Student"
    blank = page["records"][1]
    assert blank["row_id"] == BLANK_REGNO_STUDENT and blank["error"], "cannot be sent, and why"
    last = api.get(f"{BASE}/preview/students", params={"limit": 100, "offset": 38}).json()
    assert len(last["data"]["records"]) == 2 and last["data"]["next_offset"] is None


def test_status_answers_connection_counts_runs_and_schedules_without_a_token(api):
    answer = api.get(f"{BASE}/status")
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["connection"]["connected"] is True
    assert data["connection"]["realm_id"] == api.service.connection_status().realm_id
    assert data["connection"]["refresh_token_expires_at"].endswith("Z")
    assert data["counts"]["overall"]["total_customers"] == SMALL_APPLICANTS + SMALL_STUDENTS
    assert data["running"] is None and data["last_runs"] == [] and data["schedules"] == []
    text = answer.text.lower()
    assert 'access_token":' not in text and 'refresh_token":' not in text
    stored = api.service.settings.qbo_refresh_token.reveal()
    assert stored not in answer.text

    check = api.get("/api/v1/sync/check")  # what `check` finds, where it exists
    assert check.status_code == 200, check.text
    found = check.json()["data"]
    assert found["reachable"] is True and isinstance(found["ok"], bool)
    assert isinstance(found["problems"], list)


def test_docs_and_openapi_list_every_endpoint():
    def no_service():
        raise AssertionError("the documentation needs no database")

    client = TestClient(create_app(no_service))
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for method, path in SEED_ENDPOINTS:
        assert method.lower() in paths[path], path
    for path in (
        "/api/v1/sync/runs/{run_id}",
        "/api/v1/sync/runs/{run_id}/cancel",
        "/api/v1/sync/records/{kind}/{row_id}/push",
        f"{BASE}/updates",
    ):
        assert path in paths
    body = schema["components"]["schemas"]["SyncAllBody"]["properties"]
    assert {"batch_size", "sync_applicants", "sync_students"} <= set(body)
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


# ---------------------------------------------------------------- keys and roles


def test_keys_and_roles_401_403(api):
    for method, path in SEED_ENDPOINTS:
        missing = api.call(method, path, key=None)
        error = assert_clean_error(missing, 401, "unauthenticated")
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        assert "api-key create" in error["what_to_do"]
    forged = api.operator_key[:-4] + "AAAA"
    for bad in (f"Bearer {forged}", "Bearer qbs_1_", "Basic dXNlcjpwdw==", "Bearer x" * 50):
        answer = api.get(f"{BASE}/analyze", key=bad)
        assert_clean_error(answer, 401, "unauthenticated")
        assert forged not in answer.text

    for method, path in SEED_ENDPOINTS:
        answer = api.call(method, path, key="viewer")
        if method == "GET":
            assert answer.status_code == 200, (path, answer.text)
        else:
            error = assert_clean_error(answer, 403, "permission")
            assert "Finance dashboard" in error["message"] and "viewer" in error["message"]
    assert api.service.runs() == [], "nothing was started by a refused call"

    revoke_key(api.service, ADMIN, name="Finance dashboard")
    assert_clean_error(api.get(f"{BASE}/analyze"), 401, "unauthenticated")


def test_keys_are_stored_hashed_and_shown_once(api):
    engine = api.service.store_engine
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT * FROM qbsync_api_key")).mappings().all()
    dumped = json.dumps([dict(r) for r in stored], default=str)
    for key in (api.operator_key, api.viewer_key):
        assert key.split("_", 2)[2] not in dumped
    assert {r["role"] for r in stored} == {"operator", "viewer"}
    with pytest.raises(Exception, match="viewer or an operator"):
        create_key(api.service, ADMIN, "Root", "admin")
    with pytest.raises(Exception, match="exists already"):
        create_key(api.service, ADMIN, "Admissions portal", "viewer")
    with pytest.raises(Exception, match="may not create API keys"):
        create_key(api.service, Actor("Op", Role.OPERATOR), "Other", "viewer")


# ---------------------------------------------------------------- bad input


BAD_INPUT = [  # (method, path, request arguments, the field the answer must name)
    ("POST", f"{BASE}/applicants", {"json": {"batch_size": 0}}, "batch_size"),
    ("POST", f"{BASE}/students", {"json": {"batch_size": 501}}, "batch_size"),
    ("POST", f"{BASE}/all", {"json": {"batch_size": "fifty"}}, "batch_size"),
    ("POST", f"{BASE}/all", {"json": {"batchsize": 50}}, "batchsize"),
    ("POST", f"{BASE}/all", {"json": {"limit": 0}}, "limit"),
    (
        "POST",
        f"{BASE}/all",
        {"json": {"sync_applicants": False, "sync_students": False}},
        "sync_applicants",
    ),
    ("POST", f"{BASE}/applicants", {"content": b"batch_size=50"}, "body"),
    (
        "POST",
        f"{BASE}/applicants",
        {"content": b'{"batch_size": 5', "headers": {"Content-Type": "application/json"}},
        "body",
    ),
    ("GET", f"{BASE}/preview/applicants", {"params": {"limit": 0}}, "limit"),
    ("GET", f"{BASE}/preview/applicants", {"params": {"limit": 101}}, "limit"),
    ("GET", f"{BASE}/preview/students", {"params": {"offset": -1}}, "offset"),
    ("GET", f"{BASE}/preview/students", {"params": {"limit": "ten"}}, "limit"),
    ("GET", "/api/v1/sync/runs/abc", {}, "run_id"),
    ("GET", "/api/v1/sync/runs/1", {"params": {"outcome": "exploded"}}, "outcome"),
    ("POST", "/api/v1/sync/records/teacher/1/push", {}, "kind"),
    ("POST", "/api/v1/sync/records/student/0/push", {}, "row_id"),
    ("POST", "/api/v1/sync/records/student/99999999999/push", {}, "row_id"),
]


def test_bad_input_is_422_naming_the_field(api):
    for method, path, kwargs, field in BAD_INPUT:
        answer = api.call(method, path, "operator", **kwargs)
        error = assert_clean_error(answer, 422, "invalid")
        assert field in [f["field"] for f in error["fields"]], (path, kwargs, error)
        assert field in error["message"]
        assert "input" not in {k for f in error["fields"] for k in f}, "the value is not echoed"
    assert api.service.runs() == [], "no refused request started anything"


# ---------------------------------------------------------------- syncing


def test_a_sync_is_started_202_refused_409_watched_and_nothing_left_is_200(api, simulator):
    slow_runs(simulator)
    started = api.post(f"{BASE}/students", json={"batch_size": 10})
    assert started.status_code == 202, started.text
    data = started.json()["data"]
    run_id = data["run_id"]
    assert data["nothing_to_sync"] is False and data["state"] == "running"
    assert data["operator"] == "Admissions portal" and data["batch_size"] == 10
    assert data["run_url"] == f"/api/v1/sync/runs/{run_id}" == started.headers["Location"]

    refused = api.post(f"{BASE}/applicants", json={"batch_size": 50})
    error = assert_clean_error(refused, 409, "conflict")
    assert error["running"]["operator"] == "Admissions portal"
    assert error["running"]["run_id"] == run_id
    assert error["running"]["run_url"] == data["run_url"]
    assert "a sync started by Admissions portal at" in error["message"]

    live = api.get(data["run_url"]).json()["data"]["run"]
    assert live["state"] == "running" and live["operator"] == "Admissions portal"
    status = api.get(f"{BASE}/status").json()["data"]
    assert status["running"]["id"] == run_id

    simulator.set_faults(latency_ms=0)
    done = api.run_until_done(run_id)
    run = done["run"]
    assert run["state"] == "completed with errors"
    assert run["planned"] == run["done"] == SMALL_STUDENTS
    assert run["synced"] == SMALL_STUDENTS - 1 and run["failed"] == 1 and run["progress"] == 1
    assert run["finished_at"].endswith("Z")
    failed = [e for e in done["entries"]["items"] if e["outcome"] == "failed"]
    assert [e["row_id"] for e in failed] == [BLANK_REGNO_STUDENT]
    assert "RegNo" in failed[0]["message"] and failed[0]["hint"]

    # entries page: one at a time, with the total
    total = done["entries"]["total"]
    first = api.get(data["run_url"], params={"limit": 1}).json()["data"]["entries"]
    assert first["total"] == total and len(first["items"]) == 1
    assert first["next_offset"] == (1 if total > 1 else None)
    only = api.get(data["run_url"], params={"outcome": "failed"}).json()["data"]["entries"]
    assert only["total"] == 1 and only["items"][0]["row_id"] == BLANK_REGNO_STUDENT

    # the MIS records the key's name as pushed_by
    table = api.service.schema.customers("student")
    with api.service.mis_engine.connect() as conn:
        pushed_by = set(conn.execute(sa.select(table.table.c.pushed_by).where(table.status == 1)))
    assert pushed_by == {("Admissions portal",)}

    # only the failed record waits, and it is not retried without retry_failed: nothing to do
    again = api.post(f"{BASE}/students", json={})
    assert again.status_code == 200, again.text
    assert again.json()["data"]["nothing_to_sync"] is True
    assert again.json()["data"]["run_id"] is None
    assert [r.id for r in api.service.runs()] == [run_id], "no empty run is recorded"
    listed = api.get("/api/v1/sync/runs").json()["data"]["runs"]
    assert [r["id"] for r in listed] == [run_id]


def test_updates_send_the_changes_of_synced_records_and_create_nothing(api, simulator):
    first = api.post(f"{BASE}/applicants", json={"limit": 3})
    api.run_until_done(first.json()["data"]["run_id"])
    table = api.service.schema.applicants
    with api.service.mis_engine.begin() as conn:
        conn.execute(
            table.table.update()
            .where(table.row_id == 2)
            .values({table.table.c.email1: "moved@example.org"})
        )
    customer_id = api.service.record("applicant", 2).source.qk_id
    customers_before = len(simulator.inspect().customers)

    started = api.post(f"{BASE}/updates", json={})
    assert started.status_code == 202, started.text
    run = api.run_until_done(started.json()["data"]["run_id"])["run"]
    assert (run["scope"], run["synced"], run["updated"], run["failed"]) == ("updates", 0, 1, 0)
    assert len(simulator.inspect().customers) == customers_before
    email = simulator.get_customer(customer_id)["PrimaryEmailAddr"]["Address"]
    assert email == "moved@example.org"
    assert_clean_error(api.post(f"{BASE}/updates", key="viewer"), 403, "permission")


def test_reconcile_classifies_over_the_api_and_changes_nothing(api, simulator):
    started = api.post(f"{BASE}/applicants", json={"limit": 4})
    api.run_until_done(started.json()["data"]["run_id"])
    first = api.service.record("applicant", 1).source.qk_id
    notes = simulator.get_customer(first)["Notes"]
    simulator.load_customers([{"DisplayName": "Typed By Hand", "Notes": notes, "Balance": 75.0}])
    before = len(simulator.inspect().customers)

    answer = api.get("/api/v1/sync/reconcile")
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["read_calls"] == 1 and data["customers_read"] == before
    assert data["counts"]["twins"] == 1 and data["counts"]["linked and matching"] == 4
    twins = data["findings"]["twins"][0]
    assert sorted(c["balance"] for c in twins["customers"]) == [0.0, 75.0]
    assert "linked and matching" not in data["findings"]
    every = api.get("/api/v1/sync/reconcile", params={"include_matching": True}).json()["data"]
    assert len(every["findings"]["linked and matching"]) == 4
    assert len(simulator.inspect().customers) == before, "nothing created, merged or deleted"
    assert api.get("/api/v1/sync/reconcile", key=None).status_code == 401


def test_all_with_one_kind_and_a_limit_sends_exactly_that_many(api):
    answer = api.post(
        f"{BASE}/all", json={"sync_applicants": True, "sync_students": False, "limit": 5}
    )
    assert answer.status_code == 202, answer.text
    data = answer.json()["data"]
    assert data["scope"] == "applicants"
    assert data["limit"] == 5 and data["notes"] == []
    done = api.run_until_done(data["run_id"])["run"]
    assert done["scope"] == "applicants" and done["state"] == "completed"
    assert (done["planned"], done["synced"], done["limit"]) == (5, 5, 5), "the next 5, no more"
    assert api.service.analyze().applicants.synced == 5
    listed = api.get(f"{BASE}/status").json()["data"]["last_runs"]
    assert listed[0]["id"] == data["run_id"] and listed[0]["url"] == data["run_url"]
    assert listed[0]["state"] == "completed"


def test_a_dashboard_run_is_seen_and_blocks_the_api(api, simulator):
    slow_runs(simulator)
    ada = Actor("Ada Lovelace", Role.ADMIN, "dashboard")
    run_id = api.service.start_sync(SyncRequest(scope="all", operator="Ada Lovelace"), ada)
    status = api.get(f"{BASE}/status").json()["data"]
    assert status["running"]["id"] == run_id and status["running"]["operator"] == "Ada Lovelace"
    error = assert_clean_error(api.post(f"{BASE}/all"), 409, "conflict")
    assert error["running"]["operator"] == "Ada Lovelace"
    simulator.set_faults(latency_ms=0)


def test_cancel_a_running_sync(api, simulator):
    slow_runs(simulator)
    run_id = api.post(f"{BASE}/all", json={"batch_size": 5}).json()["data"]["run_id"]
    assert_clean_error(
        api.post(f"/api/v1/sync/runs/{run_id}/cancel", key="viewer"), 403, "permission"
    )
    answer = api.post(f"/api/v1/sync/runs/{run_id}/cancel")
    simulator.set_faults(latency_ms=0)  # the batches in flight come back at once
    assert answer.status_code == 202, answer.text
    assert answer.json()["data"]["cancel_requested"] is True
    assert "Admissions portal" in answer.json()["data"]["message"]
    run = api.run_until_done(run_id)["run"]
    assert run["state"] == "cancelled"
    assert run["done"] < SMALL_APPLICANTS + SMALL_STUDENTS
    analysis = api.get(f"{BASE}/analyze").json()["data"]["overall"]
    assert analysis["total_in_progress"] == 0, "nothing is left claimed"
    again = api.post(f"/api/v1/sync/runs/{run_id}/cancel")
    assert "not running" in assert_clean_error(again, 409, "conflict")["message"]
    assert_clean_error(api.post("/api/v1/sync/runs/424242/cancel"), 404, "not_found")
    assert_clean_error(api.get("/api/v1/sync/runs/424242"), 404, "not_found")


def test_push_one_record(api, simulator):
    answer = api.post("/api/v1/sync/records/applicant/3/push")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["success"] is True
    data = body["data"]
    assert data["status"] == "synced" and data["kind"] == "applicant" and data["row_id"] == 3
    assert data["qk_id"] and data["run_url"] == f"/api/v1/sync/runs/{data['run_id']}"
    customer = simulator.get_customer(data["qk_id"])
    assert "ApplicationID: 3" in customer["Notes"]

    again = api.post("/api/v1/sync/records/applicants/3/push").json()
    assert again["data"]["status"] == "already synced" and again["data"]["qk_id"] == data["qk_id"]

    failed = api.post(f"/api/v1/sync/records/student/{BLANK_REGNO_STUDENT}/push").json()
    assert failed["success"] is False and failed["data"]["status"] == "failed"
    assert "RegNo" in failed["data"]["message"]
    assert_clean_error(api.post("/api/v1/sync/records/student/999/push"), 404, "not_found")
    assert_clean_error(
        api.post("/api/v1/sync/records/student/5/push", key="viewer"), 403, "permission"
    )

    slow_runs(simulator)
    api.post(f"{BASE}/students")
    error = assert_clean_error(api.post("/api/v1/sync/records/student/5/push"), 409, "conflict")
    assert error["running"]["operator"] == "Admissions portal"
    simulator.set_faults(latency_ms=0)


# ---------------------------------------------------------------- failures stay readable


def test_unexpected_failures_show_no_traceback_sql_or_secret(api, monkeypatch, caplog):
    secret = api.service.settings.qbo_token_key.reveal()

    def broken(*args, **kwargs):
        raise sa.exc.ProgrammingError(
            "SELECT national_id FROM tbl_personal_ug WHERE pw = %(pw)s",
            {"pw": secret},
            Exception("1064 You have an error in your SQL syntax near 'Jean Habimana'"),
        )

    monkeypatch.setattr(api.service, "analyze", broken)
    with caplog.at_level(logging.INFO):
        answer = api.get(f"{BASE}/analyze")
    error = assert_clean_error(answer, 500, "internal")
    assert secret not in answer.text and "Habimana" not in answer.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ProgrammingError" in logged, "the log names the failure"
    for leak in ("SELECT", secret, "Habimana", "national_id"):
        assert leak not in logged
    assert error["what_to_do"]

    assert_clean_error(api.get("/api/v1/nothing-here"), 404, "not_found")
    assert api.client.get("/api/v1/health").json() == {"success": True, "data": {"status": "ok"}}

    # a failure the library foresaw is said as it is, with what to do
    from sync_core.domain.errors import DatabaseUnavailable

    def down(*args, **kwargs):
        raise DatabaseUnavailable(
            "Cannot reach the MIS database",
            what_to_do="Check MIS_DATABASE_URL and that the database server is running.",
        )

    monkeypatch.setattr(api.service, "analyze", down)
    error = assert_clean_error(api.get(f"{BASE}/analyze"), 503, "unavailable")
    assert error["message"] == "Cannot reach the MIS database"
    assert error["what_to_do"].startswith("Check MIS_DATABASE_URL")


# ---------------------------------------------------------------- the layer rule


def test_the_api_layer_imports_service_and_below_and_nothing_imports_it():
    from test_architecture import SYNC_CORE_IMPORTS, is_of, layer_of, top_level

    found = [
        str(imp)
        for imp in SYNC_CORE_IMPORTS
        if layer_of(imp.module) == "api"
        and (is_of(imp.target, "cli", "demo") or top_level(imp.target) in {"pages", "streamlit"})
    ]
    assert found == [], "; ".join(found)
    users = [
        str(imp)
        for imp in SYNC_CORE_IMPORTS
        if is_of(imp.target, "api") and layer_of(imp.module) not in ("api", "cli")
    ]
    assert users == [], "only the CLI's serve starts the API: " + "; ".join(users)
