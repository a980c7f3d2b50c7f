"""The layer rule of ``sync_core/__init__.py``, checked on the source itself (fast, no imports run).

Every module of ``sync_core`` and ``qbo_simulator`` is parsed with :mod:`ast`; every import counts,
wherever it is written (top level, inside a function, under ``TYPE_CHECKING``). A broken rule is
reported as ``path:line imports module``, so the one line to change is named.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "sync_core"


@dataclass(frozen=True)
class Import:
    path: Path  # the importing file
    module: str  # the importing module, e.g. "sync_core.sync.claim"
    line: int
    target: str  # the imported module (or module.name for ``from module import name``)

    def __str__(self) -> str:
        shown = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{shown}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """``from ..x import y`` inside ``module`` -> the absolute module it names."""
    base = module.split(".")
    if not is_package:
        base = base[:-1]  # a module's relative imports start from its package
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_in(path: Path, module: str | None = None) -> Iterator[Import]:
    module = module or module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):  # every import, also inside functions and if-blocks
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, module, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            source = (
                _resolve_relative(module, is_package, node.level, node.module)
                if node.level
                else node.module or ""
            )
            for alias in node.names:
                # ``from sync_core import demo`` imports sync_core.demo: count module.name
                target = source if alias.name == "*" else f"{source}.{alias.name}"
                yield Import(path, module, node.lineno, target)


def all_imports(package: str) -> list[Import]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no modules found under {ROOT / package}"
    return [imp for path in files for imp in imports_in(path)]


SYNC_CORE_IMPORTS = all_imports(PACKAGE)


def layer_of(module: str) -> str | None:
    """``sync_core.store.runs`` -> "store"; ``sync_core.defaults`` -> "defaults"."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    return parts[1] if len(parts) > 1 else ""


def is_of(target: str, *layers: str) -> bool:
    return layer_of(target) in layers


def top_level(target: str) -> str:
    return target.split(".")[0]


def violations(importer_layers: tuple[str, ...], forbidden: Callable[[Import], bool]) -> list[str]:
    return [
        str(imp)
        for imp in SYNC_CORE_IMPORTS
        if layer_of(imp.module) in importer_layers and forbidden(imp)
    ]


def test_the_parser_sees_every_kind_of_import(tmp_path):
    """The rules below can only fail if every import is found: proven on a sample module."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "import sqlalchemy as sa\n"
        "from sync_core import demo\n"
        "from ..service import facade\n"
        "from . import outcomes\n"
        "if TYPE_CHECKING:\n"
        "    from sync_core.mis.reader import fetch_records\n"
        "def later():\n"
        "    import streamlit\n"
        "    from sync_core.quickbooks.client import QuickBooksClient\n",
        encoding="utf-8",
    )
    found = {imp.target: imp.line for imp in imports_in(sample, "sync_core.sync.sample")}
    assert found["sqlalchemy"] == 3
    assert found["sync_core.demo"] == 4
    assert found["sync_core.service.facade"] == 5
    assert found["sync_core.sync.outcomes"] == 6
    assert found["sync_core.mis.reader.fetch_records"] == 8
    assert found["streamlit"] == 10  # inside a function
    assert found["sync_core.quickbooks.client.QuickBooksClient"] == 11
    assert layer_of("sync_core.service.facade") == "service"
    assert is_of("sync_core.defaults", "defaults") and not is_of("sqlalchemy", "domain")
    # the real tree is parsed too: the CLI imports the service inside its functions
    assert any(
        layer_of(imp.module) == "cli" and is_of(imp.target, "service") for imp in SYNC_CORE_IMPORTS
    )


def test_domain_imports_nothing_of_sync_core_but_itself_and_defaults():
    found = violations(
        ("domain",),
        lambda imp: (
            top_level(imp.target) == PACKAGE and not is_of(imp.target, "domain", "defaults")
        ),
    )
    assert found == [], "domain is pure: " + "; ".join(found)


def test_domain_imports_no_database_http_or_ui_library():
    found = violations(
        ("domain",), lambda imp: top_level(imp.target) in {"sqlalchemy", "requests", "streamlit"}
    )
    assert found == [], "domain is pure: " + "; ".join(found)


def test_mis_knows_neither_the_store_quickbooks_the_engine_the_service_nor_the_demo():
    found = violations(
        ("mis",), lambda imp: is_of(imp.target, "store", "quickbooks", "sync", "service", "demo")
    )
    assert found == [], "; ".join(found)


def test_quickbooks_adapter_imports_only_domain_defaults_and_itself():
    found = violations(
        ("quickbooks",),
        lambda imp: (
            top_level(imp.target) == PACKAGE
            and not is_of(imp.target, "domain", "defaults", "quickbooks")
        ),
    )
    assert found == [], "the adapter knows no database: " + "; ".join(found)


def test_store_knows_no_mis_engine_service_or_demo_and_of_quickbooks_only_its_ports():
    found = violations(
        ("store",),
        lambda imp: (
            is_of(imp.target, "mis", "sync", "service", "demo")
            or (
                is_of(imp.target, "quickbooks")
                and not imp.target.startswith(f"{PACKAGE}.quickbooks.ports")
            )
        ),
    )
    assert found == [], "; ".join(found)


def test_the_engine_never_imports_the_service_or_the_demo():
    found = violations(("sync",), lambda imp: is_of(imp.target, "service", "demo"))
    assert found == [], "; ".join(found)


def test_only_service_cli_and_demo_import_the_demo():
    found = [
        str(imp)
        for imp in SYNC_CORE_IMPORTS
        if is_of(imp.target, "demo") and layer_of(imp.module) not in ("service", "cli", "demo")
    ]
    assert found == [], "; ".join(found)


def test_sync_core_imports_no_presentation_library():
    """Presentation lives in ``pages/``: the library never imports streamlit, pandas or plotly."""
    found = [
        str(imp)
        for imp in SYNC_CORE_IMPORTS
        if top_level(imp.target) in {"streamlit", "pandas", "plotly"}
    ]
    assert found == [], "; ".join(found)


def test_the_simulator_imports_nothing_of_sync_core():
    """The simulator stands in for QuickBooks: it must not know the product it is testing."""
    found = [str(imp) for imp in all_imports("qbo_simulator") if top_level(imp.target) == PACKAGE]
    assert found == [], "; ".join(found)
