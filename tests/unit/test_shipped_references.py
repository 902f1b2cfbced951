"""What ships points only at what ships: the starter config ``deskpilot init`` copies, docs/,
examples/ and the README never send an admin to a document the repository and the wheel do
not carry (the business SPEC is the developers' brief, not part of the product), and the
modules docs/generic-format.md names, like the CLI's help, speak of the documented format."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from plugin.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPEC = re.compile(r"\bSPEC\b")
#: the modules docs/generic-format.md sends a reader to
NAMED_BY_DOCS = ["rules/generic_format.py", "rules/generic_event.py", "webhooks/hosts/generic.py"]


def _shipped() -> list[Path]:
    files = [*ROOT.glob("config/**/*.yaml"), *ROOT.glob("docs/**/*.md"),
             *ROOT.glob("examples/**/*"), ROOT / "README.md"]
    return [f for f in files if f.is_file()]


def test_no_shipped_text_cites_the_spec() -> None:
    shipped = _shipped()
    assert any(f.name == "00-service.yaml" for f in shipped) and len(shipped) > 10
    citing = [f"{f.relative_to(ROOT)}:{n}" for f in shipped
              for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
              if SPEC.search(line)]
    assert citing == []


def test_the_modules_the_docs_name_cite_what_ships() -> None:
    for name in NAMED_BY_DOCS:
        text = (ROOT / name).read_text(encoding="utf-8")
        assert not SPEC.search(text), name
        assert name in (ROOT / "docs" / "generic-format.md").read_text(encoding="utf-8")
    assert "docs/generic-format.md" in (ROOT / "rules/generic_event.py").read_text()


def test_the_cli_help_cites_no_spec() -> None:
    for args in (["rules", "explain", "--help"], ["rules", "--help"], ["--help"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0 and not SPEC.search(result.output), args
