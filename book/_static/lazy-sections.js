// What a chapter needs once its sections are laid out only near the screen (content-visibility,
// book.css): until then the browser knows them by an estimated height.
"use strict";
(() => {
  // 1. A code block, output, table or display formula wider than the column scrolls sideways: it
  // gets a tab stop, so that keyboard users can scroll it, and loses it when it fits. The
  // theme's script did this on load for every such element at once, which lays out the whole
  // page in one long task; book/_ext/fast_pages.py drops that call (and writes tabindex="0" into
  // the HTML, the safe default). Here each element is measured when the browser lays it out.
  // The theme's list (fast_pages.THEME_TAB_STOP_SELECTORS: the build checks it is still the
  // theme's), and the book's display formulas.
  const selectors = ["pre", ".nboutput > .output_area", ".cell_output > .output",
    ".jp-RenderedHTMLCommon", ".pst-scrollable-table-container",
    "mjx-container[display=\"true\"]"];
  const observer = new ResizeObserver((entries) => {
    // Measure all, then write: a write between two reads would force a new style pass.
    const scrolls = entries.map(({ target }) => target.scrollWidth > target.clientWidth
      || target.scrollHeight > target.clientHeight);
    entries.forEach(({ target }, i) => { target.tabIndex = scrolls[i] ? 0 : -1; });
  });
  document.querySelectorAll(selectors.join(", ")).forEach((element) => observer.observe(element));

  // 2. A link to a problem further down (#id: a syllabus link, the stable address p/<id>.html,
  // the page's table of contents) scrolls to where the estimated heights put it; as the
  // sections above it are laid out, it would drift off the screen. So the sections before it
  // are laid out first (class "shown"), then it is scrolled to.
  const land = () => {
    const id = decodeURIComponent(window.location.hash.slice(1));
    const target = id && document.getElementById(id);
    if (!target) {
      return;
    }
    document.querySelectorAll(".bd-article section").forEach((section) => {
      const before = section.compareDocumentPosition(target) & Node.DOCUMENT_POSITION_FOLLOWING;
      if (before && getComputedStyle(section).contentVisibility === "auto") {
        section.classList.add("shown");
      }
    });
    target.scrollIntoView();
  };
  land();
  window.addEventListener("hashchange", land);
})();
