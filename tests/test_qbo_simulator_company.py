"""The simulated company from outside the API: existing customers, finance staff's edits,
limits exactly as QuickBooks', outages and OAuth lifetimes. Everything over real HTTP."""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from test_qbo_simulator import Api, creates, fault, token_request

from qbo_simulator import Faults, QuickBooksSimulator, SimulatorConfig
from qbo_simulator.oauth import digest

# The earlier integration's customers (../shared/spec/legacy/customers.json), copied so the
# tests do not depend on a file outside the repository.
LEGACY_CUSTOMERS: list[dict[str, Any]] = [
    {
        "Id": "301",
        "DisplayName": "25002",
        "GivenName": "Bob",
        "FamilyName": "Mugisha",
        "CompanyName": "Bob Mugisha",
        "PrimaryPhone": {"FreeFormNumber": "0788000002"},
        "PrimaryEmailAddr": {"Address": "bob@example.com"},
        "Notes": "Applicant synchronized from MIS - Tracking ID: 25002",
        "SyncToken": "0",
    },
    {
        "Id": "302",
        "DisplayName": "2024/BBA/002",
        "GivenName": "Fiona",
        "FamilyName": "Keza",
        "CompanyName": "Fiona Keza",
        "PrimaryPhone": {"FreeFormNumber": "0788100002"},
        "SyncToken": "3",
        "CustomField": [
            {
                "DefinitionId": "1000000001",
                "Name": "CustomerType",
                "Type": "StringType",
                "StringValue": "Student",
            },
            {
                "DefinitionId": "1000000002",
                "Name": "RegNo",
                "Type": "StringType",
                "StringValue": "2024/BBA/002",
            },
        ],
    },
    {
        "Id": "303",
        "DisplayName": "25004",
        "GivenName": "Dan",
        "FamilyName": "Habimana",
        "CompanyName": "Dan Habimana",
        "PrimaryPhone": {"FreeFormNumber": "0788000004"},
        "PrimaryEmailAddr": {"Address": "dan@example.com"},
        "Notes": "Applicant synchronized from MIS - Tracking ID: 25004",
        "SyncToken": "0",
    },
    {
        "Id": "304",
        "DisplayName": "Alice Uwase",
        "GivenName": "Alice",
        "FamilyName": "Uwase",
        "Notes": "Walk-in customer entered by hand in QuickBooks",
        "SyncToken": "0",
    },
]
STUDENT_FIELDS = (
    "CustomerType",
    "RegNo",
    "Gender",
    "Level",
    "Campus",
    "Intake",
    "Program",
    "NationalID",
    "ProgramType",
)
CUSTOM = {"include": "enhancedAllCustomFields"}


def legacy() -> list[dict[str, Any]]:
    return copy.deepcopy(LEGACY_CUSTOMERS)


def student(customer_id: int, reg_no: str) -> dict[str, Any]:
    """A student as the earlier system created it: all nine custom fields."""
    values = ["Student", reg_no, "F", "Level 2", "Kigali", "September 2024", "BBA", "1199", "Day"]
    return {
        "Id": str(customer_id),
        "DisplayName": reg_no,
        "CompanyName": "Grace Student",
        "SyncToken": "1",
        "CustomField": [
            {
                "DefinitionId": str(1000000001 + k),
                "Name": name,
                "Type": "StringType",
                "StringValue": values[k],
            }
            for k, name in enumerate(STUDENT_FIELDS)
        ],
    }


@pytest.fixture
def make_sim() -> Iterator[Callable[..., QuickBooksSimulator]]:
    started: list[QuickBooksSimulator] = []

    def make(
        store_path: Any = None,
        customers: list[dict[str, Any]] | None = None,
        faults: Faults | None = None,
        **config: Any,
    ) -> QuickBooksSimulator:
        sim = QuickBooksSimulator(
            SimulatorConfig(**config), store_path=store_path, faults=faults, customers=customers
        ).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


def admin(sim: QuickBooksSimulator, path: str, body: Any = None, **params: str):
    url = f"{sim.base_url}/_simulator/{path}"
    if body is None and path.startswith("customers/") and path.count("/") == 1:
        return requests.get(url, params=params, timeout=10)
    return requests.post(url, json=body, params=params, timeout=30)


def update(api: Api, customer: dict[str, Any], **changes: Any) -> requests.Response:
    body = {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True, **changes}
    return api.post("/customer", body)


# -- 1. starting with existing customers ---------------------------------------------------------


def test_legacy_customers_keep_ids_tokens_and_fields(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    sim = make_sim(customers=legacy())
    api = Api(sim)
    fiona = api.get("/customer/302").json()["Customer"]
    assert fiona["DisplayName"] == "2024/BBA/002"
    assert fiona["SyncToken"] == "3"
    assert fiona["CompanyName"] == "Fiona Keza"
    assert fiona["PrimaryPhone"] == {"FreeFormNumber": "0788100002"}
    assert fiona["Active"] is True
    assert fiona["Balance"] == 0
    assert fiona["FullyQualifiedName"] == "2024/BBA/002"
    assert set(fiona["MetaData"]) == {"CreateTime", "LastUpdatedTime"}
    assert "CustomField" not in fiona  # only with include=enhancedAllCustomFields
    bob = api.get("/customer/301").json()["Customer"]
    assert bob["Notes"] == "Applicant synchronized from MIS - Tracking ID: 25002"
    assert bob["PrimaryEmailAddr"] == {"Address": "bob@example.com"}

    # the product finds them by DisplayName, inactive ones included
    found = api.rows(
        "SELECT * FROM Customer WHERE DisplayName IN ('25002', '2024/bba/002', '25004') "
        "AND Active IN (true, false)"
    )
    assert sorted(r["Id"] for r in found) == ["301", "302", "303"]
    # the next create continues above the highest Id; a twin is refused with the holder's Id
    assert api.create(DisplayName="New Student")["Id"] == "305"
    twin = fault(api.post("/customer", {"DisplayName": "alice uwase"}))
    assert (twin["code"], twin["Detail"]) == ("6240", "The name supplied already exists. : Id=304")
    # an update needs the loaded SyncToken
    assert fault(update(api, {"Id": "302", "SyncToken": "0"}, Notes="x"))["code"] == "5010"
    updated = update(api, fiona, Notes="Fees paid").json()["Customer"]
    assert updated["SyncToken"] == "4"
    assert updated["CompanyName"] == "Fiona Keza"


def test_loaded_defaults_ids_metadata_and_balance(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    sim = make_sim()
    stamp = "2024-10-01T09:30:00.000-07:00"
    loaded = sim.load_customers(
        [
            {"Id": 40, "DisplayName": "With Balance", "Balance": 150.5, "Active": "false"},
            {"GivenName": "No", "FamilyName": "Id"},
            {"Id": "7", "DisplayName": "Dated", "MetaData": {"CreateTime": stamp}},
        ]
    )
    assert loaded == 3
    api = Api(sim)
    balance = api.get("/customer/40").json()["Customer"]
    assert (balance["Balance"], balance["BalanceWithJobs"], balance["Active"]) == (
        150.5,
        150.5,
        False,
    )
    assert balance["SyncToken"] == "0"
    no_id = api.rows("SELECT * FROM Customer WHERE DisplayName = 'No Id'")[0]
    assert no_id["Id"] == "41"  # above the highest given Id
    dated = api.get("/customer/7").json()["Customer"]
    assert dated["MetaData"] == {"CreateTime": stamp, "LastUpdatedTime": stamp}
    assert api.rows(f"SELECT * FROM Customer WHERE MetaData.CreateTime <= '{stamp}'") == [dated]
    # an API update keeps what the API cannot write (the balance comes from invoices)
    changed = update(api, balance, Notes="Reminded", Active=True).json()["Customer"]
    assert changed["Balance"] == 150.5
    assert api.create(DisplayName="Next")["Id"] == "42"


@pytest.mark.parametrize(
    ("customers", "message"),
    [
        ([{"Id": "1", "DisplayName": "A"}, {"Id": "1", "DisplayName": "B"}], "Id 1 is already"),
        ([{"DisplayName": "Same"}, {"DisplayName": " SAME"}], "also customers[1]"),
        ([{"DisplayName": "MTN Rwanda"}], "Vendor"),
        ([{"DisplayName": "jean claude HABIMANA"}], "Employee"),
        ([{"DisplayName": "Existing one"}], "taken by Id=1"),
        ([{"Id": "1", "DisplayName": "Other"}], "Id 1 is already"),
        ([{"Id": "abc", "DisplayName": "Bad Id"}], "not a positive integer"),
        ([{"Notes": "no name"}], "no DisplayName"),
        ([{"DisplayName": "Bad token", "SyncToken": "x"}], "SyncToken"),
        ([{"DisplayName": "Bad date", "MetaData": {"CreateTime": "soon"}}], "CreateTime"),
        ([{"DisplayName": "Bad CF", "CustomField": [{"StringValue": "x"}]}], "DefinitionId"),
        (["not an object"], "not a JSON object"),
    ],
)
def test_a_bad_load_is_refused_whole(
    make_sim: Callable[..., QuickBooksSimulator], customers: list[Any], message: str
) -> None:
    sim = make_sim(customers=[{"Id": "1", "DisplayName": "Existing One"}])
    with pytest.raises(ValueError, match=re.escape(message)):
        sim.load_customers([{"Id": "500", "DisplayName": "Fine"}, *customers])
    assert sim.inspect().customer_count == 1
    answer = admin(sim, "customers/load", [{"Id": "500", "DisplayName": "Fine"}, *customers])
    assert answer.status_code == 400
    assert message in answer.json()["error"]
    assert sim.inspect().customer_count == 1
    assert Api(sim).create(DisplayName="Fine")["Id"] == "2"


def test_admin_load_endpoint(make_sim: Callable[..., QuickBooksSimulator]) -> None:
    sim = make_sim()
    answer = admin(sim, "customers/load", legacy())
    assert answer.json() == {"loaded": 4, "realm_id": sim.config.realm_id, "next_id": 305}
    other = "4620816365000001"
    wrapped = admin(sim, "customers/load", {"customers": legacy(), "realm_id": other})
    assert wrapped.json()["realm_id"] == other
    assert sim.inspect(realm_id=other).customer_count == 4
    assert admin(sim, "customers/load", {"customers": "nope"}).status_code == 400
    read = admin(sim, "customers/302")
    assert read.json()["Customer"]["CustomField"][1]["StringValue"] == "2024/BBA/002"
    assert admin(sim, "customers/999").status_code == 404


def test_constructor_customers_with_a_store_file_load_once(
    make_sim: Callable[..., QuickBooksSimulator], tmp_path
) -> None:
    store = tmp_path / "company.sqlite"
    first = make_sim(store_path=store, customers=legacy())
    Api(first).create(DisplayName="Made Later")
    first.edit_customer("304", Notes="Edited")
    first.stop()
    second = make_sim(store_path=store, customers=legacy())  # already there: kept, not reloaded
    assert second.inspect().customer_count == 5
    assert second.get_customer("304")["Notes"] == "Edited"
    assert Api(second).create(DisplayName="After Restart")["Id"] == "306"


def test_cli_starts_with_customers_and_flags(tmp_path) -> None:
    customers = tmp_path / "customers.json"
    customers.write_text(json.dumps(legacy()), encoding="utf-8")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qbo_simulator",
            "--port",
            "0",
            "--customers",
            str(customers),
            "--custom-field",
            "1000000003=Gender",
            "--retry-after",
            "2",
            "--xml-throttle-body",
            "--requests-per-minute",
            "8",
            "--refresh-token-lifetime",
            "864000",
            "--refresh-token-hard-lifetime",
            "1209600",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or "Press Ctrl+C" not in lines[-1]:
            lines.append(proc.stdout.readline())
            assert lines[-1], "".join(lines)
        output = "".join(lines)
        assert "customers:       4 in the company" in output
        base = re.search(r"running at (http://\S+)", output).group(1)
        realm = re.search(r"realm id:\s+(\S+)", output).group(1)
        refresh = re.search(r"refresh token:\s+(\S+)", output).group(1)
        tokens = requests.post(
            f"{base}/oauth2/v1/tokens/bearer",
            data={"grant_type": "refresh_token", "refresh_token": refresh},
            auth=("simulator-client-id", "simulator-client-secret"),
            timeout=10,
        ).json()
        assert tokens["x_refresh_token_expires_in"] == 864000
        assert 1209590 <= tokens["x_refresh_token_hard_expires_in"] <= 1209600
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        session.headers["Accept"] = "application/json"
        url = f"{base}/v3/company/{realm}/customer/302"
        fiona = session.get(url, params={"minorversion": "75", **CUSTOM}, timeout=10)
        assert [f["Name"] for f in fiona.json()["Customer"]["CustomField"]] == [
            "CustomerType",
            "RegNo",
        ]
        # --custom-field defined Gender: the company accepts it
        gender = [{"DefinitionId": "1000000003", "StringValue": "F"}]
        written = session.post(
            f"{base}/v3/company/{realm}/customer",
            params={"minorversion": "75", **CUSTOM},
            json={"Id": "302", "SyncToken": "3", "sparse": True, "CustomField": gender},
            timeout=10,
        )
        assert written.json()["Customer"]["CustomField"][-1]["Name"] == "Gender"
        statuses = [session.get(url, params={"minorversion": "75"}).status_code for _ in range(7)]
        assert statuses == [200] * 6 + [429]
        throttled = session.get(url, params={"minorversion": "75"}, timeout=10)
        assert throttled.headers["Retry-After"] == "2"
        assert throttled.headers["Content-Type"] == "application/xml"
        assert '<Error code="3001">' in throttled.text
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_refuses_a_clashing_customers_file(tmp_path) -> None:
    customers = tmp_path / "customers.json"
    customers.write_text(json.dumps([{"DisplayName": "Twin"}, {"DisplayName": "twin"}]))
    done = subprocess.run(
        [sys.executable, "-m", "qbo_simulator", "--port", "0", "--customers", str(customers)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "also customers[0]" in done.stderr


# -- 2. custom fields on read --------------------------------------------------------------------


def test_custom_fields_come_back_only_when_asked(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    sim = make_sim(customers=[student(500, "2023/BIT/001"), *legacy()])
    assert sim.config.custom_field_definitions == {
        str(1000000001 + k): name for k, name in enumerate(STUDENT_FIELDS)
    }
    api = Api(sim)
    read = api.get("/customer/500", **CUSTOM).json()["Customer"]
    assert [(f["DefinitionId"], f["Name"], f["Type"]) for f in read["CustomField"]] == [
        (str(1000000001 + k), name, "StringType") for k, name in enumerate(STUDENT_FIELDS)
    ]
    assert read["CustomField"][1]["StringValue"] == "2023/BIT/001"
    assert "CustomField" not in api.get("/customer/500").json()["Customer"]
    # include needs minorversion 70 or later
    old = api.get("/customer/500", minorversion="65", **CUSTOM).json()["Customer"]
    assert "CustomField" not in old

    statement = "SELECT * FROM Customer WHERE Id IN ('500', '302')"
    plain = api.query(statement).json()["QueryResponse"]["Customer"]
    assert all("CustomField" not in c for c in plain)
    asked = api.query(statement, **CUSTOM).json()["QueryResponse"]["Customer"]
    assert {c["Id"]: len(c["CustomField"]) for c in asked} == {"500": 9, "302": 2}
    batch = [{"bId": "q", "Query": statement}]
    without = api.batch(batch).json()["BatchItemResponse"][0]["QueryResponse"]["Customer"]
    assert all("CustomField" not in c for c in without)
    with_cf = api.batch(batch, **CUSTOM).json()["BatchItemResponse"][0]["QueryResponse"]
    assert {c["Id"]: len(c["CustomField"]) for c in with_cf["Customer"]} == {"500": 9, "302": 2}


def test_sparse_update_changes_only_the_custom_fields_it_sends(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    sim = make_sim(customers=[student(500, "2023/BIT/001")])
    api = Api(sim)
    current = api.get("/customer/500").json()["Customer"]
    change = [
        {"DefinitionId": "1000000004", "StringValue": "Level 3"},
        {"DefinitionId": "1000000008", "StringValue": ""},  # cleared
    ]
    answer = api.post(
        "/customer",
        {"Id": "500", "SyncToken": current["SyncToken"], "sparse": True, "CustomField": change},
        **CUSTOM,
    )
    values = {f["Name"]: f["StringValue"] for f in answer.json()["Customer"]["CustomField"]}
    assert values["Level"] == "Level 3"
    assert "NationalID" not in values
    assert values["RegNo"] == "2023/BIT/001" and len(values) == 8
    # without include the fields are neither written nor dropped
    plain = update(api, answer.json()["Customer"], CustomField=[], Notes="n").json()["Customer"]
    assert len(sim.get_customer("500")["CustomField"]) == 8
    assert "CustomField" not in plain


# -- 3. finance staff's edits and the API's update rules -----------------------------------------


def test_edit_customer_as_finance_staff(make_sim: Callable[..., QuickBooksSimulator]) -> None:
    sim = make_sim(customers=legacy())
    api = Api(sim)
    seen = api.get("/customer/301").json()["Customer"]
    time.sleep(0.01)
    edited = sim.edit_customer(
        "301", PrimaryPhone="0788999999", Notes="Called twice", Balance=250, PrimaryEmailAddr=None
    )
    assert edited["SyncToken"] == "1"
    assert edited["MetaData"]["LastUpdatedTime"] > seen["MetaData"]["LastUpdatedTime"]
    assert edited["MetaData"]["CreateTime"] == seen["MetaData"]["CreateTime"]
    read = api.get("/customer/301").json()["Customer"]
    assert read == edited
    assert read["PrimaryPhone"] == {"FreeFormNumber": "0788999999"}
    assert "PrimaryEmailAddr" not in read
    assert (read["Balance"], read["BalanceWithJobs"]) == (250, 250)

    # the product's copy is now stale
    stale = update(api, seen, Notes="From the MIS")
    assert fault(stale)["code"] == "5010"
    fresh = update(api, read, GivenName="Robert").json()["Customer"]
    assert (fresh["SyncToken"], fresh["Notes"], fresh["GivenName"]) == (
        "2",
        "Called twice",
        "Robert",
    )
    assert fresh["Balance"] == 250

    renamed = sim.edit_customer(301, DisplayName="Bob M. (25002)")
    assert renamed["FullyQualifiedName"] == "Bob M. (25002)"
    assert api.rows("SELECT * FROM Customer WHERE DisplayName = '25002'") == []
    with pytest.raises(ValueError, match="Id=304"):
        sim.edit_customer("301", DisplayName="ALICE UWASE")
    with pytest.raises(ValueError, match="already exists"):
        sim.edit_customer("301", DisplayName="MTN Rwanda")
    with pytest.raises(ValueError, match="not editable"):
        sim.edit_customer("301", Id="9")
    with pytest.raises(KeyError):
        sim.edit_customer("999", Notes="x")


def test_deactivated_customer_is_hidden_but_keeps_its_name(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    sim = make_sim(customers=legacy())
    api = Api(sim)
    gone = sim.deactivate_customer("303")
    assert (gone["Active"], gone["SyncToken"]) == (False, "1")
    assert api.rows("SELECT * FROM Customer WHERE DisplayName = '25004'") == []
    both = api.rows(
        "SELECT * FROM Customer WHERE DisplayName = '25004' AND Active IN (true, false)"
    )
    assert both[0]["Id"] == "303"
    clash = fault(api.post("/customer", {"DisplayName": "25004"}))
    assert clash["Detail"] == "The name supplied already exists. : Id=303"
    count = api.query("SELECT COUNT(*) FROM Customer").json()["QueryResponse"]["totalCount"]
    assert count == 3


def test_admin_edit_and_deactivate_endpoints(make_sim: Callable[..., QuickBooksSimulator]) -> None:
    sim = make_sim(customers=legacy())
    edited = admin(sim, "customers/302/edit", {"Notes": "Scholarship", "Active": "false"})
    assert edited.status_code == 200
    customer = edited.json()["Customer"]
    assert (customer["Notes"], customer["Active"], customer["SyncToken"]) == (
        "Scholarship",
        False,
        "4",
    )
    assert admin(sim, "customers/304/deactivate").json()["Customer"]["Active"] is False
    clash = admin(sim, "customers/302/edit", {"DisplayName": "25002"})
    assert clash.status_code == 400
    assert "Id=301" in clash.json()["error"]
    assert admin(sim, "customers/999/edit", {"Notes": "x"}).status_code == 404
    assert admin(sim, "customers/302/edit", ["not", "an", "object"]).status_code == 400
    assert admin(sim, "customers/302/edit", {"Nope": 1}).status_code == 400


def test_rename_by_update_follows_the_6240_rule(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    sim = make_sim(customers=legacy())
    sim.deactivate_customer("304")
    api = Api(sim)
    bob = api.get("/customer/301").json()["Customer"]
    onto_inactive = fault(update(api, bob, DisplayName="  alice UWASE "))
    assert onto_inactive["code"] == "6240"
    assert onto_inactive["Detail"] == "The name supplied already exists. : Id=304"
    onto_active = fault(update(api, bob, DisplayName="25004"))
    assert onto_active["Detail"] == "The name supplied already exists. : Id=303"
    for reserved in ("rwanda energy group", "MARIE CLAIRE UWIMANA"):
        error = fault(update(api, bob, DisplayName=reserved))
        assert error["code"] == "6240"
        assert "Id=" not in error["Detail"]
    own_case = update(api, bob, DisplayName="25002").json()["Customer"]  # its own name is fine
    assert own_case["SyncToken"] == "1"
    # nothing changed by the refused renames
    assert sim.get_customer("301")["DisplayName"] == "25002"


def test_batch_updates_fail_or_succeed_item_by_item(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    sim = make_sim(customers=legacy())
    sim.edit_customer("303", Notes="Finance touched it")  # SyncToken 0 -> 1
    api = Api(sim)

    def item(bid: str, **customer: Any) -> dict[str, Any]:
        return {"bId": bid, "operation": "update", "Customer": {"sparse": True, **customer}}

    answer = api.batch(
        [
            item("ok", Id="301", SyncToken="0", Notes="Batch note"),
            item("stale", Id="303", SyncToken="0", Notes="x"),
            item("missing", Id="9999", SyncToken="0", Notes="x"),
            item("dup", Id="304", SyncToken="0", DisplayName="2024/bba/002"),
            item("vendor", Id="304", SyncToken="0", DisplayName="Kigali Office Supplies Ltd"),
            *creates(["Fresh In Batch"]),
        ]
    )
    assert answer.status_code == 200
    by_bid = {a["bId"]: a for a in answer.json()["BatchItemResponse"]}
    assert by_bid["ok"]["Customer"]["SyncToken"] == "1"
    assert by_bid["ok"]["Customer"]["PrimaryEmailAddr"] == {"Address": "bob@example.com"}

    def error(bid: str) -> dict[str, Any]:
        return by_bid[bid]["Fault"]["Error"][0]

    assert error("stale")["code"] == "5010"
    assert error("missing")["code"] == "610"
    assert (error("dup")["code"], error("dup")["Detail"]) == (
        "6240",
        "The name supplied already exists. : Id=302",
    )
    assert error("vendor")["code"] == "6240"
    assert by_bid["1"]["Customer"]["Id"] == "305"


# -- 4. limits exactly as QuickBooks' ------------------------------------------------------------


def test_batch_requests_count_in_the_500_per_minute(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    sim = make_sim(requests_per_minute=3)
    api = Api(sim)
    for i in range(3):
        assert api.batch(creates([f"Batch {i}"])).status_code == 200
    assert api.get("/customer/1").status_code == 429
    assert api.batch(creates(["One more"])).status_code == 429


def test_default_limits_40_batches_and_500_requests_a_minute(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    sim = make_sim()
    assert (sim.config.requests_per_minute, sim.config.batch_requests_per_minute) == (500, 40)
    api = Api(sim)
    batches = [
        api.batch([{"bId": "1", "Query": "SELECT COUNT(*) FROM Customer"}]) for _ in range(41)
    ]
    assert [b.status_code for b in batches] == [200] * 40 + [429]
    # the 40 batches count in the 500; the refused one does not
    singles = [api.get(f"/companyinfo/{sim.config.realm_id}").status_code for _ in range(461)]
    assert singles == [200] * 460 + [429]
    assert sim.inspect().throttled_count == 2


def test_429_json_by_default_with_optional_retry_after_and_xml(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    sim = make_sim(retry_after_s=30)
    api = Api(sim)
    sim.set_faults(throttle_storm=True)
    answer = api.get("/customer/1")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "30"
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["Fault"]["Error"][0]["code"] == "3001"

    sim.set_faults(throttle_storm=True, retry_after_s=0.5, xml_throttle_body=True)
    xml = api.get("/customer/1")
    assert xml.status_code == 429
    assert xml.headers["Retry-After"] == "0.5"
    assert xml.headers["Content-Type"] == "application/xml"
    assert re.fullmatch(
        r'<\?xml version="1\.0" encoding="UTF-8" standalone="yes"\?>'
        r'<IntuitResponse xmlns="http://schema\.intuit\.com/finance/v3" time="[^"]+">'
        r'<Fault type="ThrottleExceeded"><Error code="3001">'
        r"<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
        r"<Detail>The request limit was reached\.</Detail></Error></Fault></IntuitResponse>",
        xml.text,
    )
    requests.post(f"{sim.base_url}/_simulator/faults", json={"throttle_storm": False}, timeout=10)
    assert api.get("/customer/1").status_code == 400  # 610: not throttled any more


def test_no_retry_after_unless_configured(make_sim: Callable[..., QuickBooksSimulator]) -> None:
    sim = make_sim(max_concurrent=0)
    answer = Api(sim).get("/customer/1")
    assert answer.status_code == 429
    assert "Retry-After" not in answer.headers


# -- 5. queries over many customers --------------------------------------------------------------


def test_paging_counting_and_lookups_over_a_large_company(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    n = 5000
    customers = [
        {"Id": str(10 + i), "DisplayName": f"Bulk {i:05d}", "Active": i % 10 != 9} for i in range(n)
    ]
    sim = make_sim(customers=customers)
    api = Api(sim)
    active = n - n // 10
    count = api.query("SELECT COUNT(*) FROM Customer").json()["QueryResponse"]
    assert count == {"totalCount": active}
    everyone = api.query("SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)").json()
    assert everyone["QueryResponse"] == {"totalCount": n}
    seen: list[str] = []
    for start in range(1, active + 1, 1000):
        page = api.query(f"SELECT * FROM Customer STARTPOSITION {start} MAXRESULTS 1000").json()
        seen += [c["Id"] for c in page["QueryResponse"]["Customer"]]
    assert len(seen) == len(set(seen)) == active
    assert seen == sorted(seen, key=int)
    last = api.query(f"SELECT * FROM Customer STARTPOSITION {active - 4} MAXRESULTS 1000").json()
    assert [c["Id"] for c in last["QueryResponse"]["Customer"]] == seen[-5:]
    past = api.query(f"SELECT * FROM Customer STARTPOSITION {active + 1} MAXRESULTS 1000")
    assert past.json()["QueryResponse"] == {}
    tail = api.rows(
        f"SELECT * FROM Customer WHERE Active IN (false, true) STARTPOSITION {n - 4} "
        "MAXRESULTS 1000"
    )
    assert [c["Id"] for c in tail] == ["5005", "5006", "5007", "5008", "5009"]
    inactive = api.query("SELECT COUNT(*) FROM Customer WHERE Active = false").json()
    assert inactive["QueryResponse"] == {"totalCount": n // 10}
    ids = api.rows("SELECT * FROM Customer WHERE Id IN ('10', '19', '5008', '99999')")
    assert [c["Id"] for c in ids] == ["10", "5008"]  # 19 is inactive
    names = api.rows(
        "SELECT * FROM Customer WHERE DisplayName IN ('bulk 00009', 'BULK 04000', 'none') "
        "AND Active IN (true, false)"
    )
    assert [(c["Id"], c["Active"]) for c in names] == [("19", False), ("4010", True)]


# -- 6. OAuth and outages ------------------------------------------------------------------------


def test_revoke_all_disconnects_the_company(make_sim: Callable[..., QuickBooksSimulator]) -> None:
    sim = make_sim()
    refresh = sim.issue_refresh_token()
    tokens = token_request(sim, grant_type="refresh_token", refresh_token=refresh).json()
    api = Api(sim, tokens["access_token"])
    assert api.get(f"/companyinfo/{sim.config.realm_id}").status_code == 200
    assert sim.revoke_all() == 1
    denied = api.get(f"/companyinfo/{sim.config.realm_id}")
    assert denied.status_code == 401
    assert denied.json()["fault"]["error"][0]["code"] == "3200"
    again = token_request(sim, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})
    # reconnecting makes a new grant that works; the admin endpoint revokes that one too
    fresh = Api(sim)
    assert fresh.get(f"/companyinfo/{sim.config.realm_id}").status_code == 200
    revoked = requests.post(f"{sim.base_url}/_simulator/revoke", json={}, timeout=10).json()
    assert revoked == {"revoked": 1, "realm_id": sim.config.realm_id}
    assert fresh.get(f"/companyinfo/{sim.config.realm_id}").status_code == 401


def test_api_down_answers_503_or_drops(make_sim: Callable[..., QuickBooksSimulator]) -> None:
    sim = make_sim()
    api = Api(sim)
    sim.set_faults(api_down=True)
    down = api.get("/customer/1")
    assert down.status_code == 503
    assert fault(down)["type"] == "SystemFault"
    assert api.batch(creates(["Never"])).status_code == 503
    assert sim.inspect().customer_count == 0
    # the token endpoint still answers: this is the API being down, not the connection
    refresh = token_request(
        sim, grant_type="refresh_token", refresh_token=sim.issue_refresh_token()
    )
    assert refresh.status_code == 200
    sim.set_faults(api_down=True, down_mode="drop")
    with pytest.raises(requests.ConnectionError):
        api.get("/customer/1")
    sim.set_faults(api_down=False)
    assert api.query("SELECT COUNT(*) FROM Customer").status_code == 200
    assert sim.inspect().api_down_answers == 3
    bad = requests.post(f"{sim.base_url}/_simulator/faults", json={"down_mode": "x"}, timeout=10)
    assert bad.status_code == 400


def test_token_endpoint_down(make_sim: Callable[..., QuickBooksSimulator]) -> None:
    sim = make_sim()
    api = Api(sim)
    refresh = sim.issue_refresh_token()
    sim.set_faults(token_endpoint_down=True)
    down = token_request(sim, grant_type="refresh_token", refresh_token=refresh)
    assert down.status_code == 503
    assert down.json()["error"] == "temporarily_unavailable"
    assert requests.get(sim.discovery_url, timeout=10).status_code == 200
    assert api.get(f"/companyinfo/{sim.config.realm_id}").status_code == 200  # API still up
    sim.set_faults(token_endpoint_down=True, down_mode="drop")
    with pytest.raises(requests.ConnectionError):
        token_request(sim, grant_type="refresh_token", refresh_token=refresh)
    sim.set_faults(token_endpoint_down=False)
    # the refused attempts did not use the token up
    assert token_request(sim, grant_type="refresh_token", refresh_token=refresh).status_code == 200
    assert sim.inspect().token_endpoint_down_answers == 2


def test_refresh_rotation_only_the_newest_works(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    sim = make_sim()
    first = sim.issue_refresh_token()
    second = token_request(sim, grant_type="refresh_token", refresh_token=first).json()
    reuse = token_request(sim, grant_type="refresh_token", refresh_token=first)
    assert (reuse.status_code, reuse.json()) == (400, {"error": "invalid_grant"})
    # reusing an old one does not revoke the grant: the newest still works
    third = token_request(sim, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert third.status_code == 200
    assert third.json()["refresh_token"] not in (first, second["refresh_token"])


def test_refresh_token_lifetimes_are_reported_and_enforced(
    make_sim: Callable[..., QuickBooksSimulator],
) -> None:
    sim = make_sim()
    answer = token_request(sim, grant_type="refresh_token", refresh_token=sim.issue_refresh_token())
    body = answer.json()
    assert body["expires_in"] == 3600
    assert body["x_refresh_token_expires_in"] == 8726400
    assert 5 * 365 * 86400 - 5 <= body["x_refresh_token_hard_expires_in"] <= 5 * 365 * 86400

    # a grant near its five-year limit: every answer says so, whatever the rolling lifetime
    ten_days = 10 * 86400
    near = sim.issue_refresh_token(hard_lifetime_s=ten_days)
    body = token_request(sim, grant_type="refresh_token", refresh_token=near).json()
    assert ten_days - 5 <= body["x_refresh_token_expires_in"] <= ten_days
    assert ten_days - 5 <= body["x_refresh_token_hard_expires_in"] <= ten_days

    # the rolling lifetime, configured: "expiring within 14 days"
    sim.config.refresh_token_lifetime_s = 13 * 86400
    sim.config.report_refresh_token_hard_expiry = False
    body = token_request(
        sim, grant_type="refresh_token", refresh_token=body["refresh_token"]
    ).json()
    assert "x_refresh_token_hard_expires_in" not in body
    assert ten_days - 5 <= body["x_refresh_token_expires_in"] <= ten_days  # the hard limit first
    body = token_request(
        sim, grant_type="refresh_token", refresh_token=sim.issue_refresh_token()
    ).json()
    assert body["x_refresh_token_expires_in"] == 13 * 86400

    short = sim.issue_refresh_token(lifetime_s=0.2)
    hard = sim.issue_refresh_token(hard_lifetime_s=0.2)
    time.sleep(0.3)
    for token in (short, hard):
        expired = token_request(sim, grant_type="refresh_token", refresh_token=token)
        assert (expired.status_code, expired.json()) == (400, {"error": "invalid_grant"})
    issued = requests.post(
        f"{sim.base_url}/_simulator/refresh-token", json={"hard_lifetime_s": 86400}, timeout=10
    ).json()
    sim.config.report_refresh_token_hard_expiry = True
    body = token_request(sim, grant_type="refresh_token", refresh_token=issued["refresh_token"])
    assert 86395 <= body.json()["x_refresh_token_hard_expires_in"] <= 86400


def test_a_store_file_from_before_hard_limits_still_refreshes(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE token_families (family TEXT PRIMARY KEY, realm TEXT NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0, created_ts REAL NOT NULL);
        CREATE TABLE refresh_tokens (token_hash TEXT PRIMARY KEY, family TEXT NOT NULL,
            issued_at REAL NOT NULL, expires_at REAL NOT NULL, current INTEGER NOT NULL);
        """
    )
    now = time.time()
    db.execute("INSERT INTO token_families VALUES ('fam', '9341455555555555', 0, ?)", (now,))
    db.execute(
        "INSERT INTO refresh_tokens VALUES (?, 'fam', ?, ?, 1)",
        (digest("old-refresh-token"), now, now + 3600),
    )
    db.commit()
    db.close()
    sim = QuickBooksSimulator(SimulatorConfig(), store_path=path).start()
    try:
        answer = token_request(sim, grant_type="refresh_token", refresh_token="old-refresh-token")
        assert answer.status_code == 200
        hard = answer.json()["x_refresh_token_hard_expires_in"]
        assert 5 * 365 * 86400 - 5 <= hard <= 5 * 365 * 86400
    finally:
        sim.stop()
