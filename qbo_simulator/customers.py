"""Customer entity rules: validation, create, sparse/full update, read and query."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from . import query as qbo_query
from .config import SimulatorConfig
from .errors import ApiError, not_found, qbo_time, validation
from .store import Store, name_key

# Writable properties of the v3 Customer schema. Anything else is refused with 2010, as QBO's
# strict deserialiser does, so a client typo ("PrimaryEmail") fails here instead of vanishing.
WRITABLE_FIELDS = frozenset(
    {
        "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "DisplayName", "CompanyName",
        "PrintOnCheckName", "Active", "PrimaryPhone", "AlternatePhone", "Mobile", "Fax",
        "PrimaryEmailAddr", "WebAddr", "OtherContactInfo", "DefaultTaxCodeRef", "Taxable",
        "TaxExemptionReasonId", "BillAddr", "ShipAddr", "Notes", "BillWithParent", "ParentRef",
        "SalesTermRef", "PaymentMethodRef", "OpenBalanceDate", "CurrencyRef",
        "PreferredDeliveryMethod", "ResaleNum", "ARAccountRef", "PrimaryTaxIdentifier",
        "SecondaryTaxIdentifier", "BusinessNumber", "GSTIN", "GSTRegistrationType",
        "CustomerTypeRef", "IsProject", "ClientEntityId", "Source", "CustomField",
        "TaxRegimeCode",
    }
)  # fmt: skip
# Accepted in a request but owned by the server (python-quickbooks sends most of them back).
SERVER_FIELDS = frozenset(
    {
        "Id", "SyncToken", "sparse", "domain", "MetaData", "FullyQualifiedName", "Balance",
        "BalanceWithJobs", "Level", "Job", "status", "V4IDPseudonym",
    }
)  # fmt: skip
NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
CHECKED_NAMES = ("DisplayName", "GivenName", "MiddleName", "FamilyName")
STRING_FIELDS = (*NAME_PARTS, "DisplayName", "CompanyName", "PrintOnCheckName", "Notes")
MAX_LENGTHS = {
    "DisplayName": 500,
    "GivenName": 100,
    "MiddleName": 100,
    "FamilyName": 100,
    "Notes": 2000,
    "PrimaryPhone.FreeFormNumber": 30,
    "PrimaryEmailAddr.Address": 100,
}
INVALID_NAME_CHARS = re.compile(r"[:\t\r\n]")
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def _unsupported(name: str) -> ApiError:
    return validation(
        "2010",
        "Request has invalid or unsupported property",
        f'Property Name:Unrecognized field "{name}" (class com.intuit.schema.finance.v3.Customer),'
        " not marked as ignorable specified is unsupported or invalid",
        element=name,
    )


def _get_path(record: Mapping[str, Any], path: str) -> Any:
    head, _, tail = path.partition(".")
    value = record.get(head)
    if tail:
        return value.get(tail) if isinstance(value, Mapping) else None
    return value


class Customers:
    def __init__(self, store: Store, config: SimulatorConfig) -> None:
        self.store = store
        self.config = config

    # -- shaping ---------------------------------------------------------------------------

    def _reserved_kind(self, display_name: str) -> str | None:
        key = name_key(display_name)
        for name, kind in dict(self.config.reserved_names).items():
            if name_key(name) == key:
                return kind
        return None

    @staticmethod
    def output(record: dict[str, Any], include_custom: bool) -> dict[str, Any]:
        """Custom field values come back only when the request asks for enhancedAllCustomFields."""
        if include_custom or "CustomField" not in record:
            return record
        return {k: v for k, v in record.items() if k != "CustomField"}

    def _incoming(self, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise validation(
                "2010",
                "Request has invalid or unsupported property",
                "The request body must be a JSON Customer object.",
            )
        for key in payload:
            if key not in WRITABLE_FIELDS and key not in SERVER_FIELDS:
                raise _unsupported(key)
        for key in STRING_FIELDS:
            value = payload.get(key)
            if value is not None and not isinstance(value, str):
                raise _unsupported(key)
        for key, inner in (("PrimaryEmailAddr", "Address"), ("PrimaryPhone", "FreeFormNumber")):
            value = payload.get(key)
            if value is None:
                continue
            if not isinstance(value, dict) or not isinstance(value.get(inner, ""), str):
                raise _unsupported(key)
        active = payload.get("Active")
        if isinstance(active, str) and active.lower() in ("true", "false"):
            payload = {**payload, "Active": active.lower() == "true"}
        elif active is not None and not isinstance(active, bool):
            raise _unsupported("Active")
        return payload

    # -- validation --------------------------------------------------------------------------

    def _validate(
        self, realm: str, record: dict[str, Any], own_id: int | None, include_custom: bool
    ) -> None:
        for key in CHECKED_NAMES:
            value = record.get(key)
            if value and INVALID_NAME_CHARS.search(value):
                raise validation(
                    "2170",
                    "Invalid String",
                    f"{key} contains a colon, tab or newline, which are not allowed in names."
                    f" Supplied value:{value!r}",
                    element=key,
                )
        for key in CHECKED_NAMES:
            if record.get(key):
                record[key] = record[key].strip()
        for path, limit in MAX_LENGTHS.items():
            value = _get_path(record, path)
            if isinstance(value, str) and len(value) > limit:
                raise validation(
                    "2050",
                    "String length is either shorter or longer than supported by specification",
                    "String length specified does not match the supported length. "
                    f"Min:0 Max:{limit} supported. Supplied length:{len(value)}",
                    element=path,
                )
        if not record.get("DisplayName"):
            built = " ".join(str(record[p]).strip() for p in NAME_PARTS if record.get(p))
            if not built:
                raise validation(
                    "2020",
                    "Required param missing, need to supply the required value for the API",
                    "Required parameter Name is missing in the request: supply DisplayName or "
                    "at least one of Title, GivenName, MiddleName, FamilyName, Suffix.",
                    element="DisplayName",
                )
            record["DisplayName"] = built[: MAX_LENGTHS["DisplayName"]]
        address = _get_path(record, "PrimaryEmailAddr.Address")
        # Code 2210 is what QBO answers for an address that "does not conform to the syntax rules
        # of RFC 822" (seen in public integration troubleshooting guides); the check here is
        # deliberately loose (x@y.tld, no spaces) so the product's stricter check is the one that
        # matters, and anything it lets through that is plainly not an address still fails.
        if address and not EMAIL_SHAPE.match(address):
            raise validation(
                "2210",
                "Email Address does not conform to the syntax rules of RFC 822.",
                "Email Address does not conform to the syntax rules of RFC 822. "
                f"Supplied value:{address}",
                element="PrimaryEmailAddr.Address",
            )
        if "CustomField" in record:
            record["CustomField"] = self._custom_fields(record["CustomField"], include_custom)
            if not record["CustomField"]:
                del record["CustomField"]
        self._check_unique(realm, record["DisplayName"], own_id)

    def _custom_fields(self, entries: Any, include_custom: bool) -> list[dict[str, Any]]:
        # Without include=enhancedAllCustomFields QBO ignores Customer custom fields silently.
        if not include_custom:
            return []
        if not isinstance(entries, list):
            raise _unsupported("CustomField")
        definitions = self.config.custom_field_definitions
        cleaned: list[dict[str, Any]] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise _unsupported("CustomField")
            definition = str(entry.get("DefinitionId", ""))
            value = entry.get("StringValue")
            # 6000 (business validation) rather than 2010: the payload is well-formed; it is the
            # company's configuration (its plan and custom field definitions) that refuses it.
            if definition not in definitions:
                raise validation(
                    "6000",
                    "A business validation error has occurred while processing your request",
                    f"Business Validation Error: Custom field DefinitionId={definition or '?'} "
                    "is not defined for Customer in this company.",
                    element="CustomField",
                )
            if value is not None and not isinstance(value, str):
                raise _unsupported("CustomField.StringValue")
            if value in (None, ""):
                continue
            cleaned.append(
                {
                    "DefinitionId": definition,
                    "Name": definitions[definition],
                    "Type": "StringType",
                    "StringValue": value,
                }
            )
        return cleaned

    def _check_unique(self, realm: str, display_name: str, own_id: int | None) -> None:
        existing = self.store.customer_id_by_name(realm, display_name)
        if existing is not None and existing != own_id:
            raise validation(
                "6240",
                "Duplicate Name Exists Error",
                f"The name supplied already exists. : Id={existing}",
            )
        if self._reserved_kind(display_name) is not None:
            raise validation(
                "6240",
                "Duplicate Name Exists Error",
                "The name supplied already exists. : Another customer, vendor or employee is "
                "already using this name. Please use a different name.",
            )

    # -- writes ------------------------------------------------------------------------------

    def save(self, realm: str, payload: Any, include_custom: bool) -> tuple[bool, dict[str, Any]]:
        """POST /customer: an Id means update. Returns (created, record)."""
        payload = self._incoming(payload)
        if payload.get("Id") not in (None, ""):
            return False, self.update(realm, payload, include_custom)
        return True, self.create(realm, payload, include_custom)

    def create(self, realm: str, payload: Any, include_custom: bool) -> dict[str, Any]:
        payload = self._incoming(payload)
        record = {
            k: v for k, v in payload.items() if k in WRITABLE_FIELDS and v is not None and v != ""
        }
        with self.store.transaction():
            self._validate(realm, record, None, include_custom)
            now = qbo_time()
            new_id = self.store.next_customer_id(realm)
            record = self._finish(record, new_id, 0, now, now)
            self.store.insert_customer(realm, record)
        return record

    def update(self, realm: str, payload: Any, include_custom: bool) -> dict[str, Any]:
        payload = self._incoming(payload)
        customer_id = self._parse_id(payload.get("Id"))
        with self.store.transaction():
            current = (
                self.store.get_customer(realm, customer_id) if customer_id is not None else None
            )
            if current is None:
                raise not_found()
            if payload.get("SyncToken") in (None, ""):
                raise validation(
                    "2020",
                    "Required param missing, need to supply the required value for the API",
                    "Required parameter SyncToken is missing in the request",
                    element="SyncToken",
                )
            if str(payload["SyncToken"]) != str(current["SyncToken"]):
                raise validation(
                    "5010",
                    "Stale Object Error",
                    "Stale Object Error : You and another user were working on this at the same "
                    "time. The other user finished before you did, so your work was not saved.",
                )
            sparse = str(payload.get("sparse")).lower() == "true"
            source = current if sparse else {}
            record = {
                k: v for k, v in source.items() if k in WRITABLE_FIELDS and k != "CustomField"
            }
            for key, value in payload.items():
                if key not in WRITABLE_FIELDS:
                    continue
                if value is None or value == "":
                    record.pop(key, None)
                else:
                    record[key] = value
            # Custom field values are written only with include=enhancedAllCustomFields;
            # otherwise the stored ones stay as they were.
            new_custom = include_custom and "CustomField" in payload
            if not new_custom:
                record.pop("CustomField", None)
            self._validate(realm, record, customer_id, include_custom)
            if not new_custom and current.get("CustomField"):
                record["CustomField"] = current["CustomField"]
            record = self._finish(
                record,
                customer_id,
                int(current["SyncToken"]) + 1,
                current["MetaData"]["CreateTime"],
                qbo_time(),
            )
            self.store.update_customer(realm, record)
        return record

    @staticmethod
    def _parse_id(value: Any) -> int | None:
        try:
            return int(str(value))
        except ValueError:
            return None

    @staticmethod
    def _finish(
        record: dict[str, Any], customer_id: int, sync_token: int, created: str, updated: str
    ) -> dict[str, Any]:
        display_name = record["DisplayName"]
        result: dict[str, Any] = {
            "Taxable": False,
            "Job": False,
            "BillWithParent": False,
            "Balance": 0,
            "BalanceWithJobs": 0,
            "PreferredDeliveryMethod": "Print",
            "IsProject": False,
            "PrintOnCheckName": display_name,
            "Active": True,
        }
        result.update(record)
        result.update(
            {
                "FullyQualifiedName": display_name,
                "domain": "QBO",
                "sparse": False,
                "Id": str(customer_id),
                "SyncToken": str(sync_token),
                "MetaData": {"CreateTime": created, "LastUpdatedTime": updated},
            }
        )
        return result

    # -- reads -------------------------------------------------------------------------------

    def get(self, realm: str, raw_id: str) -> dict[str, Any]:
        customer_id = self._parse_id(raw_id)
        record = self.store.get_customer(realm, customer_id) if customer_id is not None else None
        if record is None:
            raise not_found()
        return record

    def query(self, realm: str, text: str, include_custom: bool) -> dict[str, Any]:
        parsed = qbo_query.parse(text)
        entity = qbo_query.check_entity(parsed, ("Customer", "CompanyInfo"))
        if entity == "CompanyInfo":
            return self._company_query(realm, parsed)
        plan = qbo_query.customer_sql(parsed, self.config.max_query_results)
        if parsed.count:
            return {"totalCount": self.store.count_customers(realm, plan.where, plan.params)}
        rows = self.store.select_customers(
            realm, plan.where, plan.params, plan.order_by, plan.limit, plan.offset, plan.by_name
        )
        if not rows:
            return {}
        return {
            "Customer": [
                qbo_query.project(self.output(r, include_custom), parsed.fields) for r in rows
            ],
            "startPosition": parsed.start_position,
            "maxResults": len(rows),
        }

    def company_info(self, realm: str) -> dict[str, Any]:
        stamp = qbo_time(time.time() - 86400 * 365)
        return {
            "CompanyName": self.config.company_name,
            "LegalName": self.config.company_name,
            "Country": "RW",
            "SupportedLanguages": "en",
            "domain": "QBO",
            "sparse": False,
            "Id": "1",
            "SyncToken": "1",
            "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
        }

    def _company_query(self, realm: str, parsed: qbo_query.Query) -> dict[str, Any]:
        if parsed.conditions:
            raise ApiError(
                400,
                "4001",
                "Invalid query",
                "QueryValidationError: the simulator supports only SELECT * FROM CompanyInfo",
            )
        if parsed.count:
            return {"totalCount": 1}
        return {"CompanyInfo": [self.company_info(realm)], "startPosition": 1, "maxResults": 1}
