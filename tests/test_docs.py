"""The documentation: README stays short, and the MkDocs pages under docs/ build with every link resolved."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.helpers import ROOT

DOCS = ROOT / "docs"
README_MAX_LINES = 250


def _nav_pages(nav) -> list[str]:
    """Every page file a MkDocs ``nav:`` names, however deeply its sections nest."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    return []


def _config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_mkdocs_build_strict_passes(tmp_path):
    """Strict mode fails on a warning: a broken link or anchor between pages, a page missing from nav."""
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move reference text to docs/"
    )


def test_nav_lists_every_page_and_only_existing_ones():
    config = _config()
    assert config["docs_dir"] == "docs"
    nav = _nav_pages(config["nav"])
    assert len(nav) == len(set(nav)), (
        f"pages listed twice in mkdocs.yml nav: {sorted(p for p in nav if nav.count(p) > 1)}"
    )
    missing = [page for page in nav if not (DOCS / page).is_file()]
    assert not missing, f"mkdocs.yml nav lists pages that do not exist: {missing}"
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    unlisted = [page for page in pages if page not in nav]
    assert not unlisted, f"docs pages missing from mkdocs.yml nav: {unlisted}"


def test_readme_links_point_at_files_that_exist():
    """mkdocs checks the links between pages; README's own links to docs/ and bench/ are checked here."""
    import re

    text = (ROOT / "README.md").read_text()
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if not t.startswith(("http", "#"))]
    assert targets and [t for t in targets if not (ROOT / t).exists()] == []
