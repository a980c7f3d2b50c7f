"""The QuickBooks Online simulator over real HTTP: OAuth, Customer rules, query, batch, faults."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from qbo_simulator import Faults, QuickBooksSimulator, SimulatorConfig
from qbo_simulator.errors import qbo_time

REDIRECT_URI = "http://localhost:8501/oauth/callback"
THROTTLE_BODY_ERROR = {
    "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
    "Detail": "The request limit was reached.",
    "code": "3001",
}


# -- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[QuickBooksSimulator]:
    sim = QuickBooksSimulator(SimulatorConfig(custom_field_definitions={"1": "ApplicationID"}))
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(shared_sim: QuickBooksSimulator) -> QuickBooksSimulator:
    shared_sim.reset()
    shared_sim.set_faults(seed=7)
    return shared_sim


@pytest.fixture
def make_sim() -> Iterator[Callable[..., QuickBooksSimulator]]:
    """Factory for a dedicated simulator (own limits or store file), stopped after the test."""
    started: list[QuickBooksSimulator] = []

    def make(store_path: Any = None, **config: Any) -> QuickBooksSimulator:
        sim = QuickBooksSimulator(SimulatorConfig(**config), store_path=store_path).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


def token_request(sim: QuickBooksSimulator, **form: str) -> requests.Response:
    return requests.post(
        f"{sim.base_url}/oauth2/v1/tokens/bearer",
        data=form,
        auth=(sim.config.client_id, sim.config.client_secret),
        headers={"Accept": "application/json"},
        timeout=10,
    )


def access_token(sim: QuickBooksSimulator, realm_id: str | None = None) -> str:
    refresh = sim.issue_refresh_token(realm_id)
    answer = token_request(sim, grant_type="refresh_token", refresh_token=refresh)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


class Api:
    """A bare-bones QBO client over requests, to see exactly what goes over the wire."""

    def __init__(self, sim: QuickBooksSimulator, token: str | None = None) -> None:
        self.sim = sim
        self.base = f"{sim.base_url}/v3/company/{sim.config.realm_id}"
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.session.headers["Authorization"] = f"Bearer {token or access_token(sim)}"

    def post(self, path: str, body: Any, **params: str) -> requests.Response:
        params = {"minorversion": "75", **params}
        return self.session.post(self.base + path, json=body, params=params, timeout=10)

    def get(self, path: str, **params: str) -> requests.Response:
        params = {"minorversion": "75", **params}
        return self.session.get(self.base + path, params=params, timeout=10)

    def query(self, statement: str, **params: str) -> requests.Response:
        return self.get("/query", query=statement, **params)

    def rows(self, statement: str) -> list[dict[str, Any]]:
        answer = self.query(statement)
        assert answer.status_code == 200, answer.text
        return answer.json()["QueryResponse"].get("Customer", [])

    def create(self, **fields: Any) -> dict[str, Any]:
        answer = self.post("/customer", fields)
        assert answer.status_code == 200, answer.text
        return answer.json()["Customer"]

    def batch(self, items: list[dict[str, Any]], **params: str) -> requests.Response:
        return self.post("/batch", {"BatchItemRequest": items}, **params)


@pytest.fixture
def api(sim: QuickBooksSimulator) -> Api:
    return Api(sim)


def fault(answer: requests.Response) -> dict[str, Any]:
    body = answer.json()
    assert set(body) == {"Fault", "time"}, body
    error = body["Fault"]["Error"][0]
    assert set(error) == {"Message", "Detail", "code", "element"}
    return {"type": body["Fault"]["type"], **error}


def creates(names: list[str], start: int = 1) -> list[dict[str, Any]]:
    return [
        {"bId": str(start + i), "operation": "create", "Customer": {"DisplayName": name}}
        for i, name in enumerate(names)
    ]


# -- OAuth -----------------------------------------------------------------------------------


def test_discovery_documents_name_this_servers_endpoints(sim: QuickBooksSimulator) -> None:
    for path in ("openid_configuration", "openid_sandbox_configuration"):
        doc = requests.get(f"{sim.base_url}/.well-known/{path}", timeout=10).json()
        for key in (
            "authorization_endpoint",
            "token_endpoint",
            "revocation_endpoint",
            "issuer",
            "jwks_uri",
            "userinfo_endpoint",
        ):
            assert doc[key].startswith(sim.base_url), key
    assert sim.discovery_url == f"{sim.base_url}/.well-known/openid_configuration"


def test_intuitlib_code_flow_rotating_refresh_and_revoke(sim: QuickBooksSimulator) -> None:
    cfg = sim.config
    client = AuthClient(cfg.client_id, cfg.client_secret, REDIRECT_URI, sim.discovery_url)
    url = client.get_authorization_url([Scopes.ACCOUNTING], state_token="csrf-123")
    consent = requests.get(url, allow_redirects=False, timeout=10)
    assert consent.status_code == 302
    location = urlsplit(consent.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    answer = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert answer["state"] == "csrf-123"
    assert answer["realmId"] == cfg.realm_id

    client.get_bearer_token(answer["code"], realm_id=answer["realmId"])
    assert client.expires_in == 3600
    assert client.x_refresh_token_expires_in == cfg.refresh_token_lifetime_s
    first_refresh = client.refresh_token
    with pytest.raises(AuthClientError) as reused:  # codes are single-use
        client.get_bearer_token(answer["code"])
    assert reused.value.status_code == 400

    client.refresh()
    second_refresh = client.refresh_token
    assert second_refresh != first_refresh
    with pytest.raises(AuthClientError) as stale:  # rotation: the old one died at once
        client.refresh(refresh_token=first_refresh)
    assert stale.value.status_code == 400
    assert stale.value.response.json() == {"error": "invalid_grant"}
    assert Api(sim, client.access_token).get(f"/companyinfo/{cfg.realm_id}").status_code == 200
    assert sim.inspect().refreshes == 1

    assert client.revoke(token=second_refresh) is True
    with pytest.raises(AuthClientError) as revoked:
        client.refresh(refresh_token=second_refresh)
    assert revoked.value.response.json()["error"] == "invalid_grant"
    # the access tokens of the revoked grant stop working too
    assert Api(sim, client.access_token).get(f"/companyinfo/{cfg.realm_id}").status_code == 401


def test_token_endpoint_checks_client_and_redirect_uri(sim: QuickBooksSimulator) -> None:
    wrong = requests.post(
        f"{sim.base_url}/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": sim.issue_refresh_token()},
        auth=(sim.config.client_id, "not-the-secret"),
        timeout=10,
    )
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "invalid_client"}

    cfg = sim.config
    client = AuthClient(cfg.client_id, cfg.client_secret, REDIRECT_URI, sim.discovery_url)
    consent = requests.get(
        client.get_authorization_url([Scopes.ACCOUNTING]), allow_redirects=False, timeout=10
    )
    code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
    other = token_request(
        sim, grant_type="authorization_code", code=code, redirect_uri="http://evil/cb"
    )
    assert other.status_code == 400
    assert other.json() == {"error": "invalid_grant"}
    assert token_request(sim, grant_type="password").json() == {"error": "unsupported_grant_type"}


def test_bad_token_gets_lower_case_401(sim: QuickBooksSimulator) -> None:
    answer = Api(sim, "not-a-real-token").get("/customer/1")
    assert answer.status_code == 401
    body = answer.json()
    assert body == {
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": body["fault"]["error"][0]["detail"],
                    "code": "3200",
                }
            ],
            "type": "AUTHENTICATION",
        }
    }
    anonymous = requests.get(f"{sim.base_url}/v3/company/{sim.config.realm_id}/customer/1")
    assert anonymous.status_code == 401
    other_realm = Api(sim, access_token(sim, realm_id="123145678901234"))
    assert other_realm.get("/customer/1").status_code == 401
    log = sim.inspect().requests
    assert [r.had_authorization for r in log] == [True, False, True]
    assert sim.inspect().unauthorized_count == 3


def test_access_token_ttl_fault_expires_tokens_mid_run(sim: QuickBooksSimulator) -> None:
    sim.set_faults(access_token_ttl_s=0.3)
    answer = token_request(sim, grant_type="refresh_token", refresh_token=sim.issue_refresh_token())
    assert answer.json()["expires_in"] == 3600  # still claims an hour
    api = Api(sim, answer.json()["access_token"])
    assert api.query("SELECT COUNT(*) FROM Customer").status_code == 200
    time.sleep(0.4)
    expired = api.query("SELECT COUNT(*) FROM Customer")
    assert expired.status_code == 401
    assert expired.json()["fault"]["error"][0]["code"] == "3200"
    fresh = token_request(
        sim, grant_type="refresh_token", refresh_token=answer.json()["refresh_token"]
    )
    assert Api(sim, fresh.json()["access_token"]).query("SELECT * FROM Customer").ok


# -- Customer create / read / update ----------------------------------------------------------


def test_create_read_and_sparse_update(api: Api) -> None:
    created = api.create(
        GivenName="Aline",
        FamilyName="Mukamana",
        PrimaryEmailAddr={"Address": "aline@example.rw"},
        Notes="CustomerType: Applicant",
    )
    assert created["DisplayName"] == "Aline Mukamana"
    assert created["SyncToken"] == "0"
    assert created["Active"] is True
    assert created["FullyQualifiedName"] == "Aline Mukamana"
    assert set(created["MetaData"]) == {"CreateTime", "LastUpdatedTime"}
    read = api.get(f"/customer/{created['Id']}")
    assert read.status_code == 200
    assert read.json()["Customer"] == created

    update = {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "Updated"}
    updated = api.post("/customer", update)
    assert updated.status_code == 200, updated.text
    customer = updated.json()["Customer"]
    assert customer["SyncToken"] == "1"
    assert customer["Notes"] == "Updated"
    assert customer["PrimaryEmailAddr"] == {"Address": "aline@example.rw"}  # untouched
    assert customer["MetaData"]["CreateTime"] == created["MetaData"]["CreateTime"]

    stale = api.post("/customer", update)
    assert stale.status_code == 400
    assert fault(stale)["code"] == "5010"
    missing = api.post("/customer", {"Id": "9999", "SyncToken": "0", "sparse": True})
    assert fault(missing)["code"] == "610"
    absent = api.get("/customer/9999")
    assert absent.status_code == 400
    assert fault(absent)["code"] == "610"


def test_full_update_without_sparse_replaces_the_writable_fields(api: Api) -> None:
    created = api.create(DisplayName="Eric Niyonzima", Notes="old", GivenName="Eric")
    answer = api.post("/customer", {"Id": created["Id"], "SyncToken": "0", "GivenName": "Eric"})
    customer = answer.json()["Customer"]
    assert customer["DisplayName"] == "Eric"  # rebuilt from the names: DisplayName not sent
    assert "Notes" not in customer


def test_duplicate_display_name_is_case_insensitive_and_names_the_id(api: Api) -> None:
    first = api.create(DisplayName="John Doe")
    clash = api.post("/customer", {"DisplayName": "  JOHN doe "})
    assert clash.status_code == 400
    error = fault(clash)
    assert error["type"] == "ValidationFault"
    assert error["code"] == "6240"
    assert error["Message"] == "Duplicate Name Exists Error"
    assert error["Detail"] == f"The name supplied already exists. : Id={first['Id']}"
    # a rename onto another customer's name clashes too
    other = api.create(DisplayName="Jane Doe")
    rename = {"Id": other["Id"], "SyncToken": "0", "sparse": True, "DisplayName": "john DOE"}
    assert fault(api.post("/customer", rename))["code"] == "6240"


@pytest.mark.parametrize("name", ["Kigali Office Supplies Ltd", "jean claude habimana"])
def test_reserved_vendor_and_employee_names_count_for_uniqueness(api: Api, name: str) -> None:
    error = fault(api.post("/customer", {"DisplayName": name}))
    assert error["code"] == "6240"
    assert "Id=" not in error["Detail"]
    assert error["Detail"].startswith("The name supplied already exists.")


def test_display_name_is_built_from_name_parts_else_required(api: Api) -> None:
    built = api.create(GivenName="Jean", MiddleName="Paul", FamilyName="Uwase")
    assert built["DisplayName"] == "Jean Paul Uwase"
    for body in ({}, {"Notes": "only notes"}, {"DisplayName": "", "GivenName": ""}):
        error = fault(api.post("/customer", body))
        assert error["code"] == "2020", body


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("DisplayName", 500),
        ("GivenName", 100),
        ("MiddleName", 100),
        ("FamilyName", 100),
        ("Notes", 2000),
        ("PrimaryPhone.FreeFormNumber", 30),
        ("PrimaryEmailAddr.Address", 100),
    ],
)
def test_string_lengths(api: Api, field: str, limit: int) -> None:
    def body(length: int) -> dict[str, Any]:
        value = "a" * length
        if field == "PrimaryEmailAddr.Address":
            value = "a" * (length - len("@example.rw")) + "@example.rw"
        base: dict[str, Any] = {"DisplayName": f"Length {field} {length}"}
        if "." in field:
            outer, inner = field.split(".")
            base[outer] = {inner: value}
        else:
            base[field] = value
        return base

    assert api.post("/customer", body(limit)).status_code == 200
    too_long = api.post("/customer", body(limit + 1))
    error = fault(too_long)
    assert error["code"] == "2050"
    assert f"Max:{limit}" in error["Detail"]


@pytest.mark.parametrize("field", ["DisplayName", "GivenName", "MiddleName", "FamilyName"])
@pytest.mark.parametrize("bad", [":", "\t", "\n"])
def test_colon_tab_newline_in_names(api: Api, field: str, bad: str) -> None:
    body = {"DisplayName": "Valid Name", field: f"Bad{bad}Name"}
    error = fault(api.post("/customer", body))
    assert error["code"] == "2170"
    assert error["element"] == field


@pytest.mark.parametrize(
    "address", ["not-an-email", "a b@example.rw", "x@nodot", "@example.rw", "a@b@c.rw"]
)
def test_email_must_look_like_an_address(api: Api, address: str) -> None:
    error = fault(
        api.post("/customer", {"DisplayName": "Mail", "PrimaryEmailAddr": {"Address": address}})
    )
    assert error["code"] == "2210"
    assert api.create(DisplayName="Mail ok", PrimaryEmailAddr={"Address": "a.b+c@d.co.rw"})


def test_unknown_property_is_refused(api: Api) -> None:
    error = fault(api.post("/customer", {"DisplayName": "Typo", "PrimaryEmail": "x@y.rw"}))
    assert error["code"] == "2010"


def test_custom_fields_need_a_definition_and_the_include_flag(api: Api) -> None:
    custom = [{"DefinitionId": "1", "StringValue": "APP-2024-0001"}]
    body = {"DisplayName": "Custom One", "CustomField": custom}
    created = api.post("/customer", body, include="enhancedAllCustomFields").json()["Customer"]
    assert created["CustomField"] == [
        {
            "DefinitionId": "1",
            "Name": "ApplicationID",
            "Type": "StringType",
            "StringValue": custom[0]["StringValue"],
        }
    ]
    assert "CustomField" not in api.get(f"/customer/{created['Id']}").json()["Customer"]
    unknown = {
        "DisplayName": "Custom Two",
        "CustomField": [{"DefinitionId": "9", "StringValue": "x"}],
    }
    error = fault(api.post("/customer", unknown, include="enhancedAllCustomFields"))
    assert error["type"] == "ValidationFault"
    assert error["code"] == "6000"
    # without include=enhancedAllCustomFields QBO ignores them silently
    ignored = api.post("/customer", unknown).json()["Customer"]
    assert "CustomField" not in ignored


# -- query -----------------------------------------------------------------------------------


def test_query_string_literals_with_apostrophes_and_backslashes(api: Api) -> None:
    obrien = api.create(DisplayName="Seán O'Brien")
    slash = api.create(DisplayName="Back\\Slash")
    assert [
        r["Id"] for r in api.rows(r"SELECT * FROM Customer WHERE DisplayName = 'seán o\'brien'")
    ] == [obrien["Id"]]
    assert [
        r["Id"] for r in api.rows(r"select * from customer where DisplayName = 'back\\slash'")
    ] == [slash["Id"]]
    assert (
        api.rows(r"SELECT * FROM Customer WHERE DisplayName LIKE '%\'bri%'")[0]["Id"]
        == obrien["Id"]
    )


def test_query_in_like_comparisons_count_and_empty(api: Api) -> None:
    ids = {
        n: api.create(DisplayName=n, GivenName=n.split()[0])["Id"]
        for n in ("Ana One", "Ben Two", "Cyd Three")
    }
    found = api.rows(
        "SELECT * FROM Customer WHERE DisplayName IN ('ana one', 'CYD THREE', 'nobody')"
    )
    assert {r["Id"] for r in found} == {ids["Ana One"], ids["Cyd Three"]}
    assert [
        r["DisplayName"]
        for r in api.rows(
            "SELECT * FROM Customer WHERE DisplayName LIKE '%t%' ORDERBY DisplayName DESC"
        )
    ] == ["Cyd Three", "Ben Two"]
    assert len(api.rows("SELECT * FROM Customer WHERE GivenName != 'ben' AND Id > '0'")) == 2
    assert len(api.rows(f"SELECT * FROM Customer WHERE Id IN ('{ids['Ben Two']}')")) == 1
    since = api.rows(
        f"SELECT * FROM Customer WHERE MetaData.CreateTime >= '{qbo_time(time.time() - 60)}'"
    )
    assert len(since) == 3
    counted = api.query("SELECT COUNT(*) FROM Customer WHERE DisplayName LIKE 'b%'").json()
    assert counted["QueryResponse"] == {"totalCount": 1}
    empty = api.query("SELECT * FROM Customer WHERE DisplayName = 'Nobody'").json()
    assert empty["QueryResponse"] == {}
    assert "time" in empty
    posted = api.session.post(
        api.base + "/query",
        data="SELECT * FROM Customer WHERE DisplayName = 'Ben Two'",
        headers={"Content-Type": "application/text"},
        params={"minorversion": "75"},
    )
    assert posted.json()["QueryResponse"]["Customer"][0]["Id"] == ids["Ben Two"]


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM Customer WHERE Notes = 'x'",
        "SELECT * FROM Customer WHERE DisplayName = 'a' OR DisplayName = 'b'",
        "SELECT * FROM Customer WHERE DisplayName = 'unterminated",
        "SELECT * Customer",
        "SELECT * FROM Customer WHERE DisplayName ~ 'x'",
        "SELECT * FROM Customer MAXRESULTS 10 trailing",
    ],
)
def test_query_errors_are_4000(api: Api, statement: str) -> None:
    answer = api.query(statement)
    assert answer.status_code == 400
    error = fault(answer)
    assert error["code"] == "4000"
    assert error["type"] == "ValidationFault"


def test_maxresults_above_1000_is_refused(api: Api) -> None:
    error = fault(api.query("SELECT * FROM Customer MAXRESULTS 1001"))
    assert error["code"].startswith("400")


def test_paging_over_more_than_1000_customers(api: Api) -> None:
    names = [f"Student {i:04d}" for i in range(1, 1101)]
    for start in range(0, len(names), 30):
        answer = api.batch(creates(names[start : start + 30], start=start + 1))
        assert answer.status_code == 200
    assert api.query("SELECT COUNT(*) FROM Customer").json()["QueryResponse"]["totalCount"] == 1100
    default = api.query("SELECT * FROM Customer").json()["QueryResponse"]
    assert default["maxResults"] == 100
    assert default["startPosition"] == 1
    first = api.query("SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 1000").json()
    second = api.query("SELECT * FROM Customer STARTPOSITION 1001 MAXRESULTS 1000").json()
    assert first["QueryResponse"]["maxResults"] == 1000
    assert second["QueryResponse"]["startPosition"] == 1001
    assert second["QueryResponse"]["maxResults"] == 100
    seen = [c["DisplayName"] for c in first["QueryResponse"]["Customer"]]
    seen += [c["DisplayName"] for c in second["QueryResponse"]["Customer"]]
    assert sorted(seen) == names


def test_inactive_customers_are_hidden_unless_the_query_names_active(api: Api) -> None:
    created = api.create(DisplayName="Gone Student")
    api.post("/customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert api.rows("SELECT * FROM Customer WHERE DisplayName = 'Gone Student'") == []
    both = api.rows(
        "SELECT * FROM Customer WHERE Active IN (true, false) AND DisplayName = 'gone student'"
    )
    assert both[0]["Active"] is False
    # ... but the name is still taken
    assert fault(api.post("/customer", {"DisplayName": "Gone Student"}))["code"] == "6240"


def test_display_name_lookup_stays_fast_with_200000_customers(
    api: Api, sim: QuickBooksSimulator
) -> None:
    stamp = qbo_time()
    rows = [
        {
            "Id": str(i),
            "SyncToken": "0",
            "DisplayName": f"Bulk Student {i:06d}",
            "Active": True,
            "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
        }
        for i in range(1, 200_001)
    ]
    with sim.store.transaction():
        sim.store.insert_customers(sim.config.realm_id, rows)
    api.rows("SELECT * FROM Customer WHERE DisplayName = 'warm up'")
    started = time.perf_counter()
    found = api.rows(
        "SELECT * FROM Customer WHERE DisplayName IN ('bulk student 123456', 'Bulk Student 000007')"
    )
    one = api.rows("SELECT * FROM Customer WHERE DisplayName = 'BULK STUDENT 199999'")
    elapsed = time.perf_counter() - started
    assert len(found) == 2 and len(one) == 1
    assert elapsed < 0.1, elapsed


# -- batch -----------------------------------------------------------------------------------


def test_batch_mixed_results_matched_by_bid(api: Api) -> None:
    existing = api.create(DisplayName="Existing One")
    items = [
        {"bId": "a", "operation": "create", "Customer": {"DisplayName": "Batch New"}},
        {"bId": "b", "operation": "create", "Customer": {"DisplayName": "existing one"}},
        {
            "bId": "c",
            "operation": "update",
            "Customer": {"Id": existing["Id"], "SyncToken": "0", "sparse": True, "Notes": "n"},
        },
        {
            "bId": "d",
            "operation": "update",
            "Customer": {"Id": existing["Id"], "SyncToken": "0", "sparse": True},
        },
        {"bId": "e", "Query": "SELECT * FROM Customer WHERE DisplayName = 'Batch New'"},
        {"bId": "f", "operation": "create", "Customer": {"DisplayName": "Bad:Name"}},
        {"bId": "g", "operation": "delete", "Customer": {"Id": existing["Id"], "SyncToken": "1"}},
    ]
    answer = api.batch(items)
    assert answer.status_code == 200
    by_bid = {item["bId"]: item for item in answer.json()["BatchItemResponse"]}
    assert set(by_bid) == set("abcdefg")
    assert by_bid["a"]["Customer"]["DisplayName"] == "Batch New"
    assert by_bid["b"]["Fault"]["type"] == "ValidationFault"
    assert by_bid["b"]["Fault"]["Error"][0]["code"] == "6240"
    assert by_bid["c"]["Customer"]["SyncToken"] == "1"
    assert by_bid["d"]["Fault"]["Error"][0]["code"] == "5010"  # items run in order
    assert by_bid["e"]["QueryResponse"]["Customer"][0]["Id"] == by_bid["a"]["Customer"]["Id"]
    assert by_bid["f"]["Fault"]["Error"][0]["code"] == "2170"
    assert "Fault" in by_bid["g"]


def test_batch_answers_come_back_shuffled(api: Api) -> None:
    answer = api.batch(creates([f"Shuffle {i}" for i in range(30)]))
    order = [item["bId"] for item in answer.json()["BatchItemResponse"]]
    assert sorted(order, key=int) == [str(i) for i in range(1, 31)]
    assert order != sorted(order, key=int)


def test_batch_over_30_items_is_refused_whole(api: Api, sim: QuickBooksSimulator) -> None:
    answer = api.batch(creates([f"Too Many {i}" for i in range(31)]))
    assert answer.status_code == 400
    assert fault(answer)["type"] == "ValidationFault"
    assert sim.inspect().customer_count == 0


def test_batch_of_30_creates_is_fast(api: Api) -> None:
    api.batch(creates(["warm"]))
    started = time.perf_counter()
    answer = api.batch(creates([f"Fast {i}" for i in range(30)], start=2))
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200
    assert all("Customer" in item for item in answer.json()["BatchItemResponse"])
    assert elapsed < 0.05, elapsed


# -- throttling ------------------------------------------------------------------------------


def test_requests_per_minute_gives_429_3001(make_sim: Callable[..., QuickBooksSimulator]) -> None:
    sim = make_sim(requests_per_minute=3)
    api = Api(sim)
    for i in range(3):
        assert api.create(DisplayName=f"Under Limit {i}")
    over = api.post("/customer", {"DisplayName": "Over Limit"})
    assert over.status_code == 429
    assert "Retry-After" not in over.headers
    body = over.json()
    assert body["Fault"] == {"Error": [THROTTLE_BODY_ERROR], "type": "SERVICE"}
    assert "time" in body
    state = sim.inspect()
    assert state.throttled_count == 1
    assert state.customer_count == 3  # the throttled create did nothing


def test_batch_requests_have_their_own_window(make_sim: Callable[..., QuickBooksSimulator]) -> None:
    sim = make_sim(batch_requests_per_minute=2)
    api = Api(sim)
    assert api.batch(creates(["B1"])).status_code == 200
    assert api.batch(creates(["B2"])).status_code == 200
    assert api.batch(creates(["B3"])).status_code == 429
    assert api.create(DisplayName="Single still fine")


def test_batch_requests_count_in_the_500_as_well_as_in_the_40(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    """QuickBooks' rule: batch requests are counted in the requests-per-minute window too."""
    sim = make_sim(requests_per_minute=4, batch_requests_per_minute=3)
    api = Api(sim)
    assert api.create(DisplayName="Single 1")
    assert api.batch(creates(["B1"])).status_code == 200
    assert api.batch(creates(["B2"])).status_code == 200
    assert api.batch(creates(["B3"])).status_code == 200
    assert api.batch(creates(["B4"])).status_code == 429  # the batch window (3) is full
    # one single has gone: the three batches filled the request window (4) too
    assert api.post("/customer", {"DisplayName": "Single 2"}).status_code == 429
    sim2 = make_sim(requests_per_minute=3, batch_requests_per_minute=5)
    api2 = Api(sim2)
    for name in ("C1", "C2", "C3"):
        assert api2.batch(creates([name])).status_code == 200
    # 3 batches of the 5 allowed, but 3 requests of 3: the request window refuses the 4th
    assert api2.batch(creates(["C4"])).status_code == 429
    assert sim.inspect().throttled_count == 2 and sim2.inspect().throttled_count == 1
    assert sim2.inspect().customer_count == 3


def test_max_concurrent_with_latency(make_sim: Callable[..., QuickBooksSimulator]) -> None:
    sim = make_sim(max_concurrent=2)
    token = access_token(sim)
    sim.set_faults(latency_ms=300)
    barrier = threading.Barrier(6)

    def call(_: int) -> int:
        api = Api(sim, token)
        barrier.wait()
        return api.query("SELECT COUNT(*) FROM Customer").status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(call, range(6)))
    assert statuses.count(200) == 2
    assert statuses.count(429) == 4


def test_throttle_storm_on_and_off(api: Api, sim: QuickBooksSimulator) -> None:
    sim.set_faults(throttle_storm=True)
    stormy = api.query("SELECT COUNT(*) FROM Customer")
    assert stormy.status_code == 429
    assert stormy.json()["Fault"]["Error"] == [THROTTLE_BODY_ERROR]
    sim.set_faults(throttle_storm=False)
    assert api.query("SELECT COUNT(*) FROM Customer").status_code == 200
    sim.set_faults(throttle_storm_every_s=0.2, throttle_storm_duration_s=0.1)
    seen = set()
    deadline = time.time() + 1.0
    while time.time() < deadline and seen != {200, 429}:
        seen.add(api.query("SELECT COUNT(*) FROM Customer").status_code)
        time.sleep(0.02)
    assert seen == {200, 429}


# -- idempotency and faults ------------------------------------------------------------------


def test_requestid_longer_than_quickbooks_allows_is_refused(api: Api) -> None:
    item = {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Batch Long"}}
    refused = api.batch([item], requestid="b" * 37)  # a batch's requestid: at most 36
    assert refused.status_code == 400 and "at most 36" in refused.text
    assert api.batch([item], requestid="b" * 36).status_code == 200
    single = api.post("/customer", {"DisplayName": "Single Long"}, requestid="s" * 51)
    assert single.status_code == 400 and "at most 50" in single.text
    assert api.post("/customer", {"DisplayName": "Single Long"}, requestid="s" * 50).ok


def test_requestid_replays_the_first_answer(api: Api, sim: QuickBooksSimulator) -> None:
    first = api.post("/customer", {"DisplayName": "Once Only"}, requestid="req-1")
    again = api.post("/customer", {"DisplayName": "Once Only"}, requestid="req-1")
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    clash = api.post("/customer", {"DisplayName": "Once Only"}, requestid="req-2")
    clash_again = api.post("/customer", {"DisplayName": "Once Only"}, requestid="req-2")
    assert clash.status_code == clash_again.status_code == 400
    assert clash.content == clash_again.content
    batch = creates(["Batch Once"])
    assert (
        api.batch(batch, requestid="req-3").content == api.batch(batch, requestid="req-3").content
    )
    state = sim.inspect()
    assert state.customer_count == 2
    assert state.requestid_replays == 3
    assert [r.requestid for r in state.requests] == [
        "req-1",
        "req-1",
        "req-2",
        "req-2",
        "req-3",
        "req-3",
    ]
    assert {r.minorversion for r in state.requests} == {"75"}


def test_drop_after_commit_then_replay_returns_committed_customer(
    api: Api, sim: QuickBooksSimulator
) -> None:
    sim.set_faults(drop_after_commit_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api.post("/customer", {"DisplayName": "Lost Answer"}, requestid="drop-1")
    with pytest.raises(requests.ConnectionError):
        api.batch(creates(["Lost Batch"]), requestid="drop-2")
    state = sim.inspect()
    assert state.customer_count == 2
    assert state.dropped_responses == 2
    assert [r.dropped for r in state.requests] == [True, True]
    replay = api.post("/customer", {"DisplayName": "Lost Answer"}, requestid="drop-1")
    assert replay.status_code == 200
    assert replay.json()["Customer"]["Id"] == state.customers[0]["Id"]
    batch_replay = api.batch(creates(["Lost Batch"]), requestid="drop-2")
    assert batch_replay.json()["BatchItemResponse"][0]["Customer"]["DisplayName"] == "Lost Batch"
    assert sim.inspect().customer_count == 2


def test_server_errors_do_no_work_and_are_reproducible(api: Api, sim: QuickBooksSimulator) -> None:
    sim.set_faults(server_error_rate=1.0)
    answer = api.post("/customer", {"DisplayName": "Never Saved"})
    assert answer.status_code in (500, 503)
    assert fault(answer)["type"] == "SystemFault"
    assert sim.inspect().customer_count == 0
    assert sim.inspect().server_errors_sent == 1

    def run() -> list[int]:
        sim.set_faults(server_error_rate=0.5, seed=42)
        return [api.query("SELECT COUNT(*) FROM Customer").status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert 200 in first and ({500, 503} & set(first))


def test_latency_fault_delays_api_answers_only(api: Api, sim: QuickBooksSimulator) -> None:
    sim.set_faults(latency_ms=150)
    started = time.perf_counter()
    api.query("SELECT COUNT(*) FROM Customer")
    assert time.perf_counter() - started >= 0.15
    started = time.perf_counter()
    requests.get(sim.discovery_url, timeout=10)
    assert time.perf_counter() - started < 0.1


def test_every_answer_has_content_length_and_intuit_tid(api: Api, sim: QuickBooksSimulator) -> None:
    created = api.create(DisplayName="Header Check")
    cfg = sim.config
    client = AuthClient(cfg.client_id, cfg.client_secret, REDIRECT_URI, sim.discovery_url)
    answers = [
        api.get(f"/customer/{created['Id']}"),
        api.get("/customer/404"),
        Api(sim, "bad").get("/customer/1"),
        requests.get(sim.discovery_url, timeout=10),
        requests.get(
            client.get_authorization_url([Scopes.ACCOUNTING]), allow_redirects=False, timeout=10
        ),
    ]
    sim.set_faults(throttle_storm=True)
    answers.append(api.get(f"/customer/{created['Id']}"))
    assert [a.status_code for a in answers] == [200, 400, 401, 200, 302, 429]
    for answer in answers:
        assert "Content-Length" in answer.headers
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["intuit_tid"])


# -- persistence, admin, CLI, logs -----------------------------------------------------------


def test_sqlite_store_survives_a_restart(
    make_sim: Callable[..., QuickBooksSimulator], tmp_path
) -> None:
    store = tmp_path / "qbo.sqlite"
    first = make_sim(store_path=store)
    refresh = first.issue_refresh_token()
    api = Api(first)
    created = api.create(DisplayName="Persisted Student")
    api.post("/customer", {"DisplayName": "Keyed"}, requestid="persist-1")
    first.stop()

    second = make_sim(store_path=store)
    assert second.inspect().customers[0]["DisplayName"] == "Persisted Student"
    answer = token_request(second, grant_type="refresh_token", refresh_token=refresh)
    assert answer.status_code == 200
    api2 = Api(second, answer.json()["access_token"])
    assert api2.get(f"/customer/{created['Id']}").json()["Customer"] == created
    assert int(api2.create(DisplayName="After Restart")["Id"]) > int(created["Id"])
    replay = api2.post("/customer", {"DisplayName": "Keyed"}, requestid="persist-1")
    assert replay.status_code == 200
    assert second.inspect().customer_count == 3


def test_admin_endpoints(api: Api, sim: QuickBooksSimulator) -> None:
    api.create(DisplayName="Admin Seen")
    state = requests.get(f"{sim.base_url}/_simulator/state", timeout=10).json()
    assert state["customer_count"] == 1
    assert state["request_count"] == 1
    assert state["recent_requests"][0]["params"]["minorversion"] == "75"
    faults = requests.post(f"{sim.base_url}/_simulator/faults", json={"latency_ms": 5}, timeout=10)
    assert faults.json()["latency_ms"] == 5
    assert sim.faults.latency_ms == 5
    bad = requests.post(f"{sim.base_url}/_simulator/faults", json={"nope": 1}, timeout=10)
    assert bad.status_code == 400
    issued = requests.post(f"{sim.base_url}/_simulator/refresh-token", timeout=10).json()
    assert issued["realm_id"] == sim.config.realm_id
    refreshed = token_request(
        sim, grant_type="refresh_token", refresh_token=issued["refresh_token"]
    )
    assert refreshed.status_code == 200
    assert requests.post(f"{sim.base_url}/_simulator/reset", timeout=10).json() == {"ok": True}
    assert sim.inspect().customer_count == 0
    assert sim.faults == Faults()


def test_logs_never_contain_tokens(
    sim: QuickBooksSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="qbo_simulator")
    refresh = sim.issue_refresh_token()
    answer = token_request(sim, grant_type="refresh_token", refresh_token=refresh).json()
    api = Api(sim, answer["access_token"])
    api.create(DisplayName="Logged")
    Api(sim, "some-bad-token").get("/customer/1")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /v3/company" in text
    for secret in (refresh, answer["access_token"], answer["refresh_token"], "some-bad-token"):
        assert secret not in text
    assert "Bearer" not in text


def test_command_line_runs_and_prints_how_to_connect(tmp_path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qbo_simulator",
            "--port",
            "0",
            "--store",
            str(tmp_path / "cli.sqlite"),
            "--realm-id",
            "4620816365000000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        output = "".join(lines)
        base = re.search(r"running at (http://\S+)", output).group(1)
        assert "4620816365000000" in output
        assert "simulator-client-id" in output
        refresh = re.search(r"refresh token:\s+(\S+)", output).group(1)
        discovery = re.search(r"discovery URL:\s+(\S+)", output).group(1)
        assert requests.get(discovery, timeout=10).json()["token_endpoint"].startswith(base)
        answer = requests.post(
            f"{base}/oauth2/v1/tokens/bearer",
            data={"grant_type": "refresh_token", "refresh_token": refresh},
            auth=("simulator-client-id", "simulator-client-secret"),
            timeout=10,
        )
        assert answer.status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)


def test_state_is_json_serialisable(api: Api, sim: QuickBooksSimulator) -> None:
    api.create(DisplayName="Serialisable")
    json.dumps(sim.inspect().to_dict())
