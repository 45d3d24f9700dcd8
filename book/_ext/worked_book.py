"""The book's Sphinx extension.

- ``{problem-index}`` renders the table of all problems from the data file (``worked_problems_file``);
  a solved problem's link is a cross-reference, so a missing label fails the strict build.
- The chapter-template check: every problem of the data file must be a section label exactly
  once; a solved one must hold every part of the template, an unsolved one a placeholder.
  Violations are warnings, which the strict build (``-W``) turns into errors.
  A solved problem also needs a mutant in ``worked_mutants_dir`` (``make mutate``).
- Stable addresses: every problem gets ``p/<ID>.html`` (a sphinx-reredirects page to its current
  ``chapter.html#ID``), shown next to its heading ("Link to this problem", with a copy button)
  and on the problem index, so a link pasted into a syllabus survives moving the problem to
  another chapter; the anchors of problems that moved (``moved:`` in the data file) forward
  from their old page. The build fails if a moved problem is still on its old page.
- Valid HTML: sphinx-proof gives every proof's body the same id (``proof-content``), and
  Jupyter Book's root ``index.html`` redirect lacks a doctype and title; both are fixed here.
- Notebook downloads: each executed chapter is offered as ``_sources/<page>.ipynb``; when it
  imports ``worked``, a first cell installs the package from ``worked_install_spec`` if missing.
- A change to ``worked`` re-executes the chapters that use it: a chapter's key is the hash of
  the ``worked`` modules it imports, directly or through other modules (``worked_code_dir``).
  Sphinx re-reads a chapter whose key changed (``env-get-outdated``), and the key is written
  into the chapter's kernelspec metadata, which jupyter-cache hashes with the code cells, so
  the execution cache misses too. (jupyter-cache alone keys a chapter on its own cells only.)
"""

import ast
import hashlib
import html
import json
import posixpath
import re
from functools import lru_cache
from pathlib import Path

import nbformat
import yaml
from docutils import nodes
from docutils.parsers.rst import Directive
from jupyter_cache import get_cache
from sphinx.addnodes import pending_xref
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

ASSERT_LINE = re.compile(r"^\s*(assert\b|np\.testing\.assert_|torch\.testing\.assert_)", re.M)
IMPORTS_WORKED = re.compile(r"^\s*(from|import)\s+worked\b", re.M)
WORKED_IMPORT = re.compile(
    r"^\s*(?:from\s+worked\.(\w+)\s+import|import\s+worked\.(\w+)"
    r"|from\s+worked\s+import\s+\(?([\w,\s]+)\)?)", re.M)
KERNELSPEC = re.compile(r"\A(---\n(?:(?!---).*\n)*?kernelspec:[ \t]*\n)")
KEY_FIELD = "worked_code"
RESULT_NODES = ("theorem_node", "proposition_node", "lemma_node", "corollary_node")
STABLE_DIR = "p"  # problems' stable addresses: p/<ID>.html
INSTALL_CELL = """\
# This notebook uses the book's package `worked`; install it when it is missing (e.g. on Colab).
# WORKED_INSTALL_SPEC, if set, says where from instead (e.g. a local checkout's code/ folder).
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("worked") is None:
    spec = os.environ.get("WORKED_INSTALL_SPEC", {spec!r})
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", spec])"""


def worked_modules(code_dir):
    """The modules of the package ``worked`` (without ``__init__``)."""
    return sorted(p.stem for p in Path(code_dir).glob("*.py") if p.stem != "__init__")


def module_imports(code_dir):
    """For each ``worked`` module, the ``worked`` modules it imports directly."""
    return dict(_module_imports(tuple((name, (Path(code_dir) / f"{name}.py").read_text(encoding="utf-8"))
                                      for name in worked_modules(code_dir))))


@lru_cache(maxsize=8)
def _module_imports(sources):
    """module_imports of ``((name, source), ...)``: parsed once per content (a build asks once per
    chapter)."""
    modules = {name for name, _ in sources}
    graph = {}
    for name, source in sources:
        found = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level == 1 or base == "worked":
                    found.update([base] if base and base != "worked" else [a.name for a in node.names])
                elif base.startswith("worked."):
                    found.add(base.split(".")[1])
            elif isinstance(node, ast.Import):
                found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("worked."))
        graph[name] = frozenset(found & modules - {name})
    return graph


def chapter_imports(text):
    """The ``worked`` modules a chapter's source text imports."""
    found = set()
    for match in WORKED_IMPORT.finditer(text):
        if match[1] or match[2]:
            found.add(match[1] or match[2])
        else:
            found.update(n.strip() for n in match[3].split(",") if n.strip())
    return found


def closure(modules, graph):
    """``modules`` and every ``worked`` module they import, transitively."""
    todo, seen = list(modules), set()
    while todo:
        name = todo.pop()
        if name in graph and name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    return seen


def code_key(text, code_dir, graph=None):
    """A hash of the ``worked`` modules that a chapter's text imports, transitively, and of the
    package's ``__init__`` (names and contents); "" when it imports none."""
    graph = module_imports(code_dir) if graph is None else graph
    used = sorted(closure(chapter_imports(text), graph))
    if not used:
        return ""
    digest = hashlib.sha256()
    for name in ["__init__", *used]:  # __init__ runs on every import of the package
        path = Path(code_dir) / f"{name}.py"
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def add_code_key(app, docname, source):
    """On reading a chapter: note its key, and write it into the kernelspec of its front
    matter (so that jupyter-cache, which hashes the kernelspec, misses when it changes)."""
    key = code_key(source[0], Path(app.srcdir) / app.config.worked_code_dir)
    app.env.worked_code_keys[docname] = key
    if key and not KERNELSPEC.match(source[0]):
        logger.warning(f"{docname}: imports worked but has no kernelspec in its front matter, "
                       "so the execution cache cannot follow changes to worked")
    elif key:
        source[0] = KERNELSPEC.sub(lambda m: f"{m[1]}  {KEY_FIELD}: {key}\n", source[0], count=1)


def outdated_by_code(app, env, added, changed, removed):
    """Chapters whose ``worked`` modules changed since they were read (Sphinx would not even
    re-read them: their own source is unchanged)."""
    code_dir = Path(app.srcdir) / app.config.worked_code_dir
    graph = module_imports(code_dir) if code_dir.is_dir() else {}
    stale = []
    for docname, key in getattr(env, "worked_code_keys", {}).items():
        if docname in changed or docname in removed or docname not in env.found_docs:
            continue
        text = Path(env.doc2path(docname)).read_text(encoding="utf-8")
        if code_key(text, code_dir, graph) != key:
            stale.append(docname)
    return stale


def mutated_problems(app):
    """Problem ids that have a mutant in ``worked_mutants_dir``/*.yml."""
    found = set()
    for path in sorted((Path(app.srcdir) / app.config.worked_mutants_dir).glob("*.yml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            if isinstance(entry, dict) and "problem" in entry:
                found.add(entry["problem"])
    return found


def _problems_data(app):
    """The parsed data file (a build asks for it on every page: parsed once per content)."""
    return _parse_yaml((Path(app.srcdir) / app.config.worked_problems_file).read_text(encoding="utf-8"))


@lru_cache(maxsize=4)
def _parse_yaml(text):
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_problems(app):
    """The data file as a list of dicts with id, course, assignment, question, summary, solved, mistakes."""
    data = _problems_data(app)
    return [
        {"solved": False, "mistakes": False, **data["sources"][p["source"]], **p}
        for p in data["problems"]
    ]


def load_moved(app):
    """{old docname: [problem IDs whose section moved away from it]} from the data file."""
    return _problems_data(app).get("moved") or {}


def stable_address(pid):
    """The problem's stable address, relative to the site root."""
    return f"{STABLE_DIR}/{pid}.html"


def _relative(target, docname):
    """``target`` (relative to the site root) as seen from the page of ``docname``."""
    return posixpath.relpath(target, posixpath.dirname(docname) or ".")


def _question_key(indexed):
    """Question order within an assignment: numbers compare as numbers (Q1.2 < Q1.10, Q2.2a <
    Q2.2b, Q3(b)(ii) < Q4); questions without a number ("Dropout (a)", lecture topics) keep their
    order in the data file, after the numbered ones."""
    position, p = indexed
    if not re.match(r"Q\d", p["question"]):
        return (1, [], position)
    parts = re.split(r"(\d+)", p["question"])  # text, number, text, number, ...
    return (0, [int(x) if i % 2 else x for i, x in enumerate(parts)], position)


def _para(*children):
    return nodes.paragraph("", "", *children)


class ProblemIndex(Directive):
    """Every problem, one table per course and assignment in question order: the question, what
    it asks, a link to its solution and its stable address."""

    def run(self):
        env = self.state.document.settings.env
        app = env.app
        env.note_dependency(str(Path(app.srcdir) / app.config.worked_problems_file))
        problems = load_problems(app)
        groups = {}  # in the order of the data file's sources
        for key in yaml.safe_load((Path(app.srcdir) / app.config.worked_problems_file)
                                  .read_text())["sources"]:
            groups[key] = []
        for position, p in enumerate(problems):
            groups[p["source"]].append((position, p))
        solved = sum(p["solved"] for p in problems)
        out = [_para(nodes.Text(f"{solved} of {len(problems)} problems solved, by course and "
                                "assignment. A problem's stable address (last column) stays "
                                "the same when the book is reorganised: use it in a syllabus."))]
        for members in filter(None, groups.values()):
            course, assignment = members[0][1]["course"], members[0][1]["assignment"]
            # A heading per group, not in the table of contents (raw HTML: a table caption would
            # make Sphinx number the tables, and this theme renders rubrics as paragraphs).
            heading = html.escape(", ".join(part for part in (course, assignment) if part))
            out.append(nodes.raw("", f'<h2 id="index-{members[0][1]["source"]}" '
                                 f'class="problem-index-group">{heading}</h2>', format="html"))
            table = nodes.table(classes=["problem-index"])
            group = nodes.tgroup(cols=4)
            table += group
            for width in (3, 7, 2, 4):
                group += nodes.colspec(colwidth=width)
            head = nodes.thead()
            group += head
            head += nodes.row("", *[nodes.entry("", _para(nodes.Text(h)))
                                    for h in ("Question", "Problem", "Solution", "Stable address")])
            body = nodes.tbody()
            group += body
            for _, p in sorted(members, key=_question_key):
                row = nodes.row(ids=[f"index-{p['id']}"])
                row += nodes.entry("", _para(nodes.Text(p["question"])))
                row += nodes.entry("", _para(nodes.Text(p["summary"])), *self.code_line(app, p))
                if p["solved"]:
                    link = pending_xref("", nodes.inline("", "solution"), refdomain="std",
                                        reftype="ref", reftarget=p["id"], refexplicit=True,
                                        refwarn=True)
                    address = nodes.reference(
                        "", "", nodes.literal("", p["id"]),
                        refuri=_relative(stable_address(p["id"]), env.docname),
                        classes=["problem-address"])
                else:
                    link, address = nodes.emphasis("", "not solved yet"), nodes.literal("", p["id"])
                row += nodes.entry("", _para(link))
                row += nodes.entry("", _para(address))
                body += row
            out.append(table)
        return out

    @staticmethod
    def code_line(app, p):
        """"Code: f, g · checked by test_x.py", each linked to its source on the repository."""
        functions, tests = code_links(app, p, warn=False)  # check_code_entries warns
        if not functions:
            return []

        def link(label, path, line):
            url = _source_url(app, path, line)
            text = nodes.literal("", label)
            return nodes.reference("", "", text, refuri=url) if url else text

        para = nodes.paragraph(classes=["problem-code"])
        para += nodes.Text("Code: ")
        for i, item in enumerate(functions):
            para += [nodes.Text(", ")] if i else []
            para += link(*item)
        para += nodes.Text(" · checked by ")
        for i, item in enumerate(tests):
            para += [nodes.Text(", ")] if i else []
            para += link(*item)
        return [para]


def _is_common_mistakes(node):
    return isinstance(node, nodes.section) and node[0].astext().strip().lower() == "common mistakes"


def _asserting_cells(tree):
    """myst-nb ``cell_input`` containers under ``tree`` whose code asserts something."""
    return [
        node for node in tree.findall(nodes.container)
        if "cell_input" in node.get("classes", []) and ASSERT_LINE.search(node.astext())
    ]


def _parts(section):
    """Which template parts a problem section has. The checking cell must sit outside
    "Common mistakes", which needs an asserting cell of its own."""
    parts = set()
    for node in section.findall(nodes.Element):
        name = type(node).__name__
        classes = node.get("classes", [])
        if isinstance(node, nodes.admonition) and "problem" in classes:
            parts.add("problem:" + node[0].astext())
        elif isinstance(node, nodes.admonition) and "unsolved" in classes:
            parts.add("placeholder")
        elif name in RESULT_NODES:
            parts.add("result")
        elif name == "proof_node":
            parts.add("derivation")
        elif _is_common_mistakes(node):
            parts.add("mistakes-checked" if _asserting_cells(node) else "mistakes-unchecked")
    for cell in _asserting_cells(section):
        ancestor = cell.parent
        while ancestor is not section and not _is_common_mistakes(ancestor):
            ancestor = ancestor.parent
        if ancestor is section:
            parts.add("assertion")
    return parts


def record_problem_sections(app, doctree):
    """On reading a page: note its problem sections and their parts, and whether it has code cells."""
    env = app.env
    if any("cell_input" in node.get("classes", []) for node in doctree.findall(nodes.container)):
        env.worked_notebook_pages.add(env.docname)
    ids = {p["id"] for p in load_problems(app)}
    # Every page is checked against the data file: edit it, and Sphinx reads the pages again
    # (else a new ID is "found 0 times" until a clean build).
    env.note_dependency(str(Path(app.srcdir) / app.config.worked_problems_file))
    found = env.worked_problem_sections.setdefault(env.docname, {})
    for section in doctree.findall(nodes.section):
        for label in ids.intersection(section["ids"]):
            found.setdefault(label, []).append(sorted(_parts(section)))
            if app.config.worked_fold_code:
                fold_code(section, app.config)
            section.insert(1, problem_link(label, env.docname))


PROBLEM_LINK = (
    '<p class="problem-link"><a href="{href}" class="problem-link-address">'
    "Link to this problem</a> "
    '<button type="button" class="problem-link-copy" hidden>Copy link</button></p>'
)


def problem_link(pid, docname):
    """Under a problem's heading: its stable address, and a button (shown by problem-links.js)
    that copies the address as an absolute URL."""
    href = _relative(stable_address(pid), docname)
    return nodes.raw("", PROBLEM_LINK.format(href=href), format="html")


def number_proof_ids(app, doctree):
    """sphinx-proof gives the body of every proof the id "proof-content", so a page with two
    proofs repeats an id (invalid HTML). No style or script of it uses the id; Sphinx needs
    sections to have one: number them (proof-content-1, -2, ...)."""
    bodies = [s for s in doctree.findall(nodes.section) if "proof-content" in s["ids"]]
    for number, section in enumerate(bodies, 1):
        section["ids"] = [f"proof-content-{number}" if i == "proof-content" else i
                          for i in section["ids"]]


def title_folded_proofs(app, doctree):
    """A folded proof (prf:proof with ``:class: dropdown``) needs a title to click: sphinx-proof
    writes "Proof." into the first paragraph instead, which leaves the toggle script nothing to
    attach its button to (and it stops with an error). Move the word into a title. It also gives
    every proof the same id "proof", with which the toggle script's buttons all open and close
    the first proof: drop it, so that the script numbers them."""
    for box in doctree.findall(nodes.admonition):
        classes = box.get("classes", [])
        if "proof" in classes and "dropdown" in classes and not isinstance(box[0], nodes.title):
            first = box[0]
            if not (isinstance(first, nodes.paragraph) and first.children
                    and first[0].astext().startswith("Proof. ")):
                raise ExtensionError(f"{app.env.docname}: a folded proof does not start with "
                                     "sphinx-proof's 'Proof. ' (its markup changed)")
            first.replace(first[0], nodes.Text(first[0].astext()[len("Proof. "):]))
            box.insert(0, nodes.title("", "Proof"))
            box["ids"] = [i for i in box["ids"] if i != "proof"]


def fold_code(section, config):
    """Fold the code of a problem section behind "Show code cell source" (myst-nb's own
    hide-input mechanism), so that a reader sees statement and result first."""
    for cell in section.findall(nodes.container):
        if cell.get("nb_element") == "cell_code" and not cell.get("hide_mode"):
            cell["hide_mode"] = "input"
            cell["prompt_show"], cell["prompt_hide"] = config.nb_code_prompt_show, config.nb_code_prompt_hide


def purge(app, env, docname):
    env.worked_problem_sections.pop(docname, None)
    env.worked_code_keys.pop(docname, None)
    env.worked_notebook_pages.discard(docname)


def merge(app, env, docnames, other):
    for docname in docnames:
        env.worked_problem_sections[docname] = other.worked_problem_sections.get(docname, {})
        if docname in other.worked_code_keys:
            env.worked_code_keys[docname] = other.worked_code_keys[docname]
    env.worked_notebook_pages |= other.worked_notebook_pages & set(docnames)


def init_env(app, env, docnames):
    if not hasattr(env, "worked_problem_sections"):
        env.worked_problem_sections = {}
        env.worked_notebook_pages = set()
    if not hasattr(env, "worked_code_keys"):
        env.worked_code_keys = {}


def check_template(app, env):
    """Warn (an error under -W) for every problem whose section breaks the template."""
    where = {}
    for docname, labels in env.worked_problem_sections.items():
        for label, sections in labels.items():
            where.setdefault(label, []).extend((docname, parts) for parts in sections)
    mutated = mutated_problems(app)
    for p in load_problems(app):
        found = where.get(p["id"], [])
        if len(found) != 1:
            logger.warning(f'problem {p["id"]}: found as a section label {len(found)} times, expected once')
            continue
        docname, parts = found[0]
        parts = set(parts)
        problem_boxes = [x for x in parts if x.startswith("problem:")]
        if not p["solved"]:
            if "placeholder" not in parts:
                logger.warning(f'problem {p["id"]} ({docname}): not marked solved, so its section must be a placeholder')
            continue
        missing = [
            what for what, ok in [
                ("a problem box (admonition with class 'problem')", problem_boxes),
                (f'the source "{p["question"]}" in the problem box title', any(p["question"] in b for b in problem_boxes)),
                ("a result (prf:theorem, prf:proposition, prf:lemma or prf:corollary)", "result" in parts),
                ("a derivation (prf:proof)", "derivation" in parts),
                ("an executed code cell with an assertion", "assertion" in parts),
                ('"Common mistakes" with an executed assertion', not p["mistakes"] or "mistakes-checked" in parts),
            ] if not ok
        ]
        for what in missing:
            logger.warning(f'problem {p["id"]} ({docname}) is marked solved but lacks {what}')
        if "placeholder" in parts:
            logger.warning(f'problem {p["id"]} ({docname}) is marked solved but still has its placeholder')
        if p["id"] not in mutated:
            logger.warning(f'problem {p["id"]} ({docname}) is marked solved but has no mutant in '
                           f'{app.config.worked_mutants_dir}/*.yml (see README, make mutate)')


def problem_pages(env):
    """{problem ID: the docname of its section} (those found exactly once)."""
    where = {}
    for docname, labels in env.worked_problem_sections.items():
        for label, sections in labels.items():
            where.setdefault(label, []).extend([docname] * len(sections))
    return {pid: docs[0] for pid, docs in where.items() if len(docs) == 1}


def check_moved(app, env):
    """Every moved problem must have left its old page, which must still exist (it carries the
    forwarding script)."""
    pages = problem_pages(env)
    for old, pids in load_moved(app).items():
        if old not in env.found_docs:
            logger.warning(f"moved: the old page {old} no longer exists, so links to it break")
        for pid in pids:
            if pages.get(pid) in (None, old):
                logger.warning(f"moved: problem {pid} is listed as moved from {old} but is "
                               f"{'on it' if pages.get(pid) == old else 'on no page'}")


def add_problem_redirects(app):
    """Before sphinx-reredirects writes its pages (html-collect-pages, priority 500): one
    redirect per problem, p/<ID>.html -> <its chapter>.html#<ID>."""
    if "redirects" not in app.config:  # sphinx-reredirects not loaded (e.g. a test's tiny book)
        return []
    pages = problem_pages(app.env)
    for p in load_problems(app):
        if p["solved"] and p["id"] in pages:
            source = f"{STABLE_DIR}/{p['id']}"
            target = _relative(f"{pages[p['id']]}.html", source) + f"#{p['id']}"
            app.config.redirects[source] = target
    return []


def forward_moved_anchors(app, pagename, templatename, context, doctree):
    """On a page problems moved away from: a tiny script in the head that sends
    ``page.html#ID`` on to the problem's current page before anything is drawn."""
    moved = load_moved(app).get(pagename)
    if not moved:
        return
    pages = problem_pages(app.env)
    targets = {pid: _relative(f"{pages[pid]}.html", pagename) + f"#{pid}"
               for pid in moved if pid in pages}
    script = ("<script>(function(){var t=" + json.dumps(targets, sort_keys=True)
              + "[decodeURIComponent(location.hash.slice(1))];if(t)location.replace(t);})();"
              "</script>")
    context["metatags"] = context.get("metatags", "") + "\n" + script


ROOT_REDIRECT = re.compile(r'^\s*<meta http-equiv="Refresh" content="0; url=(?P<url>[^"]+)" />\s*$')
ROOT_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="0; url={url}">
<link rel="canonical" href="{url}">
</head>
<body><p><a href="{url}">{title}</a></p></body>
</html>
"""


def fix_root_redirect(app, exception):
    """Jupyter Book writes the site root as a bare ``<meta http-equiv="Refresh">`` (no doctype,
    no title: invalid HTML). Rewrite it as a complete page; fail if its form changed."""
    if exception is not None or app.builder.format != "html":
        return
    root = Path(app.outdir) / "index.html"
    if not root.exists():
        return
    text = root.read_text(encoding="utf-8")
    if text.startswith("<!DOCTYPE html>") and 'http-equiv="refresh"' in text:
        return  # already rewritten (an incremental build)
    match = ROOT_REDIRECT.match(text)
    if match is None:
        raise ExtensionError(f"fix_root_redirect: {root} is not Jupyter Book's redirect any more:"
                             f" {text[:200]!r}")
    root.write_text(ROOT_PAGE.format(title=html.escape(app.config.project), url=match["url"]),
                    encoding="utf-8")


def set_site_url(app, config):
    """One setting, html_baseurl (``html.baseurl`` in _config.yml), gives the site's address to
    the link previews (sphinxext-opengraph) and the sitemap (sphinx-sitemap)."""
    if config.html_baseurl and not config.html_baseurl.endswith("/"):
        raise ExtensionError("html_baseurl (html.baseurl in _config.yml) must end with '/'")
    config.ogp_site_url = config.html_baseurl
    # Jupyter Book sets the title as html_title only; Sphinx's project name (og:site_name, the
    # root page's title) would stay "Project name not set".
    if config.project == "Project name not set":
        config.project = config.html_title


def _definitions(path):
    """{top-level function or class name: line} of a Python file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name: node.lineno for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def _test_sources(path):
    """{test function name: (its source, line)} of a test file, and its module-level code
    (e.g. the table a parametrized test runs over) under "<module>"."""
    source = path.read_text(encoding="utf-8")
    body = ast.parse(source).body
    found = {node.name: (ast.get_source_segment(source, node), node.lineno) for node in body
             if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    tables = [node for node in body if isinstance(node, (ast.Assign, ast.AnnAssign))]
    if found and tables:
        found["<module>"] = ("\n".join(ast.get_source_segment(source, n) for n in tables),
                             tables[0].lineno)
    return found


def code_links(app, p, warn=True):
    """For a problem's ``code:`` and ``tests:`` entries: ([(label, path, line)] of the worked
    functions, [(label, path, line)] of the test files), checked: each function is defined in
    its module, each test file exists, and some test in the listed files mentions each
    function. A broken entry is a warning (an error in the strict build)."""
    root = Path(app.srcdir)
    code_dir = root / app.config.worked_code_dir
    test_dir = code_dir.parent / "tests"
    functions, tests, problems = [], [], []
    sources = {}
    for entry in p.get("tests", []):
        path = test_dir / entry
        if not path.is_file():
            problems.append(f"no test file {entry}")
            continue
        found = _test_sources(path)
        sources.update({f"{entry}::{n}": s for n, s in found.items()})
        tests.append((entry, (Path(app.config.worked_code_dir).parent / "tests" / entry).as_posix(),
                      min((n for _, n in found.values()), default=1)))
    for entry in p.get("code", []):
        module, _, name = entry.partition(".")
        path = code_dir / f"{module}.py"
        line = _definitions(path).get(name) if path.is_file() else None
        if line is None:
            problems.append(f"worked.{entry} is not a function or class of worked.{module}")
            continue
        functions.append((entry, f"{app.config.worked_code_dir}/{module}.py", line))
        if not any(re.search(rf"\b{re.escape(name)}\b", s) for s, _ in sources.values()):
            problems.append(f"no test in {', '.join(p.get('tests', [])) or '(none listed)'} "
                            f"mentions worked.{entry}")
    for problem in problems if warn else []:
        logger.warning(f'problem {p["id"]}: code/tests entry: {problem}')
    return functions, tests


def check_code_entries(app, env):
    for p in load_problems(app):
        code_links(app, p)


def _source_url(app, path, line):
    options = app.config.html_theme_options
    base = options.get("repository_url", "").rstrip("/")
    branch = options.get("repository_branch") or "main"
    return f"{base}/blob/{branch}/{path}#L{line}" if base else ""


def offer_notebook(app, pagename, templatename, context, doctree):
    """Point the theme's download menu at the page's executed notebook (written in write_notebooks)."""
    if pagename in app.env.worked_notebook_pages:
        context["ipynb_source"] = f"{pagename}.ipynb"


def colab_url(app, pagename):
    """Colab opens notebooks stored on GitHub: the deploy workflow publishes the downloads
    (``_sources/<page>.ipynb``) to the branch ``worked_notebooks_branch`` of the repository."""
    repo = app.config.html_theme_options["repository_url"].rstrip("/").removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{repo}/blob/{app.config.worked_notebooks_branch}/{pagename}.ipynb"


def add_colab_button(app, pagename, templatename, context, doctree):
    """An "Open in Colab" button beside the theme's header buttons (runs after the theme's own)."""
    if pagename in app.env.worked_notebook_pages:
        context["header_buttons"].append({
            "type": "link", "url": colab_url(app, pagename), "text": "Colab",
            "tooltip": "Open this chapter in Colab", "icon": "fas fa-rocket", "label": "colab-button",
        })


PROOF_KINDS = {"prf:proof": "Proof"}
FENCE = re.compile(r"^(?P<fence>:{3,}|`{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")
ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<text>[^`]*)`")


def _role_to_markdown(match):
    role, text = match["role"], match["text"]
    explicit = re.match(r"(?P<title>.*?)\s*<(?P<target>[^>]+)>$", text)
    if role == "eq":
        return f"({text})"
    if role == "cite":
        return "[" + "; ".join(key.strip() for key in text.split(",")) + "]"
    return explicit["title"] if explicit else text


def _directive_to_markdown(name, arg, options, body, docdir):
    if name == "literalinclude":
        path = (docdir / arg).resolve()
        source = path.read_text()
        if "pyobject" in options:  # "name" or "Class.method", as Sphinx resolves it
            node = ast.parse(source)
            for name in options["pyobject"].split("."):
                node = next(n for n in node.body if getattr(n, "name", None) == name)
            source = ast.get_source_segment(source, node)
        return f"```python\n{source}\n```"
    if name in ("admonition", "note", "warning", "tip", "important"):
        title = arg or name.capitalize()
        return "\n".join([f"> **{title}**", ">"] + [f"> {line}" if line else ">" for line in body.splitlines()])
    if name == "prf:proof":
        return f"*Proof.* {body.strip()} $\\blacksquare$"
    if name.startswith("prf:"):
        kind = name[4:].capitalize()
        head = f"**{kind} ({arg}).**" if arg else f"**{kind}.**"
        return "\n".join([f"> {head}", ">"] + [f"> {line}" if line else ">" for line in body.splitlines()])
    return body


def myst_to_markdown(text, docdir):
    """Plain Markdown for Jupyter and Colab from a MyST markdown cell: labels become HTML
    anchors, directives become block quotes or code, roles become text, and a labelled
    display equation keeps its label as a \\tag (matching the "(label)" its references become)."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        label = re.match(r"^\((?P<label>[^)\s]+)\)=\s*$", line)
        fence = FENCE.match(line)
        if label:
            out.append(f'<a id="{label["label"]}"></a>')
        elif fence:
            options, body = {}, []
            i += 1
            while i < len(lines) and re.match(r"^:(\w[\w-]*):(.*)$", lines[i]):
                key, value = re.match(r"^:(\w[\w-]*):(.*)$", lines[i]).groups()
                options[key], i = value.strip(), i + 1
            while i < len(lines) and lines[i].strip() != fence["fence"]:
                body.append(lines[i])
                i += 1
            inner = myst_to_markdown("\n".join(body), docdir)
            out.append(_directive_to_markdown(fence["name"], fence["arg"].strip(), options, inner, docdir))
        else:
            out.append(ROLE.sub(_role_to_markdown, line))
        i += 1
    markdown = "\n".join(out)
    return re.sub(r"\$\$(?P<math>.+?)\$\$[ \t]*\((?P<label>[^)\s]+)\)",
                  lambda m: f"$${m['math'].rstrip()}\n\\tag{{{m['label']}}}\n$$", markdown, flags=re.S)


def downloadable_notebook(executed, install_spec, cache_path, docdir):
    """The executed notebook as readers download it: nbformat 4, outputs kept, install cell first.

    myst-nb writes ``jupyter_execute/<page>.ipynb`` without outputs when it takes them from the
    execution cache instead of running the page, so the outputs are merged in from that cache.
    """
    nb = nbformat.read(executed, as_version=4)
    if Path(cache_path).exists():
        _, nb = get_cache(cache_path).merge_match_into_notebook(nb)
    nb.metadata.get("kernelspec", {}).pop(KEY_FIELD, None)  # the build's cache key, not for readers
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = myst_to_markdown(cell.source, docdir)
    if any(c.cell_type == "code" and IMPORTS_WORKED.search(c.source) for c in nb.cells):
        nb.cells.insert(0, nbformat.v4.new_code_cell(INSTALL_CELL.format(spec=install_spec)))
    return nb


def write_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    cache_path = app.config.nb_execution_cache_path or str(Path(app.outdir).parent / ".jupyter_cache")
    for pagename in sorted(app.env.worked_notebook_pages):
        executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
        target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        docdir = (Path(app.srcdir) / pagename).parent
        nb = downloadable_notebook(executed, app.config.worked_install_spec, cache_path, docdir)
        nbformat.write(nb, target)
        _add_download_attribute(Path(app.outdir) / f"{pagename}.html", target.name)


# (marker, old, new): on every page that contains the marker, the theme's markup ``old`` must be
# there to be replaced by ``new`` (or ``new`` already, on a rebuild); otherwise the build fails.
ACCESSIBILITY_FIXES = (
    # The theme's primary sidebar (site title, search, table of contents) is a plain div, so
    # its first items sit outside every landmark (axe: region).
    ('id="pst-primary-sidebar"',
     '<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar">',
     '<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar" role="complementary" aria-label="Book navigation">'),
    # docutils marks bibliography entries with the deprecated doc-biblioentry role inside a
    # role="list" container, which then lacks list items (axe: aria-required-children).
    ('<div class="citation" id=', '<div class="citation" id="{id}" role="doc-biblioentry">',
     '<div class="citation" id="{id}" role="listitem">'),
    # The search fields show the text "Search Ctrl+K" but are labelled "Search" alone, so a
    # speech-input user saying what they see does not match (axe 4.14:
    # label-content-name-mismatch). Without the aria-label their name is what they show. (The
    # icon-only search button in the header keeps its label.)
    ('search-button-field',
     '<button class="btn search-button-field search-button__button pst-js-only" title="Search" aria-label="Search"',
     '<button class="btn search-button-field search-button__button pst-js-only" title="Search"'),
)
CITATION = re.compile(r'<div class="citation" id="([^"]+)" role="doc-biblioentry">')


def fix_accessibility(app, exception):
    """Apply ACCESSIBILITY_FIXES to every page (idempotent, so re-running is harmless). On a page
    with a fix's marker, the markup it replaces must be found (or its replacement, on a
    rebuild): otherwise the theme changed its markup, and the build stops instead of silently
    shipping the inaccessible version."""
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        if "_static" in page.relative_to(app.outdir).parts:
            continue
        text = original = page.read_text(encoding="utf-8")
        for marker, old, new in ACCESSIBILITY_FIXES:
            if marker not in text:
                continue
            if "{id}" in old:  # one per citation
                found = CITATION.search(text) or new.split('id="{id}"')[1] in text
                text = CITATION.sub(lambda m: new.format(id=m[1]), text)
            else:
                found = old in text or new in text
                text = text.replace(old, new)
            if not found:
                raise ExtensionError(f"fix_accessibility: {page.name} has {marker!r} but not the "
                                     f"markup {old[:70]!r} this fix expects (the theme changed)")
        if text != original:
            page.write_text(text, encoding="utf-8")


HIDDEN_CELL_SUMMARY = '<summary aria-label="Toggle hidden content">'
SUMMARY_TITLE = re.compile(r'<p class="(?P<kind>collapsed|expanded) admonition-title">(?P<text>[^<]*)</p>')


def fix_hidden_cell_summaries(app, exception):
    """myst-nb folds a hidden cell (hide-input) into ``<details><summary><p ...>``, but a
    paragraph is not allowed in a summary (invalid HTML): make the two titles spans (book.css
    styles them as myst-nb styles the paragraphs), and drop the summary's aria-label, which
    differs from the title it shows. A page with such a summary but without
    myst-nb's titles stops the build: its markup changed."""
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        if "_static" in page.relative_to(app.outdir).parts:
            continue
        text = page.read_text(encoding="utf-8")
        if HIDDEN_CELL_SUMMARY not in text:
            continue
        fixed, count = SUMMARY_TITLE.subn(
            r'<span class="\g<kind> admonition-title">\g<text></span>', text)
        # Its aria-label ("Toggle hidden content") hides the visible title from speech input
        # (axe: label-content-name-mismatch); without it the name is the title shown.
        fixed = fixed.replace(HIDDEN_CELL_SUMMARY, "<summary>")
        if count == 0 and '<span class="collapsed admonition-title">' not in text:
            raise ExtensionError(f"fix_hidden_cell_summaries: {page.name} folds a cell but not "
                                 "with myst-nb's <p class=\"collapsed admonition-title\">")
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def _add_download_attribute(page, notebook_name):
    """Make the theme's notebook link save the file instead of showing JSON in the browser."""
    text = page.read_text(encoding="utf-8")
    link = re.compile(rf'(href="(?!https?:)[^"]*/{re.escape(notebook_name)}") target="_blank"')
    text, count = link.subn(rf'\1 download="{notebook_name}"', text)
    if count != 1 and f'download="{notebook_name}"' not in text:
        raise ExtensionError(f"{page}: the theme's link to {notebook_name} was not found "
                             "(its download menu changed), so the notebook would open as JSON")
    page.write_text(text, encoding="utf-8")


def setup(app):
    app.connect("build-finished", fix_accessibility)
    app.add_config_value("worked_problems_file", "book/problems.yml", "env")
    app.add_config_value("worked_install_spec", "", "env")
    app.add_config_value("worked_notebooks_branch", "notebooks", "html")
    app.add_config_value("worked_fold_code", False, "env")
    app.add_config_value("worked_mutants_dir", "book/mutants", "env")
    app.add_config_value("worked_code_dir", "code/worked", "env")
    app.add_directive("problem-index", ProblemIndex)
    app.connect("env-before-read-docs", init_env)
    app.connect("env-get-outdated", outdated_by_code)
    app.connect("source-read", add_code_key)
    app.connect("doctree-read", title_folded_proofs)
    app.connect("doctree-read", record_problem_sections)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-check-consistency", check_template)
    app.connect("html-page-context", offer_notebook)
    app.connect("html-page-context", add_colab_button, priority=502)
    app.connect("build-finished", write_notebooks)
    app.connect("config-inited", set_site_url)
    app.connect("doctree-read", number_proof_ids)
    app.connect("env-check-consistency", check_moved)
    app.connect("env-check-consistency", check_code_entries)
    app.connect("html-collect-pages", add_problem_redirects, priority=400)
    app.connect("html-page-context", forward_moved_anchors)
    app.connect("build-finished", fix_root_redirect)
    app.connect("build-finished", fix_hidden_cell_summaries)
    app.add_js_file("problem-links.js", loading_method="defer")
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
