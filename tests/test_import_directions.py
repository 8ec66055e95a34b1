"""Arrows point one way: interface -> collector/exports -> evidence_store; collector -> parsers."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"collector", "parsers", "evidence_store", "exports", "conduct", "web"}
ALLOWED = {
    "parsers": {"parsers"},
    "evidence_store": {"evidence_store", "parsers.records"},
    "collector": {"collector", "parsers", "evidence_store"},
    "exports": {"exports", "evidence_store"},
    # The web app is an interface like conduct/: only conduct/ may import it.
    "web": {"web", "collector", "exports", "evidence_store"},
}


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def permitted(module: str, allowed: set[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed) or (
        # `from parsers import records` names the module itself.
        module in {a.rsplit(".", 1)[0] for a in allowed if "." in a}
    )


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_layer_may_see(package):
    offending = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in OURS and not permitted(module, ALLOWED[package]):
                offending.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offending == []


def test_a_store_module_importing_a_parser_would_be_caught(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("from parsers import whatsapp\nfrom parsers.records import EventRecord\n")
    modules = imported_modules(sample)
    assert [m for m in sorted(modules) if not permitted(m, ALLOWED["evidence_store"])] == [
        "parsers.whatsapp"]
