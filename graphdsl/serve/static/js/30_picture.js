// The picture: Graphviz's SVG as the server annotated it (picture.py): node groups
// carry data-node, edges data-from/data-to/data-operand (data-via: the ports they pass
// through), and each line of a number that a run changes sits in a
// <tspan data-slot="KEY" data-line="K"> (v:ID a value; g:ID a leaf's gradient, e:ID:I
// the one flowing back to operand I of gate ID, p:CALL:SRC through a port). Each run's
// answer has the text of every slot (`labels`, written as the picture writes numbers:
// large arrays summarised), so a run rewrites the text in place.

const HIDDEN = "?";
const FRAME = 16;  // px: the picture's border and padding, and a little room

class GraphPicture {
  constructor(element, onNode) {
    this.element = element;
    this.onNode = onNode;
    this.spans = [];
    this.lineCounts = new Map();
    this.nodes = new Map();
    this.edges = [];
    this.key = null;
    this.complete = true;
    this.fit = true;
    this.follow();
  }

  // Show a freshly drawn picture; `key` says what it was drawn for (output, shapes).
  show(svgText, complete, key) {
    const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml");
    if (parsed.querySelector("parsererror")) return this.unavailable("the picture could not be read");
    const svg = document.importNode(parsed.documentElement, true);
    svg.classList.add("gd-svg");
    svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
    this.natural = [svg.getAttribute("width"), svg.getAttribute("height")];
    this.element.replaceChildren(svg);
    this.svg = svg;
    this.spans = [...svg.querySelectorAll("tspan[data-slot]")].map((span) => ({
      span, slot: span.dataset.slot, line: Number(span.dataset.line), gradient: !span.dataset.slot.startsWith("v:") }));
    this.lineCounts = new Map();
    for (const { slot, line } of this.spans) {
      this.lineCounts.set(slot, Math.max(this.lineCounts.get(slot) || 0, line + 1));
    }
    this.centred = false;
    this.nodes = new Map([...svg.querySelectorAll("[data-node]")].map((g) => [g.dataset.node, g]));
    this.edges = [...svg.querySelectorAll("[data-from]")];
    for (const [id, group] of this.nodes) group.addEventListener("click", () => this.onNode(id));
    this.key = key;
    this.complete = complete;
    this.zoom(this.fit);
  }

  // No picture (no Graphviz, a graph too large): say why; the numbers still work.
  unavailable(message, key = null) {
    const note = document.createElement("p");
    note.className = "gd-note";
    note.textContent = message;
    this.element.replaceChildren(note);
    this.svg = null;
    this.spans = [];
    this.lineCounts = new Map();
    this.nodes = new Map();
    this.edges = [];
    this.key = key;
    this.complete = true;
  }

  // Do a run's labels fit the slots of this picture (the same lines for each)? They do
  // unless a value changed how it is written (another shape) since the picture was drawn.
  fits(run) {
    if (!this.svg || this.spans.length === 0) return true;
    if (!run.labels) return false;
    for (const [slot, count] of this.lineCounts) {
      const lines = run.labels[slot];
      if (!lines || lines.length !== count) return false;
    }
    return true;
  }

  // Write one run's numbers on the picture; gradients as "?" unless `showGrads`.
  update(run, edgeGrads, showGrads) {
    this.centre();
    const labels = run.labels || {};
    for (const { span, slot, line, gradient } of this.spans) {
      const lines = labels[slot];
      if (!lines) continue;
      const text = gradient && !showGrads ? (line === 0 ? HIDDEN : "") : lines[line];
      if (span.textContent !== text) span.textContent = text;
    }
    for (const [id, group] of this.nodes) {
      group.dataset.value = id in run.values ? exactText(run.values[id]) : "";
      group.dataset.grad = showGrads && id in run.node_grads ? exactText(run.node_grads[id]) : "";
    }
    for (const edge of this.edges) {
      edge.dataset.value = edge.dataset.from in run.values ? exactText(run.values[edge.dataset.from]) : "";
      const gradient = edgeGrads.get(`${edge.dataset.to}:${edge.dataset.operand}`);
      edge.dataset.grad = showGrads && gradient !== undefined ? exactText(gradient) : "";
    }
  }

  // Graphviz anchors each line of a label at its left end, placed for the width of the
  // number it drew: another number would sit off centre (a "?" at the far left of where
  // a long gradient was). So each line that is a <text> of its own is anchored at its
  // middle instead, measured once while it still shows the first number (every width
  // read before any is written: one layout). A line that continues another (a leaf's
  // "= -2" after its name) keeps its left end. Not laid out yet (a hidden widget): later.
  centre() {
    if (this.centred || !this.svg) return;
    const texts = [...new Set(this.spans.map(({ span }) => span.parentNode))].filter((text) => {
      const before = text.previousElementSibling;
      return !(before && before.tagName === "text" && before.getAttribute("y") === text.getAttribute("y"));
    });
    const widths = texts.map((text) => text.getComputedTextLength());
    if (texts.length && widths.every((width) => width === 0)) return;
    texts.forEach((text, i) => {
      text.setAttribute("x", String(parseFloat(text.getAttribute("x")) + widths[i] / 2));
      text.setAttribute("text-anchor", "middle");
    });
    this.centred = true;
  }

  // Mark the edge an explain step works on (the output's own edge for the seed), with
  // the ports it passes through into calls, and its two nodes.
  highlightStep(step, of) {
    this.clearHighlight();
    const edges = step.node == null
      ? this.edges.filter((edge) => edge.dataset.to === `output ${of}`)
      : this.edges.filter((edge) => edge.dataset.to === step.node && edge.dataset.from === step.target &&
                                    edge.dataset.operand === String(step.operand));
    for (const edge of edges) {
      edge.classList.add("gd-hl");
      for (const id of JSON.parse(edge.dataset.via || "[]")) this.byId(id)?.classList.add("gd-hl");
    }
    for (const id of [step.node, step.target]) this.nodes.get(id)?.classList.add("gd-hl");
    return edges.length > 0;
  }

  // An element of this picture by its SVG id (two views on one page may share ids).
  byId(id) {
    return this.svg.querySelector(`[id="${CSS.escape(id)}"]`);
  }

  highlightNode(id) {
    this.clearHighlight();
    this.nodes.get(id)?.classList.add("gd-hl");
  }

  clearHighlight() {
    if (this.svg) for (const item of this.svg.querySelectorAll(".gd-hl")) item.classList.remove("gd-hl");
  }

  stale(yes) {
    this.element.classList.toggle("gd-stale", yes);
  }

  // Fit the picture to the space available, or show it at its own size (scrolling).
  // Fitted, it is scaled as a whole (no blank margins beside a tall drawing): a small
  // graph grows to at most 1.5 times its size, and a large one shrinks to no less than
  // 0.75 of it (then the picture scrolls), so its numbers stay readable.
  zoom(fit) {
    this.fit = fit;
    if (!this.svg) return;
    const [width, height] = this.natural.map((size) => (parseFloat(size) * 4) / 3);  // pt to px
    if (!fit || !(width > 0 && height > 0)) {
      this.svg.setAttribute("width", fit ? "100%" : this.natural[0]);
      this.svg.setAttribute("height", fit ? "auto" : this.natural[1]);
      return;
    }
    const room = Math.min((this.width - FRAME) / width, (window.innerHeight * 0.74) / height);
    const scale = Math.min(1.5, Math.max(0.75, room));
    this.svg.setAttribute("width", `${(width * scale).toFixed(1)}px`);
    this.svg.setAttribute("height", `${(height * scale).toFixed(1)}px`);
  }

  // Fitted, the picture follows the width of its frame (a window or a notebook resized, a
  // hidden widget shown); the frame's own width, which scroll bars do not change.
  follow() {
    this.width = this.element.getBoundingClientRect().width;
    new ResizeObserver(() => {
      const width = this.element.getBoundingClientRect().width;
      if (width === this.width) return;
      this.width = width;
      if (this.fit) this.zoom(true);
    }).observe(this.element);
  }
}
