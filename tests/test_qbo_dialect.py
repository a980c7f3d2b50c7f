"""Proof that the simulator speaks QuickBooks' dialect: a third-party client works against it.

python-quickbooks was written against the real service; if it can create, query and batch
through the simulator, and reads its faults the way it reads Intuit's, the simulator's wire
format is the real one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.batch import batch_create
from quickbooks.exceptions import (
    AuthorizationException,
    ObjectNotFoundException,
    QuickbooksException,
    ValidationException,
)
from quickbooks.objects.base import EmailAddress
from quickbooks.objects.customer import Customer

from qbo_simulator import QuickBooksSimulator, SimulatorConfig


@pytest.fixture(scope="module")
def sim() -> Iterator[QuickBooksSimulator]:
    sim = QuickBooksSimulator(SimulatorConfig()).start()
    yield sim
    sim.stop()


@pytest.fixture
def qb(sim: QuickBooksSimulator, monkeypatch: pytest.MonkeyPatch) -> QuickBooks:
    # requests-oauthlib refuses to put a bearer token on plain http unless told it is local.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    sim.reset()
    cfg = sim.config
    auth = AuthClient(
        cfg.client_id, cfg.client_secret, "http://localhost/callback", sim.discovery_url
    )
    auth.refresh(refresh_token=sim.issue_refresh_token())
    client = QuickBooks(
        auth_client=auth,
        refresh_token=auth.refresh_token,
        company_id=cfg.realm_id,
        minorversion=75,
    )
    client.api_url_v3 = sim.base_url + "/v3"
    client.sandbox_api_url_v3 = sim.base_url + "/v3"
    return client


def new_customer(display_name: str, email: str | None = None) -> Customer:
    customer = Customer()
    customer.DisplayName = display_name
    customer.GivenName = display_name.split()[0]
    if email:
        customer.PrimaryEmailAddr = EmailAddress()
        customer.PrimaryEmailAddr.Address = email
    return customer


def test_create_read_and_update(qb: QuickBooks, sim: QuickBooksSimulator) -> None:
    saved = new_customer("Claudine Ingabire", "claudine@example.rw").save(qb=qb)
    assert int(saved.Id) > 0
    assert saved.SyncToken == "0"
    fetched = Customer.get(saved.Id, qb=qb)
    assert fetched.DisplayName == "Claudine Ingabire"
    assert fetched.PrimaryEmailAddr.Address == "claudine@example.rw"

    fetched.Notes = "CustomerType: Student"
    updated = fetched.save(qb=qb)  # a full (non-sparse) update as python-quickbooks sends it
    assert updated.SyncToken == "1"
    assert Customer.get(saved.Id, qb=qb).Notes == "CustomerType: Student"
    with pytest.raises(QuickbooksException) as stale:
        fetched.save(qb=qb)  # still SyncToken 0
    assert int(stale.value.error_code) == 5010
    with pytest.raises(ObjectNotFoundException):
        Customer.get(99999, qb=qb)

    assert {r.minorversion for r in sim.inspect().requests} == {"75"}


def test_filter_query_and_count_including_apostrophes(qb: QuickBooks) -> None:
    for name in ("Patrick O'Neill", "Grace Mutesi", "Olivier Nshuti"):
        new_customer(name).save(qb=qb)
    found = Customer.filter(DisplayName="Patrick O'Neill", qb=qb)
    assert [c.DisplayName for c in found] == ["Patrick O'Neill"]
    assert [c.DisplayName for c in Customer.where("DisplayName LIKE '%o\\'nei%'", qb=qb)] == [
        "Patrick O'Neill"
    ]
    chosen = Customer.choose(["Grace Mutesi", "olivier nshuti"], field="DisplayName", qb=qb)
    assert sorted(c.DisplayName for c in chosen) == ["Grace Mutesi", "Olivier Nshuti"]
    assert Customer.count(qb=qb) == 3
    assert Customer.count("DisplayName LIKE 'G%'", qb=qb) == 1
    ordered = Customer.all(order_by="DisplayName DESC", max_results=2, qb=qb)
    assert [c.DisplayName for c in ordered] == ["Patrick O'Neill", "Olivier Nshuti"]
    assert Customer.filter(DisplayName="Nobody Here", qb=qb) == []
    with pytest.raises(ValidationException) as bad:
        Customer.where("Notes = 'x'", qb=qb)
    assert bad.value.error_code == 4000


def test_batch_create_matches_answers_by_bid(qb: QuickBooks, sim: QuickBooksSimulator) -> None:
    customers = [new_customer(f"Batch Student {i:02d}") for i in range(35)]  # 30 + 5
    result = batch_create(customers, qb=qb)
    assert len(result.successes) == 35
    assert result.faults == []
    assert sorted(c.DisplayName for c in result.successes) == sorted(
        c.DisplayName for c in customers
    )
    assert sim.inspect().customer_count == 35

    clash = batch_create([new_customer("batch student 00"), new_customer("Fresh One")], qb=qb)
    assert [c.DisplayName for c in clash.successes] == ["Fresh One"]
    assert len(clash.faults) == 1
    assert clash.faults[0].original_object.DisplayName == "batch student 00"
    assert clash.faults[0].Error[0].code == "6240"


def test_duplicate_display_name_raises_with_code_6240(qb: QuickBooks) -> None:
    new_customer("Jean Bosco Mugisha").save(qb=qb)
    with pytest.raises(QuickbooksException) as duplicate:
        new_customer("JEAN BOSCO MUGISHA").save(qb=qb)
    assert int(duplicate.value.error_code) == 6240
    assert duplicate.value.message == "Duplicate Name Exists Error"
    assert "Id=" in duplicate.value.detail


def test_bad_token_raises_authorization_exception(qb: QuickBooks) -> None:
    qb.session.token = {"access_token": "revoked-or-expired", "token_type": "Bearer"}
    with pytest.raises(AuthorizationException) as denied:
        Customer.count(qb=qb)
    assert denied.value.error_code == 401
    assert '"code":"3200"' in denied.value.detail
