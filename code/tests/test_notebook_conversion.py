"""The MyST -> plain Markdown conversion of downloaded notebooks (book/_ext/worked_book.py)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("worked_book", ROOT / "book" / "_ext" / "worked_book.py")
worked_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worked_book)


def convert(text):
    return worked_book.myst_to_markdown(text, ROOT / "book")


def test_labels_roles_and_labelled_equations():
    text = "(q1)=\n## Title\n\nSee {eq}`e1` and {cite}`a2019, b2020`, {ref}`the proof <q1>`.\n\n$$\nx = 1\n$$ (e1)"
    out = convert(text)
    assert out.startswith('<a id="q1"></a>\n## Title')
    assert "See (e1) and [a2019; b2020], the proof." in out
    assert "$$\nx = 1\n\\tag{e1}\n$$" in out and "{" not in out.replace("\\tag{e1}", "")


def test_boxes_become_block_quotes_and_proofs_plain_text():
    text = (":::{admonition} Problem (Q1)\n:class: problem\nSolve it.\n:::\n\n"
            ":::{prf:proposition} Name\n:label: p\nIt holds.\n:::\n\n:::{prf:proof}\n:class: dropdown\nBecause.\n:::")
    out = convert(text)
    assert "> **Problem (Q1)**\n>\n> Solve it." in out
    assert "> **Proposition (Name).**\n>\n> It holds." in out
    assert "*Proof.* Because." in out and ":class:" not in out and ":label:" not in out


def test_literalinclude_of_a_function_and_of_a_method():
    function = convert("```{literalinclude} ../code/worked/ridge.py\n:pyobject: ridge_closed_form\n```")
    assert function.startswith("```python\ndef ridge_closed_form(") and function.endswith("```")
    method = convert("```{literalinclude} ../code/worked/autodiff.py\n:pyobject: Value.backward\n```")
    assert method.startswith("```python\ndef backward(self")
