"""Code the reader sees fits the column: formatted code cells and `worked` source within the
line length of ruff.toml (what the book's column shows on a desktop; the site tests check the
printed outputs and, in the browser, that a code block of that width does not scroll).

No build needed: these read the sources.
"""

import re
import subprocess
import sys
from pathlib import Path

from sphinx.pycode import ModuleAnalyzer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import format_cells  # noqa: E402

RUFF = Path(sys.executable).parent / "ruff"
INCLUDE = re.compile(r"^```\{literalinclude\} (?P<path>\S+)\n(?P<options>(?::[^\n]*\n)*)```", re.M)


def test_code_cells_are_formatted_and_fit_the_column():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "format_cells.py"), "--check"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_fails_on_an_unformatted_or_too_wide_cell(tmp_path):
    chapter = tmp_path / "chapter.md"
    wide = "x = 1  # " + "w" * format_cells.MAX_WIDTH
    for body, expected in (("x=[1,2]", "cell not formatted"), (wide, "characters")):
        chapter.write_text(f"# T\n\n```{{code-cell}} ipython3\n---\ntags: [x]\n---\n{body}\n```\n")
        result = subprocess.run([sys.executable, str(ROOT / "tools" / "format_cells.py"),
                                 "--check", str(chapter)], capture_output=True, text=True)
        assert result.returncode == 1 and expected in result.stdout, result.stdout


def test_worked_is_formatted():
    result = subprocess.run([str(RUFF), "format", "--check", "--config", str(ROOT / "ruff.toml"),
                             str(ROOT / "code" / "worked")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def included_objects():
    """(chapter, module path, object, its lines) for every literalinclude of the chapters,
    selected the way Sphinx selects a :pyobject: (its ModuleAnalyzer tags)."""
    found = []
    for chapter in sorted((ROOT / "book").glob("*.md")):
        for m in INCLUDE.finditer(chapter.read_text(encoding="utf-8")):
            options = dict(re.findall(r"^:(\S+):\s*(.*)$", m["options"], re.M))
            assert set(options) == {"pyobject"}, (
                f"{chapter.name}: a literalinclude selected by {sorted(options)}: "
                "this test only knows :pyobject:")
            path = (chapter.parent / m["path"]).resolve()
            _, start, end = ModuleAnalyzer.for_file(str(path), "").find_tags()[options["pyobject"]]
            lines = path.read_text(encoding="utf-8").split("\n")[start - 1:end - 1]
            found.append((chapter.name, path, options["pyobject"], lines))
    return found


def test_included_worked_source_fits_the_column():
    objects = included_objects()
    assert len(objects) >= 10  # the pattern still finds the chapters' includes
    wide = [f"{chapter}: {obj} ({path.name}): {len(line)} characters: {line.strip()[:40]}"
            for chapter, path, obj, lines in objects for line in lines
            if len(line) > format_cells.MAX_WIDTH]
    assert wide == []
