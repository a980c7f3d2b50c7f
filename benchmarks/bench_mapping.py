"""Benchmark of pure mapping (MIS row -> Customer payload): prints figures, asserts nothing.

    python benchmarks/bench_mapping.py [--records 20000] [--rounds 5]

Builds ``--records`` realistic rows in memory (half applicants, half students; ~89 % of phones
plain Rwandan mobiles in varied shapes, the rest junk, foreign, landlines, wrong prefixes or
lengths; names with some accents and stray spaces; e-mails), then maps them page by page (2,000
rows, a fresh ``Lookups`` per page, as the product reads them) with
``sync_core.domain.mapping.map_record``. Runs alternate A B A B ... in the same process:
  A  mapping as shipped (clean_phone with its fast path)
  B  mapping with every phone parsed by phonenumbers (sanitize._clean_phone_slow)
and the same for clean_phone alone (per-call time over the same phone mix, and over plain
mobiles only). The machine's load average is printed with the figures: on a loaded machine
every figure is lower.
  target: mapping >= 20,000 records/s
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import verdict  # noqa: E402

from sync_core.domain import sanitize  # noqa: E402

TARGET = 20_000
PAGE = 2_000

FIRST = [
    "Jean", "Claude", "Grace", "Eric", "Aline", "Patrick", "Diane", "Emmanuel", "Josiane",
    "Olivier", "Clarisse", "Jean-Paul", "Émilienne", "Josée", "Benoît", "Hélène", "Noël",
    "Françoise", "Innocent", "Divine", "Yves", "Gaëlle", "Théogène", "Célestin",
]  # fmt: skip
FAMILY = [
    "Uwase", "Habimana", "Mukamana", "Niyonzima", "Nkurunziza", "Uwimana", "Mugisha",
    "Ndayisaba", "Ishimwe", "Iradukunda", "Hakizimana", "Nshimiyimana", "Mutoni", "Ingabire",
    "Bizimana", "Dusabimana", "Müller", "Nsengiyumva", "Tuyishime", "Kamanzi",
]  # fmt: skip
DOMAINS = ["gmail.com", "yahoo.fr", "ur.ac.rw", "outlook.com", "Gmail.COM", "hotmail.com"]
OTHER_PHONES = [
    None, "", "N/A", "n/a", "0", "000000000", "-", "none", "call me",  # junk
    "+256 772 123456", "+254712345678", "+1 202 555 0123", "+243 81 234 5678",  # foreign
    "0252 123 456", "+250 252 123 456",  # landlines
    "0748123456", "0718123456", "078812345", "07881234567",  # wrong prefix / length
    "0788123456 / 0722654321", "(+250) 788-123-456",  # two numbers, odd punctuation
]  # fmt: skip


def _mobile(rng: random.Random) -> str:
    national = rng.choice("23789") + f"{rng.randrange(10_000_000):07d}"
    n = "7" + national
    shapes = (
        f"0{n}",
        f"0{n}",
        f"0{n}",
        f"0{n[:2]} {n[2:5]} {n[5:]}",
        f"+250{n}",
        f"250{n}",
        f"+250 {n[:3]} {n[3:6]} {n[6:]}",
        f"0{n[:2]}-{n[2:5]}-{n[5:]}",
        n,
    )
    return rng.choice(shapes)


def _phone(rng: random.Random) -> str | None:
    return _mobile(rng) if rng.random() < 0.89 else rng.choice(OTHER_PHONES)


def _name(rng: random.Random, names: list[str]) -> str:
    name = rng.choice(names)
    roll = rng.random()
    if roll < 0.05:
        return f"  {name} "
    if roll < 0.07:
        return name.upper()
    return name


def _email(rng: random.Random, first: str, family: str) -> str | None:
    roll = rng.random()
    if roll < 0.05:
        return None
    if roll < 0.08:
        return rng.choice(["n/a", "none", "john@", "grace at gmail.com"])
    local = f"{first}.{family}".lower().replace(" ", "")
    if not local.isascii():
        local = f"{family.lower()}{rng.randrange(100)}"
        local = local.encode("ascii", "ignore").decode()
    return f"{local}@{rng.choice(DOMAINS)}"


def build_rows(count: int, seed: int = 2025) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    rows: list[tuple[str, dict[str, Any]]] = []
    for i in range(count):
        first, family = _name(rng, FIRST), _name(rng, FAMILY)
        middle = rng.choice(FIRST) if rng.random() < 0.3 else None
        common = {
            "sex": rng.choice(["M", "F", "m", "Female", ""]),
            "middlename": middle,
            "phone1": _phone(rng),
            "email1": _email(rng, first.strip(), family.strip()),
        }
        if i % 2 == 0:
            rows.append(
                (
                    "applicant",
                    {
                        **common,
                        "appl_Id": 100_000 + i,
                        "tracking_id": f"TRK-2025-{i:06d}",
                        "first_name": first,
                        "family_name": family,
                        "country_of_birth": rng.choice(["1", "1", "1", "2", "Uganda"]),
                        "nation_Id_passPort_no": f"1199{rng.randrange(10**12):012d}",
                        "camp_id": str(rng.randint(1, 3)),
                        "opt_1": str(rng.randint(1, 12)),
                        "intake_id": str(rng.randint(1, 4)),
                        "prg_mode_id": str(rng.randint(1, 2)),
                    },
                )
            )
        else:
            registration = {
                "level_id": str(rng.randint(1, 4)),
                "camp_id": str(rng.randint(1, 3)),
                "intake_id": str(rng.randint(1, 4)),
                "splz_id": str(rng.randint(1, 12)),
                "prg_mode_id": str(rng.randint(1, 2)),
            }
            rows.append(
                (
                    "student",
                    {
                        **common,
                        "per_id_ug": 500_000 + i,
                        "reg_no": f"2021/BIT/{i:05d}",
                        "prg_type": rng.choice(["UG Day", "UG Evening", "UG Weekend"]),
                        "fname": first,
                        "lname": family,
                        "national_id": f"1200{rng.randrange(10**12):012d}",
                        "registration": registration if rng.random() < 0.97 else None,
                    },
                )
            )
    return rows


def lookup_names() -> dict[str, dict[int, str]]:
    return {
        "campus": {1: "Kigali Campus", 2: "Rwamagana Campus", 3: "Nyagatare Campus"},
        "intake": {1: "January 2025", 2: "May 2025", 3: "September 2025", 4: "January 2026"},
        "program": {p: f"Bachelor of Programme {p}" for p in range(1, 12)},  # 12: not found
        "level": {1: "Year 1", 2: "Year 2", 3: "Year 3", 4: "Year 4"},
        "program_mode": {1: "Day", 2: "Evening"},
        "country": {1: "Rwanda", 2: "Burundi"},
    }


def time_mapping(rows: list[tuple[str, dict[str, Any]]], mapping: Any, lookups_type: Any) -> float:
    """Records per second, mapped page by page with a fresh Lookups per page."""
    names = lookup_names()
    options = mapping.MappingOptions()
    started = time.perf_counter()
    for start in range(0, len(rows), PAGE):
        lookups = lookups_type(names)
        for kind, row in rows[start : start + PAGE]:
            mapping.map_record(kind, row, lookups, options)
    return len(rows) / (time.perf_counter() - started)


def time_calls(fn: Callable[[Any], Any], values: list[Any]) -> float:
    """Microseconds per call."""
    started = time.perf_counter()
    for value in values:
        fn(value)
    return (time.perf_counter() - started) / len(values) * 1e6


def alternate(rounds: int, a: Callable[[], float], b: Callable[[], float]) -> tuple[list, list]:
    results_a, results_b = [], []
    for _ in range(rounds):
        results_a.append(a())
        results_b.append(b())
    return results_a, results_b


def spread(values: list[float], unit: str, digits: int = 0) -> str:
    return (
        f"median {statistics.median(values):>10,.{digits}f} {unit}  "
        f"(min {min(values):,.{digits}f}, max {max(values):,.{digits}f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5, help="A/B pairs")
    args = parser.parse_args()

    cpus = os.cpu_count()
    print(f"machine: {cpus} CPUs, load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = build_rows(args.records)
    phones = [row.get("phone1") for _, row in rows]
    plain = [p for p in phones if p and sanitize._fast_rw_phone(sanitize.clean_text(p))]
    print(
        f"{len(rows):,} rows; {len(plain) / len(phones):.1%} of phones take the fast path; "
        f"{args.rounds} alternating rounds (A B A B ...)"
    )
    sanitize.clean_phone("0788123456")  # the fast path's prefixes, found once (~20 ms)

    try:
        from sync_core.domain import mapping
        from sync_core.domain.lookups import Lookups
    except Exception as exc:  # the module is being restructured: say so, measure the rest
        mapping = Lookups = None
        print(f"mapping: cannot import the mapping ({type(exc).__name__}: {exc})")

    mapping_fast: list[float] = []
    mapping_slow: list[float] = []
    if mapping is not None:
        shipped = sanitize.clean_phone

        def with_fast_path() -> float:
            sanitize.clean_phone = shipped
            return time_mapping(rows, mapping, Lookups)

        def without_fast_path() -> float:
            sanitize.clean_phone = sanitize._clean_phone_slow
            try:
                return time_mapping(rows, mapping, Lookups)
            finally:
                sanitize.clean_phone = shipped

        try:
            time_mapping(rows[:PAGE], mapping, Lookups)  # warm-up
            mapping_fast, mapping_slow = alternate(args.rounds, with_fast_path, without_fast_path)
        except Exception as exc:
            print(f"mapping: map_record failed ({type(exc).__name__}: {exc})")
        else:
            print(f"mapping   A with phone fast path     {spread(mapping_fast, 'records/s')}")
            print(f"mapping   B phonenumbers for all     {spread(mapping_slow, 'records/s')}")
            gain = statistics.median(mapping_fast) / statistics.median(mapping_slow)
            print(f"mapping   A / B                      {gain:.2f} x")

    for label, values in (("phone mix", phones), ("plain mobiles", plain)):
        fast, slow = alternate(
            args.rounds,
            lambda v=values: time_calls(sanitize.clean_phone, v),
            lambda v=values: time_calls(sanitize._clean_phone_slow, v),
        )
        print(f"clean_phone {label:<14} A fast   {spread(fast, 'us/call', 2)}")
        print(f"clean_phone {label:<14} B slow   {spread(slow, 'us/call', 2)}")

    print(f"machine: load average now {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    figure = statistics.median(mapping_fast) if mapping_fast else 0.0
    gain = figure / statistics.median(mapping_slow) if mapping_fast else 0.0
    verdict.report(
        "mapping (phone fast path)",
        f"{figure:,.0f} records/s ({gain:.2f}x phonenumbers for all)",
        f">= {TARGET:,} records/s",
        figure >= TARGET,
    )


if __name__ == "__main__":
    main()
