"""The documentation against the code: the settings and outputs tables, and every link."""

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from local.program import run_program

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SETTINGS_PAGE = DOCS / "settings.md"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

SETTINGS_HEADER = "| setting | type | default | what it is |"
OUTPUTS_HEADER = "| output | when | what it is |"
# The outputs table's "when": exported by every stack, or only by one that runs the hub.
ALWAYS, ON_AWS_ONLY = "always", "`hubDomain` set"

IMAGE_ONLY = {"adminUsers": ["admin@example.org"], "allowedUsers": ["jane.doe@uni.nl"]}
ON_AWS = IMAGE_ONLY | {"hubDomain": "hub.example.org", "hostedZoneId": "Z0123456789ABC"}

# A link's target outside code: [text](target) or ![alt](target).
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = re.compile(r"[a-z][a-z0-9+.-]*:", re.IGNORECASE)
HEADING = re.compile(r"(#{1,6})\s+(.+?)\s*#*\s*")
MENTIONED_PAGE = re.compile(r"docs/[A-Za-z0-9_.-]+\.md")
# Folders whose files are not the project's own code.
NOT_CODE = {".git", ".venv", "node_modules", "__pycache__"}


# Reading markdown


def without_code(text: str) -> list[str]:
    """The page's lines outside fenced code blocks, with inline code spans emptied."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "``", line))
    return lines


def cells(row: str) -> list[str]:
    """A table row's cells, stripped; a `|` inside a code span stays in its cell."""
    found, cell, in_code = [], "", False
    for char in row.strip().removeprefix("|").removesuffix("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            found.append(cell.strip())
            cell = ""
        else:
            cell += char
    return [*found, cell.strip()]


def table(page: Path, header: str) -> list[list[str]]:
    """The rows of the page's table that has this header row, each as its cells."""
    lines = page.read_text().splitlines()
    assert lines.count(header) == 1, f"{page.name}: expected one table headed {header!r}"
    start = lines.index(header) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(cells(line))
    return rows


def code(cell: str) -> str:
    """What a cell holds in one code span: `forceDelete` -> forceDelete."""
    assert cell.startswith("`") and cell.endswith("`") and cell.count("`") == 2, cell
    return cell[1:-1]


def slug(heading: str, taken: dict[str, int]) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens, and a
    number after a repeated one."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    base = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
    count = taken.get(base, 0)
    taken[base] = count + 1
    return f"{base}-{count}" if count else base


def headings(page: Path) -> list[str]:
    """The page's heading lines as written (code spans kept), outside fenced code blocks."""
    lines, fenced = [], False
    for line in page.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            lines.append(line)
    return lines


def anchors(page: Path) -> set[str]:
    """The anchors of a markdown page's headings."""
    taken: dict[str, int] = {}
    return {slug(match[2], taken) for match in map(HEADING.fullmatch, headings(page)) if match}


# The settings table


def type_name(declaration: dict) -> str:
    """A declared type as the table writes it (the CLI's own words): array<string>."""
    if declaration["type"] == "array":
        return f"array<{type_name(declaration['items'])}>"
    return declaration["type"]


def test_the_settings_table_is_pulumi_yamls_config():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    rows = table(SETTINGS_PAGE, SETTINGS_HEADER)
    names = [code(row[0]) for row in rows]
    assert len(names) == len(set(names)), f"a setting is in the table twice: {names}"
    assert sorted(names) == sorted(declared), "the table's settings are not Pulumi.yaml's"
    for row in rows:
        name, declaration = code(row[0]), declared[code(row[0])]
        assert code(row[1]) == type_name(declaration), f"{name}: type"
        if "default" in declaration:
            assert json.loads(code(row[2])) == declaration["default"], f"{name}: default"
        else:
            assert row[2] == "required", f"{name}: Pulumi.yaml gives no default"
        assert row[3], f"{name}: says nothing about what it is"


# The outputs table


@pytest.fixture(scope="module")
def exported() -> dict[str, set[str]]:
    """The outputs the program exports, image only and with the hub on AWS."""
    return {
        "image only": set(run_program(IMAGE_ONLY).outputs),
        "on AWS": set(run_program(ON_AWS).outputs),
    }


def test_the_outputs_table_is_what_the_program_exports(exported):
    rows = table(SETTINGS_PAGE, OUTPUTS_HEADER)
    names = [code(row[0]) for row in rows]
    assert len(names) == len(set(names)), f"an output is in the table twice: {names}"
    every = exported["image only"] | exported["on AWS"]
    assert set(names) - every == set(), "the table lists outputs no stack exports"
    assert every - set(names) == set(), "the program exports outputs the table leaves out"
    for row in rows:
        name = code(row[0])
        always = name in exported["image only"] and name in exported["on AWS"]
        assert row[1] == (ALWAYS if always else ON_AWS_ONLY), f"{name}: when"
        assert row[2], f"{name}: says nothing about what it is"


# Links


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_finds_its_file_and_heading(page):
    broken = []
    for line in without_code(page.read_text()):
        for target in LINK.findall(line):
            if EXTERNAL.match(target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{target}: no file {linked.relative_to(ROOT)}")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert broken == [], f"{page.name}: broken links"


def project_files() -> list[Path]:
    """The code and settings that may name a docs page: Python, Pulumi's files, the workflows."""
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [
            name
            for name in subfolders
            if name not in NOT_CODE and (not name.startswith(".") or name == ".github")
        ]
        here = Path(folder)
        in_github = ".github" in here.relative_to(ROOT).parts
        for name in files:
            if in_github or name.endswith(".py") or re.fullmatch(r"Pulumi(\..+)?\.yaml", name):
                found.append(here / name)
    return found


def test_every_docs_page_the_code_names_exists():
    named = {}
    # This file names pages too, as examples: the scan is of everything else.
    for path in (path for path in project_files() if path != Path(__file__).resolve()):
        for page in MENTIONED_PAGE.findall(path.read_text(errors="replace")):
            named.setdefault(page, path.relative_to(ROOT).as_posix())
    # The code's messages do name pages: a scan that finds none is looking in the wrong place.
    assert "docs/managing-users.md" in named
    missing = {page: where for page, where in named.items() if not (ROOT / page).is_file()}
    assert missing == {}, "pages the code names (page: first file naming it) do not exist"


def test_the_readme_names_the_test_command():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert any(line.split("#")[0].strip() == "make test" for line in lines)
