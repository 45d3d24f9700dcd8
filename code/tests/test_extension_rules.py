"""The book's HTML rewrites fail loudly: each is tied to the theme's markup, and one that no
longer finds what it rewrites must stop the build (a theme update must break the build, not the
page). Unit tests of book/_ext on small pages, no build."""

import itertools
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pydata_sphinx_theme
import pytest
from fontTools.ttLib.tables import _h_e_a_d
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import fast_pages  # noqa: E402
import worked_book  # noqa: E402

# The static files of the installed theme (its scripts and fonts, as the build copies them).
THEME_STATIC = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"
SIDEBAR = '<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar">'


def app_for(outdir):
    return SimpleNamespace(outdir=str(outdir), builder=SimpleNamespace(format="html"))


def test_accessibility_fix_applies_and_is_idempotent(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(f"<html>{SIDEBAR}</div></html>")
    worked_book.fix_accessibility(app_for(tmp_path), None)
    fixed = page.read_text()
    assert 'role="complementary" aria-label="Book navigation"' in fixed
    worked_book.fix_accessibility(app_for(tmp_path), None)  # a rebuild: already fixed, no error
    assert page.read_text() == fixed


def test_accessibility_fix_fails_when_the_theme_markup_changed(tmp_path):
    (tmp_path / "page.html").write_text('<html><div id="pst-primary-sidebar" class="new-theme"></div></html>')
    with pytest.raises(ExtensionError, match="pst-primary-sidebar"):
        worked_book.fix_accessibility(app_for(tmp_path), None)


def test_citations_become_list_items(tmp_path):
    page = tmp_path / "bib.html"
    page.write_text('<div role="list"><div class="citation" id="id3" role="doc-biblioentry">x</div></div>')
    worked_book.fix_accessibility(app_for(tmp_path), None)
    assert '<div class="citation" id="id3" role="listitem">' in page.read_text()


def test_download_link_rewrite_fails_without_the_theme_link(tmp_path):
    page = tmp_path / "chapter.html"
    page.write_text('<a href="../_sources/book/chapter.ipynb" target="_blank">.ipynb</a>')
    worked_book._add_download_attribute(page, "chapter.ipynb")
    assert 'download="chapter.ipynb"' in page.read_text()
    page.write_text('<a href="somewhere-else.ipynb">.ipynb</a>')
    with pytest.raises(ExtensionError, match="download menu"):
        worked_book._add_download_attribute(page, "chapter.ipynb")


def test_icon_packs_must_all_be_found(tmp_path):
    scripts = tmp_path / "_static" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "fontawesome.js").write_text('var p={bars:[448,512,[],"f0c9","M0 96z"]};d("fas",p)')
    with pytest.raises(ExtensionError, match="icon packs"):
        fast_pages.load_icons(tmp_path)


def test_head_rules_count_what_they_match(tmp_path):
    head = ('<html><head><script src="_static/scripts/fontawesome.js"></script>'
            '<link rel="stylesheet" type="text/css" href="_static/sphinx-thebe.css" />'
            '<script src="_static/searchtools.js"></script></head><body></body></html>')
    matched = dict.fromkeys(("DROPPED_SCRIPTS", "DROPPED_STYLES", "SEARCH_SCRIPTS", "DOC_OPTIONS"), 0)
    out = fast_pages.lighten_head(head, tmp_path, False, matched)
    assert "fontawesome" not in out and "thebe" not in out and "searchtools" not in out
    assert matched == {"DROPPED_SCRIPTS": 1, "DROPPED_STYLES": 1, "SEARCH_SCRIPTS": 1, "DOC_OPTIONS": 0}


def code_entry_warnings(entry):
    app = SimpleNamespace(srcdir=str(ROOT), config=SimpleNamespace(worked_code_dir="code/worked"))
    warnings = []
    original = worked_book.logger.warning
    worked_book.logger.warning = warnings.append
    try:
        functions, tests = worked_book.code_links(app, {"id": "demo", **entry})
    finally:
        worked_book.logger.warning = original
    return warnings, functions, tests


def test_problem_code_entries_are_checked():
    """problems.yml names a problem's worked functions and test files: the build warns (an error
    when strict) for a function that does not exist, a missing test file, or a function no
    listed test mentions; a good entry links the function's and the tests' lines."""
    warnings, functions, tests = code_entry_warnings(
        {"code": ["dropout.dropout_moments"], "tests": ["test_dropout.py"]})
    assert warnings == []
    assert functions[0][:2] == ("dropout.dropout_moments", "code/worked/dropout.py")
    assert tests[0][:2] == ("test_dropout.py", "code/tests/test_dropout.py")
    for entry, message in [
        ({"code": ["dropout.no_such_function"], "tests": ["test_dropout.py"]}, "is not a function"),
        ({"code": ["dropout.dropout_moments"], "tests": ["test_missing.py"]}, "no test file"),
        ({"code": ["dropout.dropout_moments"], "tests": ["test_ridge.py"]}, "no test in test_ridge.py"),
    ]:
        warnings, _, _ = code_entry_warnings(entry)
        assert any(message in w for w in warnings), (entry, warnings)


def test_hidden_cell_titles_become_spans(tmp_path):
    page = tmp_path / "chapter.html"
    summary = ('<details class="admonition hide above-input"><summary aria-label="Toggle hidden content">\n'
               '<p class="collapsed admonition-title">Show code cell source</p>\n'
               '<p class="expanded admonition-title">Hide code cell source</p>\n</summary></details>')
    page.write_text(summary)
    worked_book.fix_hidden_cell_summaries(app_for(tmp_path), None)
    text = page.read_text()
    assert "<p" not in text and '<span class="collapsed admonition-title">Show code cell source</span>' in text
    assert "aria-label" not in text
    page.write_text(summary.replace("<p class", "<div class").replace("</p>", "</div>"))
    with pytest.raises(ExtensionError, match="folds a cell"):
        worked_book.fix_hidden_cell_summaries(app_for(tmp_path), None)


def test_plain_tokens_and_attribute_dots_are_unwrapped_only_in_code():
    code = ('<pre><span class="n">np</span><span class="o">.</span><span class="n">x</span>'
            '<span class="w"> </span><span class="o">=</span><span class="w"> </span>'
            '<span class="mi">1</span><span class="o">.</span><span class="o">..</span></pre>')
    prose = '<p><span class="n">kept</span></p>'
    out = fast_pages.unwrap_plain_tokens(prose + code)
    assert out == (prose + '<pre>np.x <span class="o">=</span> <span class="mi">1</span>.'
                   '<span class="o">..</span></pre>')


def test_an_inline_formula_is_one_image_and_a_display_formula_scrolls_in_its_container():
    image = {"speech": "x squared", "width": "2ex", "height": "1ex", "valign": "0ex"}
    inline = fast_pages._formula(image, "m.svg", display=False)
    assert inline.startswith('<img class="formula dark-light" src="m.svg" alt="x squared"')
    assert inline.count("<") == 1
    display = fast_pages._formula(image, "m.svg", display=True)
    assert display.startswith('<mjx-container class="MathJax" jax="SVG" display="true" tabindex="0"><img')


def test_each_formula_gets_its_own_image_and_speech(tmp_path):
    """render_math.cjs typesets all formulas of all pages in one document and hands each back by
    position: a shifted or swapped lookup would give a formula another one's image and alt text."""
    page = ('<p><span class="math notranslate nohighlight">\\(\\alpha\\)</span> and '
            '<span class="math notranslate nohighlight">\\(x^2\\)</span></p>'
            '<div class="math notranslate nohighlight">\n\\[\\frac{1}{y}\\]</div>')
    other = '<p><span class="math notranslate nohighlight">\\(z\\)</span></p>'
    rendered = fast_pages.render_math({tmp_path / "a.html": page, tmp_path / "b.html": other}, tmp_path)
    alts = {path.name: re.findall(r'alt="([^"]*)"', text) for path, text in rendered.items()}
    assert alts == {"a.html": ["alpha", "x squared", "1 over y"],
                    "b.html": ["z"]}
    images = re.findall(r'src="_static/math/([^"]+)"', rendered[tmp_path / "a.html"])
    assert len(set(images)) == 3 and all((tmp_path / "_static" / "math" / name).exists() for name in images)


def test_the_icon_font_subset_is_the_same_file_in_every_build(tmp_path, monkeypatch):
    """The subset's bytes name it and the stylesheet bundle: a build-time timestamp in the font
    would rename both on every build and make readers download them again after each deploy."""
    static = tmp_path / "_static"
    font = static / fast_pages.ICON_FONT
    font.parent.mkdir(parents=True)
    font.write_bytes((THEME_STATIC / fast_pages.ICON_FONT).read_bytes())
    clock = itertools.count(3_900_000_000, 1000)
    monkeypatch.setattr(_h_e_a_d, "timestampNow", lambda: next(clock))  # a later time at each save
    css = '.a::before{content:"\uf00c"}'  # a check mark, in Font Awesome's private-use area
    first = fast_pages.subset_icon_font(css, static)
    second = fast_pages.subset_icon_font(css, static)
    assert first == second and "icons-" in first


def theme_static(tmp_path, script):
    (tmp_path / "scripts").mkdir(parents=True)
    (tmp_path / fast_pages.THEME_SCRIPT).write_text(script)
    return tmp_path


def test_the_theme_scripts_load_time_tab_stop_scan_is_dropped_once(tmp_path):
    """On the script the installed theme ships: its one load-time call goes, the rest stays, and
    a rebuild over the rewritten file leaves it alone."""
    shipped = (THEME_STATIC / fast_pages.THEME_SCRIPT).read_text()
    static = theme_static(tmp_path, shipped)
    fast_pages.drop_theme_tab_stops(static)
    script = (static / fast_pages.THEME_SCRIPT).read_text()
    assert fast_pages.THEME_TAB_STOPS_CALL.search(script) is None
    assert "sourceMappingURL" in shipped and "sourceMappingURL" not in script
    assert len(script) == len(shipped) - len(fast_pages.THEME_TAB_STOPS_CALL.search(shipped)[0]) \
        + len(fast_pages.THEME_TAB_STOPS_DROPPED) - len(fast_pages.SOURCE_MAP_COMMENT.search(shipped)[0])
    fast_pages.drop_theme_tab_stops(static)
    assert (static / fast_pages.THEME_SCRIPT).read_text() == script


def test_the_tab_stop_rewrite_fails_when_the_theme_changed(tmp_path):
    function = 'function I(){const e=()=>{document.querySelectorAll(%s.join(", ")).forEach(e=>{e.tabIndex=e.scrollWidth>0})}}'
    call = '"complete"===document.readyState?I():window.addEventListener("load",I)'
    with pytest.raises(ExtensionError, match="THEME_TAB_STOPS_CALL matched 0 times"):
        fast_pages.drop_theme_tab_stops(theme_static(tmp_path / "a", function % '["pre"]' + ";I()"))
    with pytest.raises(ExtensionError, match=r"handles \['pre', 'table'\]"):  # a new selector
        fast_pages.drop_theme_tab_stops(theme_static(tmp_path / "b", function % '["pre","table"]' + ";" + call))
    selectors = ",".join(f'"{s}"' for s in fast_pages.THEME_TAB_STOP_SELECTORS)
    fast_pages.drop_theme_tab_stops(theme_static(tmp_path / "c", function % f"[{selectors}]" + ";" + call
                                                  + "\n//# sourceMappingURL=t.js.map"))


def test_the_script_measures_what_the_theme_did_and_the_display_formulas():
    script = (ROOT / "book" / "_static" / "lazy-sections.js").read_text()
    listed = re.search(r"const selectors = \[(.*?)\];", script, re.S)[1]
    assert json.loads(f"[{listed}]") == [*fast_pages.THEME_TAB_STOP_SELECTORS, 'mjx-container[display="true"]']


def test_the_sitemap_gets_the_pages_an_incremental_build_did_not_write():
    import queue
    config = SimpleNamespace(html_file_suffix=None, sitemap_show_lastmod=False, sitemap_excludes=["search.html"])
    env = SimpleNamespace(found_docs={"book/a", "book/b", "search"}, is_directory_builder=False)
    app = SimpleNamespace(builder=SimpleNamespace(format="html", env=env, config=config), env=env,
                          fast_pages_written={"book/a", "genindex"}, extensions={"sphinx_sitemap": None})
    env.app = SimpleNamespace(sitemap_links=queue.Queue())
    fast_pages.complete_sitemap(app, None)
    queued = [env.app.sitemap_links.get_nowait()[0] for _ in range(env.app.sitemap_links.qsize())]
    assert queued == ["book/b.html"]  # book/a is queued by sphinx-sitemap itself; search is excluded
