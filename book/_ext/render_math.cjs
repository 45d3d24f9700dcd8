// Typesets the book's math at build time with MathJax 3 (SVG output), so that pages need no
// MathJax at run time. Called by fast_pages.py with JSON on stdin:
//   [[{"tex": "...", "display": true|false}, ...], ...]      (one list of formulas per page)
// and answers on stdout with
//   {"css": "<the stylesheet of MathJax's SVG output>",
//    "pages": [{"items": ["<mjx-container ...>", ...], "cache": "<svg id=\"MJX-SVG-global-cache\" ...>"}, ...]}
// Glyphs are shared within a page (fontCache "global": one hidden <svg> of paths that the formulas
// <use>), and every formula carries its MathML for screen readers (assistive MathML).
// A TeX error (unknown macro, unbalanced braces) is fatal: the build must not ship red error boxes.
"use strict";
const { mathjax } = require("mathjax-full/js/mathjax.js");
const { TeX } = require("mathjax-full/js/input/tex.js");
const { SVG } = require("mathjax-full/js/output/svg.js");
const { liteAdaptor } = require("mathjax-full/js/adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = require("mathjax-full/js/handlers/html.js");
const { AssistiveMmlHandler } = require("mathjax-full/js/a11y/assistive-mml.js");
const { AllPackages } = require("mathjax-full/js/input/tex/AllPackages.js");

const adaptor = liteAdaptor();
AssistiveMmlHandler(RegisterHTMLHandler(adaptor));
// Sphinx's own MathJax set-up: \(...\) inline, \[...\] display; no "noundefined", so that an
// unknown macro is an error instead of red text.
const packages = AllPackages.filter((name) => name !== "noundefined");

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// The SVG wraps every MathML node in a <g data-mml-node="...">; one with no other attribute (no
// transform, class or style) only groups, and one whose only content is a glyph can hand its
// transform to the glyph. A long page has thousands of them: unwrapped, they change nothing on
// screen and leave the browser less to lay out. MathJax's stylesheet styles the kinds below, so
// they stay.
const STYLED_KINDS = new Set(["merror", "mtable", "maction", "math"]);

function unwrapPlainGroups(node) {
  for (const child of [...adaptor.childNodes(node)]) {
    if (adaptor.kind(child) === "#text") continue;
    unwrapPlainGroups(child);
    if (adaptor.kind(child) !== "g" || STYLED_KINDS.has(adaptor.getAttribute(child, "data-mml-node"))) continue;
    const attributes = adaptor.allAttributes(child).map((a) => a.name).sort().join(" ");
    const only = adaptor.childNodes(child);
    // A moved glyph: <g transform="T"><use/></g> is <use transform="T"/>.
    if (attributes === "data-mml-node transform" && only.length === 1 && adaptor.kind(only[0]) === "use"
        && !adaptor.getAttribute(only[0], "transform")) {
      adaptor.setAttribute(only[0], "transform", adaptor.getAttribute(child, "transform"));
      adaptor.insert(only[0], child);
      adaptor.remove(child);
    } else if (attributes === "data-mml-node") {
      for (const grandchild of [...adaptor.childNodes(child)]) adaptor.insert(grandchild, child);
      adaptor.remove(child);
    }
  }
}

function renderPage(items) {
  const body = items
    .map((item, i) => `<span id="m${i}">${item.display ? "\\[" : "\\("}${escapeHtml(item.tex)}${item.display ? "\\]" : "\\)"}</span>`)
    .join("");
  const tex = new TeX({ packages, inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: false });
  const svg = new SVG({ fontCache: "global" });
  const doc = mathjax.document(`<!DOCTYPE html><html><head></head><body>${body}</body></html>`, { InputJax: tex, OutputJax: svg });
  doc.render();
  const rendered = items.map((_, i) => {
    const span = adaptor.elementById(adaptor.body(doc.document), `m${i}`);
    for (const svg of adaptor.tags(span, "svg")) unwrapPlainGroups(svg);
    const html = adaptor.innerHTML(span);
    const error = html.match(/data-mjx-error="([^"]*)"/);
    if (error) throw new Error(`MathJax could not typeset ${JSON.stringify(items[i].tex)}: ${error[1]}`);
    return html;
  });
  const cache = adaptor.elementById(adaptor.body(doc.document), "MJX-SVG-global-cache");
  return { items: rendered, cache: cache ? adaptor.outerHTML(cache) : "", css: adaptor.textContent(svg.styleSheet(doc)) };
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const pages = JSON.parse(input).map(renderPage);
  const css = pages.length ? pages[0].css : "";
  process.stdout.write(JSON.stringify({ css, pages: pages.map(({ items, cache }) => ({ items, cache })) }));
});
