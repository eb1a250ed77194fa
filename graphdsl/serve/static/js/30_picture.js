// The picture: Graphviz's SVG as the server annotated it (picture.py): node groups
// carry data-node, edges data-from/data-to/data-operand, and each number that a run
// changes sits in a <tspan data-slot="KEY"> (v:ID a value, g:ID a gradient, e:ID:I the
// gradient flowing back to operand I of gate ID), so a run updates the text in place.

const HIDDEN = "?";

class GraphPicture {
  constructor(element, onNode) {
    this.element = element;
    this.onNode = onNode;
    this.slots = new Map();
    this.nodes = new Map();
    this.edges = [];
    this.key = null;
    this.complete = true;
    this.fit = true;
  }

  // Show a freshly drawn picture; `key` says what it was drawn for (output, shapes).
  show(svgText, complete, key) {
    const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml");
    if (parsed.querySelector("parsererror")) return this.unavailable("the picture could not be read");
    const svg = document.importNode(parsed.documentElement, true);
    svg.classList.add("gd-svg");
    this.natural = [svg.getAttribute("width"), svg.getAttribute("height")];
    this.element.replaceChildren(svg);
    this.svg = svg;
    this.slots = new Map();
    for (const span of svg.querySelectorAll("[data-slot]")) {
      const list = this.slots.get(span.dataset.slot) || [];
      list.push(span);
      this.slots.set(span.dataset.slot, list);
    }
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
    this.slots = new Map();
    this.nodes = new Map();
    this.edges = [];
    this.key = key;
    this.complete = true;
  }

  // Write one run's numbers on the picture; gradients as "?" unless `showGrads`.
  update(run, edgeGrads, showGrads) {
    for (const [key, spans] of this.slots) {
      const text = this.slotText(key, run, edgeGrads, showGrads);
      for (const span of spans) if (span.textContent !== text) span.textContent = text;
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

  slotText(key, run, edgeGrads, showGrads) {
    const kind = key.slice(0, 1);
    const rest = key.slice(2);
    let value;
    if (kind === "v") value = run.values[rest];
    else if (!showGrads) return HIDDEN;
    else if (kind === "g") value = run.node_grads[rest];
    else if (kind === "e") value = edgeGrads.get(rest);
    return value === undefined ? "" : formatCompact(fromWire(value));
  }

  // Mark the edge an explain step works on (the output's own edge for the seed).
  highlightStep(step, of) {
    this.clearHighlight();
    const edges = step.node == null
      ? this.edges.filter((edge) => edge.dataset.to === `output ${of}`)
      : this.edges.filter((edge) => edge.dataset.to === step.node && edge.dataset.from === step.target &&
                                    edge.dataset.operand === String(step.operand));
    for (const edge of edges) edge.classList.add("gd-hl");
    for (const id of [step.node, step.target]) this.nodes.get(id)?.classList.add("gd-hl");
    return edges.length > 0;
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

  // Fit the picture to the width available, or show it at its own size (scrolling).
  zoom(fit) {
    this.fit = fit;
    if (!this.svg) return;
    const [width, height] = this.natural;
    this.svg.setAttribute("width", fit ? "100%" : width);
    this.svg.setAttribute("height", fit ? "100%" : height);
    this.svg.classList.toggle("gd-fit", fit);
    // Fitted, a small graph grows to at most 1.5 times its size, and a wide one shrinks to
    // no less than 0.75 of it (then the picture scrolls): its numbers stay readable.
    const pixels = (parseFloat(width) * 4) / 3;
    this.svg.style.maxWidth = fit && pixels > 0 ? `${pixels * 1.5}px` : "";
    this.svg.style.minWidth = fit && pixels > 0 ? `${pixels * 0.75}px` : "";
  }
}
