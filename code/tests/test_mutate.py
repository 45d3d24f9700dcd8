"""Tests of the mutation runner (tools/mutate.py) on a tiny fixture project: a chapter that
checks a module's formula, the module's unit test, and mutants that are killed by the chapter,
killed by the unit test, survive, or name a text that is missing or ambiguous."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import mutate  # noqa: E402

CHAPTER = """\
---
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Chapter

(demo-q1)=
## Q1

```{code-cell} ipython3
from worked.square import square

area = 3 * 3
assert square(3) == area
```

```{code-cell} ipython3
assert area >= 0  # a weak check: no wrong area but a negative one fails it
```
"""
MODULE = '"""A squared number."""\n\n\ndef square(x):\n    return x * x\n'
TEST = ("from worked.square import square\n\n\n"
        "def test_square_of_two():\n    assert square(2) == 4\n")
PROBLEMS = {"problems": [{"id": "demo-q1", "solved": True}, {"id": "demo-q2"}]}


def mutant(file, find, replace, **owner):
    return {**owner, "file": file, "find": find, "replace": replace, "why": "a wrong answer"}


@pytest.fixture
def project(tmp_path):
    (tmp_path / "book" / "mutants").mkdir(parents=True)
    (tmp_path / "code" / "worked").mkdir(parents=True)
    (tmp_path / "code" / "tests").mkdir()
    (tmp_path / "book" / "chapter.md").write_text(CHAPTER)
    (tmp_path / "book" / "problems.yml").write_text(yaml.safe_dump(PROBLEMS))
    (tmp_path / "code" / "worked" / "__init__.py").write_text("")
    (tmp_path / "code" / "worked" / "square.py").write_text(MODULE)
    (tmp_path / "code" / "tests" / "test_square.py").write_text(TEST)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/chapter\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def write_mutants(project, entries):
    (project / "book" / "mutants" / "chapter.yml").write_text(yaml.safe_dump(entries))


def run(project, *args):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "mutate.py"), "--root", str(project),
                           *args], capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def lines_of(output):
    return {line.split()[0]: line for line in output.splitlines() if "#" in line.split(" ")[0]}


def test_killed_survived_missing_and_ambiguous(project):
    write_mutants(project, [
        mutant("book/chapter.md", "area = 3 * 3", "area = 3 * 4", problem="demo-q1"),
        mutant("book/chapter.md", "assert area >= 0", "assert area >= -1", problem="demo-q1"),
        mutant("book/chapter.md", "area = 4 * 4", "area = 0", problem="demo-q1"),
        mutant("book/chapter.md", "assert ", "print ", problem="demo-q1"),
        mutant("code/worked/square.py", "x * x", "x + x", module="square"),
    ])
    code, out = run(project)
    assert code == 1, out
    lines = lines_of(out)
    assert set(lines) == {"demo-q1#1", "demo-q1#2", "demo-q1#3", "demo-q1#4", "module:square#1"}
    assert "KILLED" in lines["demo-q1#1"] and "code cell 1 (`from worked.square" in lines["demo-q1#1"]
    assert "AssertionError" in lines["demo-q1#1"]
    assert "SURVIVED" in lines["demo-q1#2"]
    assert "ERROR" in lines["demo-q1#3"] and "occurs 0 times" in lines["demo-q1#3"]
    assert "ERROR" in lines["demo-q1#4"] and "occurs 2 times" in lines["demo-q1#4"]
    # 2 + 2 = 4: the unit test passes, so the chapter, which imports the module, kills it
    assert "KILLED" in lines["module:square#1"] and "book/chapter.md code cell 1" in lines["module:square#1"]
    assert "kill rate: 2/5 = 40.0%" in out
    assert "SURVIVED (the check they target cannot fail" in out and "demo-q1#2 (book/chapter.md)" in out


def test_unit_tests_run_first_and_a_full_kill_passes(project):
    write_mutants(project, [
        mutant("book/chapter.md", "area = 3 * 3", "area = 3 + 3", problem="demo-q1"),
        mutant("code/worked/square.py", "x * x", "x * x + 1", module="square"),
        mutant("code/worked/square.py", "def square", "def squared", module="square"),
    ])
    code, out = run(project)
    assert code == 0, out
    assert "by code/tests/test_square.py::test_square_of_two" in lines_of(out)["module:square#1"]
    assert "by code/tests/test_square.py" in lines_of(out)["module:square#2"]  # import error
    assert "kill rate: 3/3 = 100.0%" in out
    assert (project / "code" / "worked" / "square.py").read_text() == MODULE  # scratch copy only
    code, out = run(project, "--only", "square")
    assert code == 0 and set(lines_of(out)) == {"module:square#1", "module:square#2"}, out


def test_the_baseline_runs_the_same_checks_without_the_mutants(project):
    write_mutants(project, [
        mutant("code/worked/square.py", "x * x", "x * x + 1", module="square"),
        mutant("book/chapter.md", "area = 3 * 3", "area = 3 + 3", problem="demo-q1"),
    ])
    code, out = run(project, "--baseline")
    assert code == 0, out
    assert "every check passed: code/tests/test_square.py, book/chapter.md" in out
    (project / "book" / "chapter.md").write_text(CHAPTER.replace("area = 3 * 3", "area = 3 * 3 + 1"))
    code, out = run(project, "--baseline", "--only", "chapter")
    assert code == 1 and "FAILS" in out and "code cell 1" in out, out


def test_a_time_out_is_an_error_not_a_kill(project):
    write_mutants(project, [mutant("book/chapter.md", "area = 3 * 3",
                                   "import time; time.sleep(600); area = 9", problem="demo-q1")])
    code, out = run(project, "--timeout", "20")
    assert code == 1 and "ERROR" in lines_of(out)["demo-q1#1"], out
    assert "time limit of 20 s reached in book/chapter.md" in out and "kill rate: 0/1" in out


def test_every_solved_problem_and_module_needs_a_mutant(project):
    (project / "code" / "worked" / "cube.py").write_text("def cube(x):\n    return x ** 3\n")
    write_mutants(project, [mutant("code/worked/square.py", "x * x", "x", module="square"),
                            mutant("book/chapter.md", "area", "a", problem="demo-q9")])
    errors = mutate.coverage_errors(project, mutate.load_mutants(project)[0])
    assert errors == [
        "demo-q9#1 (book/mutants/chapter.yml): no problem 'demo-q9' in book/problems.yml",
        "solved problem demo-q1 has no mutant in book/mutants/*.yml",
        "module code/worked/cube.py has no mutant (no mutant's file: is it)",
    ]


def test_a_malformed_entry_is_an_error(project):
    write_mutants(project, [{"problem": "demo-q1", "file": "book/chapter.md", "find": "area"}])
    _, errors = mutate.load_mutants(project)
    assert len(errors) == 1 and "missing ['replace', 'why']" in errors[0]


def test_dependent_chapters_follow_imports_between_modules(project):
    worked = project / "code" / "worked"
    (worked / "area.py").write_text("from worked.square import square\n")
    (worked / "room.py").write_text("from .area import square\n")
    (project / "book" / "other.md").write_text(textwrap.dedent("""\
        ```{code-cell} ipython3
        from worked import room
        ```
        """))
    (project / "book" / "unrelated.md").write_text("from worked.cube import cube\n")
    assert mutate.dependent_chapters(project, "square") == ["book/chapter.md", "book/other.md"]
    assert mutate.dependent_chapters(project, "room") == ["book/other.md"]
    assert mutate.dependent_chapters(project, "cube") == []  # not a module of the project


def test_execute_chapter_prints_each_cells_outputs(tmp_path):
    # what an auditor compares the prose with: each code cell's printed and returned text
    chapter = CHAPTER.split("# Chapter")[0] + textwrap.dedent("""\
        # Outputs

        ```{code-cell} ipython3
        print("seed mean", 0.5)
        ```

        ```{code-cell} ipython3
        x = 1
        ```

        ```{code-cell} ipython3
        2 + 2
        ```
        """)
    (tmp_path / "chapter.md").write_text(chapter)
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "execute_chapter.py"), "--outputs",
                           str(tmp_path / "chapter.md")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("--- code cell 1\nseed mean 0.5\n--- code cell 3\n4\n")
    assert "every cell ran" in proc.stdout
