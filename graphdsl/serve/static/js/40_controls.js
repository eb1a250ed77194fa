// A control for every input and param: a slider and a number field for a scalar, a
// JSON field for an array. The field is the <input data-input="NAME"> of SPEC §6:
// setting its value and dispatching `change` reruns the model.

class LeafControls {
  constructor(element, onChange, onProblem) {
    this.element = element;
    this.onChange = onChange;
    this.onProblem = onProblem;
    this.current = new Map();
    this.fields = new Map();
    this.sliders = new Map();
    this.invalid = new Set();
  }

  // Controls for `leaves` ([{name, kind, shape}]) holding `values` (Map name -> value).
  build(leaves, values) {
    this.current = new Map(values);
    this.fields = new Map();
    this.sliders = new Map();
    this.invalid = new Set();
    const rows = leaves.map((leaf) => this.row(leaf));
    if (rows.length === 0) rows.push(note("This model has no inputs or params."));
    this.element.replaceChildren(...rows);
  }

  row(leaf) {
    const value = this.current.get(leaf.name);
    const row = element("div", { class: `gd-leaf gd-${leaf.kind}` });
    const label = element("label", { class: "gd-leaf-name" }, leaf.name);
    label.append(element("small", {}, ` ${leaf.kind}${leaf.shape ? ` ${leaf.shape}` : ""}`));
    const field = element("input", {
      type: "text", "data-input": leaf.name, spellcheck: "false", autocomplete: "off",
      "aria-label": `${leaf.kind} ${leaf.name}`,
    });
    field.value = fieldText(value);
    field.addEventListener("change", () => this.read(leaf.name));
    this.fields.set(leaf.name, field);
    row.append(label);
    if (!Array.isArray(value)) {
      const slider = element("input", { type: "range", "data-slider": leaf.name, "aria-label": `${leaf.name} slider` });
      fitRange(slider, value);
      slider.addEventListener("input", () => {
        const number = Number(slider.value);
        field.value = fieldText(number);
        this.accept(leaf.name, number);
      });
      this.sliders.set(leaf.name, slider);
      row.append(slider);
    } else {
      field.classList.add("gd-array");
    }
    row.append(field);
    return row;
  }

  // Read a field after a change: a number (or array) reruns the model; else say why.
  read(name) {
    const field = this.fields.get(name);
    const text = field.value.trim();
    let value = null;
    let problem = null;
    if (text.startsWith("[")) {
      try {
        value = parseArrayText(text);
      } catch (err) {
        problem = `${name}: ${err.message}`;
      }
    } else {
      value = parseNumberText(text);
      if (value === null) problem = `${name}: '${text}' is not a number (nan and inf are allowed)`;
    }
    field.classList.toggle("gd-invalid", problem !== null);
    if (problem !== null) {
      this.invalid.add(name);
      this.onProblem(problem);
      return;
    }
    const slider = this.sliders.get(name);
    if (slider && !Array.isArray(value)) fitRange(slider, value, true);
    this.accept(name, value);
  }

  accept(name, value) {
    this.invalid.delete(name);
    this.fields.get(name)?.classList.remove("gd-invalid");
    this.current.set(name, value);
    this.onChange(name);
  }

  // Set values from elsewhere (reset, step) without a change event per field.
  set(values) {
    for (const [name, value] of values) {
      this.current.set(name, value);
      const field = this.fields.get(name);
      if (field) {
        field.value = fieldText(value);
        field.classList.remove("gd-invalid");
      }
      const slider = this.sliders.get(name);
      if (slider && !Array.isArray(value)) fitRange(slider, value, true);
      this.invalid.delete(name);
    }
  }

  // The bindings to send, as JSON data.
  wire() {
    const inputs = {};
    for (const [name, value] of this.current) inputs[name] = toWire(value);
    return inputs;
  }
}

// A slider's range around a value: symmetric, a power of ten wide enough for twice it.
function fitRange(slider, value, keep = false) {
  if (!Number.isFinite(value)) return;
  const low = Number(slider.min);
  const high = Number(slider.max);
  if (!keep || !(value >= low && value <= high) || slider.min === "") {
    const reach = 10 ** Math.ceil(Math.log10(Math.max(Math.abs(value), 1) * 2));
    slider.min = String(-reach);
    slider.max = String(reach);
    slider.step = String(reach / 1000);
  }
  slider.value = String(value);
}

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function note(text) {
  return element("p", { class: "gd-note" }, text);
}
