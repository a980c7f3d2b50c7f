"""Customer entity rules: validation, create, sparse/full update, read and query; plus the
simulator-only ways in: bulk loading existing customers and editing one as finance staff would."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from . import query as qbo_query
from .config import SimulatorConfig
from .errors import ApiError, not_found, qbo_time, validation
from .store import Store, iso_timestamp, name_key

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
# What _finish always sets itself; every other stored field a write does not own is kept.
COMPUTED_FIELDS = frozenset(
    {"FullyQualifiedName", "domain", "sparse", "Id", "SyncToken", "MetaData"}
)
# A loaded customer's defaults: what a create would have given it.
LOAD_DEFAULTS: dict[str, Any] = {
    "Taxable": False,
    "Job": False,
    "BillWithParent": False,
    "Balance": 0,
    "BalanceWithJobs": 0,
    "PreferredDeliveryMethod": "Print",
    "IsProject": False,
    "Active": True,
    "SyncToken": "0",
}
STORED_CUSTOM_KEYS = {"DefinitionId", "Name", "Type", "StringValue"}
# Finance staff may also change what the API may not (the balance comes from invoices).
EDITABLE_FIELDS = WRITABLE_FIELDS | {"Balance", "BalanceWithJobs"}
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


def _as_bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{what} {value!r} is not true or false")


def _refuse(problems: list[str]) -> None:
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ValueError("; ".join(problems[:10]) + more)


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

    def _validate(self, realm: str, record: dict[str, Any], own_id: int | None) -> None:
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
        self._check_unique(realm, record["DisplayName"], own_id)

    def _custom_fields(self, entries: Any) -> list[dict[str, Any]]:
        """Checks CustomField entries against the company's definitions. An entry with an empty
        StringValue stays in the answer (it clears that field on a sparse update)."""
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
            cleaned.append(
                {
                    "DefinitionId": definition,
                    "Name": definitions[definition],
                    "Type": "StringType",
                    "StringValue": value or "",
                }
            )
        return cleaned

    @staticmethod
    def _merge_custom(
        current: list[dict[str, Any]], changes: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Sets the given fields and clears those sent empty, by DefinitionId; others stay."""
        merged = {str(entry.get("DefinitionId")): entry for entry in current}
        for entry in changes:
            if entry["StringValue"]:
                merged[entry["DefinitionId"]] = entry
            else:
                merged.pop(entry["DefinitionId"], None)
        return list(merged.values())

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
            k: v
            for k, v in payload.items()
            if k in WRITABLE_FIELDS and k != "CustomField" and v is not None and v != ""
        }
        # Without include=enhancedAllCustomFields QBO ignores Customer custom fields silently.
        custom: list[dict[str, Any]] = []
        if include_custom and payload.get("CustomField") is not None:
            custom = [e for e in self._custom_fields(payload["CustomField"]) if e["StringValue"]]
        with self.store.transaction():
            self._validate(realm, record, None)
            if custom:
                record["CustomField"] = custom
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
            # Custom field values are written only with include=enhancedAllCustomFields, a sparse
            # update changing just the DefinitionIds it sends (an empty value clears one); a full
            # update replaces the list. Otherwise the stored ones stay as they were.
            record.pop("CustomField", None)
            sent = payload.get("CustomField")
            changes = self._custom_fields(sent) if include_custom and sent is not None else None
            self._validate(realm, record, customer_id)
            kept = current.get("CustomField") or []
            if changes is not None:
                kept = self._merge_custom(kept if sparse else [], changes)
            if kept:
                record["CustomField"] = kept
            record = self._finish(
                record,
                customer_id,
                int(current["SyncToken"]) + 1,
                current["MetaData"]["CreateTime"],
                qbo_time(),
                keep=current,
            )
            self.store.update_customer(realm, record)
        return record

    # -- simulator-only writes: existing customers and finance staff's edits -------------------

    def load(self, realm: str, payloads: Any, define_custom_fields: bool = True) -> int:
        """Bulk-inserts existing customers (QBO Customer JSON) in one transaction.

        Kept as given: Id (a missing one gets the next free Id; later creates continue above the
        highest), SyncToken (default "0"), Active (default true), MetaData (default now),
        Balance (default 0), CustomField entries and every other field. Refused with ValueError,
        loading nothing: a clash of Ids or of DisplayNames (case-insensitive, with each other,
        with customers already there or with the reserved vendor/employee names), or a
        malformed entry. The DefinitionIds of CustomField entries become company definitions
        unless `define_custom_fields` is False. Returns how many were loaded.
        """
        if not isinstance(payloads, list):
            raise ValueError("customers must be a list of QBO Customer objects")
        now = qbo_time()
        meta_now = {"CreateTime": now, "LastUpdatedTime": now}
        records: list[tuple[int | None, str | None, dict[str, Any]]] = []
        problems: list[str] = []
        loaded = self._loaded
        for index, payload in enumerate(payloads):
            try:
                records.append(loaded(payload, meta_now))
            except ValueError as exc:
                problems.append(f"customers[{index}]: {exc}")
                if len(problems) > 20:
                    break
        _refuse(problems)
        has_rows = bool(records) and self.store.count_customers(realm, "1") > 0
        given = [cid for cid, _, _ in records if cid is not None]
        taken_ids = self.store.customer_ids(realm, given) if has_rows else set()
        names = self.store.customer_names(realm) if has_rows else {}
        reserved = {name_key(n): kind for n, kind in dict(self.config.reserved_names).items()}
        if len(set(given)) != len(given) or taken_ids:
            seen_ids: set[int] = set()
            for index, (cid, _, _) in enumerate(records):
                if cid is not None and (cid in seen_ids or cid in taken_ids):
                    problems.append(f"customers[{index}]: Id {cid} is already taken")
                seen_ids.add(cid or 0)
        keys = [key for _, key, _ in records]
        if len(set(keys)) != len(keys) or names or not reserved.keys().isdisjoint(keys):
            listed: dict[str | None, int] = {}
            for index, (_, key, record) in enumerate(records):
                shown = record["DisplayName"]
                if key in reserved:
                    problems.append(f"customers[{index}]: {shown!r} is a {reserved[key]}'s name")
                elif key in listed:
                    problems.append(
                        f"customers[{index}]: {shown!r} is also customers[{listed[key]}]'s"
                    )
                elif key in names:
                    problems.append(f"customers[{index}]: {shown!r} is taken by Id={names[key]}")
                listed.setdefault(key, index)
        _refuse(problems)
        rows = [record for _, _, record in records]
        with self.store.transaction():
            next_id = max(self.store.peek_next_customer_id(realm), max(given, default=0) + 1)
            for cid, _, record in records:
                if cid is None:
                    record["Id"], next_id = str(next_id), next_id + 1
            self.store.insert_customers(realm, rows)
            self.store.raise_next_customer_id(realm, next_id)
        if define_custom_fields:
            self._define_custom_fields(rows)
        return len(rows)

    def _loaded(
        self, payload: Any, meta_now: dict[str, str]
    ) -> tuple[int | None, str | None, dict[str, Any]]:
        """One customer to load in its stored form: (Id or None, name key, record). A missing
        Id is left for load() to assign."""
        if type(payload) is not dict:
            raise ValueError("not a JSON object")
        record = {**LOAD_DEFAULTS, **payload}
        cid: int | None = None
        raw_id = payload.get("Id")
        if raw_id is not None and raw_id != "":
            cid = self._parse_id(raw_id)
            if cid is None or cid < 1:
                raise ValueError(f"Id {raw_id!r} is not a positive integer")
            record["Id"] = str(cid)
        token = self._parse_id(record["SyncToken"])
        if token is None or token < 0:
            raise ValueError(f"SyncToken {record['SyncToken']!r} is not a whole number")
        record["SyncToken"] = str(token)
        name = record.get("DisplayName")
        if not name:
            name = " ".join(str(record[p]).strip() for p in NAME_PARTS if record.get(p))
            record["DisplayName"] = name
        if type(name) is not str or not name.strip():
            raise ValueError("no DisplayName and no name parts to build one from")
        if type(record["Active"]) is not bool:
            record["Active"] = _as_bool(record["Active"], "Active")
        balance = record["Balance"]
        if type(balance) not in (int, float):
            raise ValueError(f"Balance {balance!r} is not a number")
        if "BalanceWithJobs" not in payload:
            record["BalanceWithJobs"] = balance
        record.setdefault("PrintOnCheckName", name)
        record["FullyQualifiedName"] = name
        record["domain"], record["sparse"] = "QBO", False
        meta = payload.get("MetaData")
        if meta is None:
            record["MetaData"] = dict(meta_now)
        else:
            record["MetaData"] = self._loaded_meta(meta, meta_now)
        custom = payload.get("CustomField")
        if custom is not None:
            custom = self._loaded_custom_fields(custom)
            if custom:
                record["CustomField"] = custom
            else:
                del record["CustomField"]
        return cid, name_key(name), record

    @staticmethod
    def _loaded_meta(meta: Any, meta_now: dict[str, str]) -> dict[str, str]:
        if not isinstance(meta, dict):
            raise ValueError("MetaData is not an object")
        created = str(meta.get("CreateTime") or meta_now["CreateTime"])
        updated = str(meta.get("LastUpdatedTime") or created)
        for what, stamp in (("CreateTime", created), ("LastUpdatedTime", updated)):
            try:
                iso_timestamp(stamp)
            except ValueError:
                raise ValueError(f"MetaData.{what} {stamp!r} is not a date-time") from None
        return {"CreateTime": created, "LastUpdatedTime": updated}

    def _loaded_custom_fields(self, entries: Any) -> list[dict[str, Any]]:
        """CustomField entries as stored: DefinitionId, Name, Type, StringValue (none dropped
        but those without a value)."""
        if not isinstance(entries, list):
            raise ValueError("CustomField is not a list")
        if all(
            type(e) is dict
            and e.keys() == STORED_CUSTOM_KEYS
            and type(e["DefinitionId"]) is str
            and e["DefinitionId"]
            and type(e["StringValue"]) is str
            and e["StringValue"]
            for e in entries
        ):
            return entries  # already in stored form: the common case when loading
        kept: list[dict[str, Any]] = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("DefinitionId") in (None, ""):
                raise ValueError("a CustomField entry has no DefinitionId")
            definition = str(entry["DefinitionId"])
            value = entry.get("StringValue")
            if value in (None, ""):
                continue
            name = entry.get("Name") or self.config.custom_field_definitions.get(definition, "")
            kept.append(
                {
                    "DefinitionId": definition,
                    "Name": name,
                    "Type": entry.get("Type") or "StringType",
                    "StringValue": str(value),
                }
            )
        return kept

    def _define_custom_fields(self, records: list[dict[str, Any]]) -> None:
        definitions = self.config.custom_field_definitions
        for record in records:
            for entry in record.get("CustomField") or ():
                if entry["DefinitionId"] not in definitions:
                    definitions[entry["DefinitionId"]] = entry["Name"] or entry["DefinitionId"]

    def edit(self, realm: str, customer_id: Any, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Changes a customer as finance staff would in QuickBooks: no SyncToken needed, the
        SyncToken goes up by one and MetaData.LastUpdatedTime moves on. A None value removes the
        field; PrimaryPhone and PrimaryEmailAddr may be given as plain strings; CustomField
        replaces the whole list. A DisplayName change must keep names unique (ValueError);
        an unknown customer raises KeyError."""
        unknown = sorted(set(changes) - EDITABLE_FIELDS)
        if unknown:
            raise ValueError(f"not editable Customer fields: {unknown}")
        cid = self._parse_id(customer_id)
        with self.store.transaction():
            current = self.store.get_customer(realm, cid) if cid is not None else None
            if current is None or cid is None:
                raise KeyError(f"no Customer Id={customer_id} in realm {realm}")
            record = dict(current)
            for key, value in changes.items():
                if value is None:
                    record.pop(key, None)
                elif key == "PrimaryPhone" and isinstance(value, str):
                    record[key] = {"FreeFormNumber": value}
                elif key == "PrimaryEmailAddr" and isinstance(value, str):
                    record[key] = {"Address": value}
                elif key == "Active":
                    record[key] = _as_bool(value, "Active")
                elif key == "CustomField":
                    record[key] = self._loaded_custom_fields(value)
                else:
                    record[key] = value
            if "Balance" in changes and "BalanceWithJobs" not in changes:
                record["BalanceWithJobs"] = record.get("Balance", 0)
            name = record.get("DisplayName")
            if not isinstance(name, str) or not name.strip():
                raise ValueError("DisplayName must be a non-empty string")
            if name_key(name) != name_key(current["DisplayName"]):
                try:
                    self._check_unique(realm, name, cid)
                except ApiError as err:
                    raise ValueError(f"DisplayName {name!r}: {err.detail}") from None
            record = self._finish(
                record,
                cid,
                int(current["SyncToken"]) + 1,
                current["MetaData"]["CreateTime"],
                qbo_time(),
            )
            self.store.update_customer(realm, record)
        if "CustomField" in changes:
            self._define_custom_fields([record])
        return record

    @staticmethod
    def _parse_id(value: Any) -> int | None:
        try:
            return int(str(value))
        except ValueError:
            return None

    @staticmethod
    def _finish(
        record: dict[str, Any],
        customer_id: int,
        sync_token: int,
        created: str,
        updated: str,
        keep: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The stored form: defaults, then the server-owned fields of `keep` (the customer as it
        was: Balance and the like survive an update), then `record`, then the computed fields."""
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
        if keep is not None:
            result.update(
                (k, v)
                for k, v in keep.items()
                if k not in WRITABLE_FIELDS and k not in COMPUTED_FIELDS
            )
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
