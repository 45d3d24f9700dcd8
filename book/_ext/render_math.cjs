// Typesets the book's math at build time with MathJax 3, as standalone SVG images, so that pages
// need no MathJax at run time. Called by fast_pages.py with JSON on stdin,
//   [{"tex": "...", "display": true|false}, ...]
// and answers on stdout, in the same order, with
//   [{"svg": "<svg ...>", "speech": "...", "width": "4.7ex", "height": "2.1ex", "valign": "-0.46ex"}, ...]
// An image costs the page one element, where inline SVG costs dozens per formula (a long chapter
// had 6,000 of them, and a phone spent more than a second laying them out). Screen readers get
// each formula as speech, from the Speech Rule Engine that MathJax's own accessibility tools use
// (ClearSpeak English), for the image's alt text.
// A TeX error (unknown macro, unbalanced braces) is fatal: the build must not ship red error boxes.
"use strict";
const { mathjax } = require("mathjax-full/js/mathjax.js");
const { TeX } = require("mathjax-full/js/input/tex.js");
const { SVG } = require("mathjax-full/js/output/svg.js");
const { liteAdaptor } = require("mathjax-full/js/adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = require("mathjax-full/js/handlers/html.js");
const { AssistiveMmlHandler } = require("mathjax-full/js/a11y/assistive-mml.js");
const { AllPackages } = require("mathjax-full/js/input/tex/AllPackages.js");
const sre = require("speech-rule-engine");

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

// The rules of MathJax's stylesheet that an image of a table (array, matrix, cases) still needs
// for its lines; a <style> costs every image that has one, so only those get it. The hairline
// stroke MathJax's stylesheet adds to glyphs is set on the image's top group instead.
const TABLE_STYLE = 'g[data-mml-node="mtable"]>line[data-line],svg[data-table]>g>line[data-line]{stroke-width:70px;fill:none}'
  + 'g[data-mml-node="mtable"]>rect[data-frame],svg[data-table]>g>rect[data-frame]{stroke-width:70px;fill:none}'
  + 'g[data-mml-node="mtable"]>.mjx-dashed,svg[data-table]>g>.mjx-dashed{stroke-dasharray:140}'
  + 'g[data-mml-node="mtable"]>.mjx-dotted,svg[data-table]>g>.mjx-dotted{stroke-linecap:round;stroke-dasharray:0,140}';

function render(items) {
  const body = items
    .map((item, i) => `<span id="m${i}">${item.display ? "\\[" : "\\("}${escapeHtml(item.tex)}${item.display ? "\\]" : "\\)"}</span>`)
    .join("");
  const tex = new TeX({ packages, inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: false });
  const output = new SVG({ fontCache: "local" });
  const doc = mathjax.document(`<!DOCTYPE html><html><head></head><body>${body}</body></html>`, { InputJax: tex, OutputJax: output });
  doc.render();
  // The body's children are the spans above, in order. (adaptor.elementById walks the whole
  // document on every call: with ~1,800 typeset formulas that took most of the build's minute
  // and a half here.)
  const spans = adaptor.childNodes(adaptor.body(doc.document));
  if (spans.length !== items.length) throw new Error(`render_math: ${spans.length} typeset spans for ${items.length} formulas`);
  return items.map((item, i) => {
    const span = spans[i];
    if (adaptor.getAttribute(span, "id") !== `m${i}`) throw new Error(`render_math: span ${i} is ${adaptor.getAttribute(span, "id")}`);
    const error = adaptor.innerHTML(span).match(/data-mjx-error="([^"]*)"/);
    if (error) throw new Error(`MathJax could not typeset ${JSON.stringify(item.tex)}: ${error[1]}`);
    const assistive = adaptor.tags(span, "mjx-assistive-mml")[0];
    const speech = sre.toSpeech(adaptor.innerHTML(assistive));
    const svg = adaptor.tags(span, "svg")[0];
    unwrapPlainGroups(svg);
    const valign = (adaptor.getAttribute(svg, "style") || "").match(/vertical-align:\s*([-\d.]+ex)/);
    const size = { width: adaptor.getAttribute(svg, "width"), height: adaptor.getAttribute(svg, "height"), valign: valign ? valign[1] : "0ex" };
    for (const name of ["style", "role", "focusable", "aria-hidden"]) adaptor.removeAttribute(svg, name);
    const top = adaptor.tags(svg, "g")[0];
    if (top && adaptor.getAttribute(top, "stroke-width") === "0") adaptor.setAttribute(top, "stroke-width", "3");
    if (/data-line|data-frame|mjx-dashed|mjx-dotted/.test(adaptor.innerHTML(svg))) {
      adaptor.insert(adaptor.node("style", {}, [adaptor.text(TABLE_STYLE)]), adaptor.firstChild(svg));
    }
    return { svg: adaptor.outerHTML(svg), speech, ...size };
  });
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", async () => {
  await sre.setupEngine({ domain: "clearspeak", locale: "en", modality: "speech" });
  await sre.engineReady();
  process.stdout.write(JSON.stringify(render(JSON.parse(input))));
});
