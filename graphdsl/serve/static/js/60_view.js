// The view: builds the page's parts inside one element and keeps them in step with
// the model. A change reruns the model (one request at a time; the latest values
// win) and writes the numbers into the picture in place (the server sends their text
// with each run); the picture is drawn anew only for a new model, another output, other
// shapes, numbers written on other lines than it has, or when the server could not find
// every number on it.

const STEPS_LIMIT = 2000;  // nodes: larger graphs get neither a picture nor the steps (render.py)

class GraphView {
  constructor(root, transport, options = {}) {
    this.root = root;
    this.transport = transport;
    this.options = options;
    root.classList.add("gd-view");
    root.innerHTML = LAYOUT;
    const part = (role) => root.querySelector(`[data-role="${role}"]`);
    this.parts = { file: part("file"), status: part("status"), outputs: part("outputs"), grads: part("grads"),
                   gradsTitle: part("grads-title"), steps: part("steps"), inspect: part("inspect"),
                   quiz: part("quiz"), explain: part("explain"), error: root.querySelector("[data-error]"),
                   check: root.querySelector("[data-check-result]"), of: root.querySelector('[data-control="of"]'),
                   lr: root.querySelector('[data-control="lr"]') };
    this.picture = new GraphPicture(part("picture"), (id) => this.inspect(id));
    this.controls = new LeafControls(part("leaves"), () => this.changed(), (text) => this.problem(text));
    this.quiz = new Quiz(part("answers"), part("score"), (id) => this.picture.highlightNode(id));
    this.errors = { model: "", input: "", run: "" };
    this.version = null;
    this.model = null;
    this.run = null;
    this.step = -1;
    this.revealed = false;
    this.pending = false;
    this.busy = false;
    this.idleWaiters = [];
    this.wire();
  }

  wire() {
    const on = (action, handler) => this.root.querySelector(`[data-action="${action}"]`)
      .addEventListener("click", handler);
    on("step", () => this.descend());
    on("reset", () => this.reset());
    on("check-gradients", () => this.checkGradients());
    on("check", async () => { await this.idle(); this.quiz.check(); });
    on("reveal", () => this.reveal());
    on("previous", () => this.choose(Math.max(0, this.step - 1)));
    on("next", () => this.choose(Math.min(this.steps().length - 1, this.step + 1)));
    on("zoom", (event) => {
      this.picture.zoom(!this.picture.fit);
      event.target.textContent = this.picture.fit ? "Actual size" : "Fit";
    });
    this.parts.of.addEventListener("change", () => { this.of = this.parts.of.value; this.changed(); });
  }

  // ------------------------------------------------------------ the model
  async start() {
    await this.poll();
    if (this.following) this.timer = setInterval(() => this.poll(), 300);
  }

  stop() {
    clearInterval(this.timer);
  }

  async poll() {
    if (this.polling) return;
    this.polling = true;
    try {
      const { status, data } = await this.transport.call("model", { since: this.version });
      if (status === 200 && !data.unchanged) this.loadModel(data);
      else if (status !== 200) this.setError("model", data.text || data.error);
    } finally {
      this.polling = false;
    }
  }

  loadModel(info) {
    this.version = info.version;
    this.following = info.follow;
    this.quizMode = info.quiz;
    this.parts.file.textContent = info.file;
    if (this.options.title) document.title = `${info.file} · graphrun serve`;
    this.parts.quiz.hidden = !info.quiz;
    this.root.classList.toggle("gd-quiz-mode", info.quiz && !this.revealed);
    this.setError("model", info.error ? info.error.text : "");
    if (info.model && JSON.stringify(info.model) !== JSON.stringify(this.model)) this.rebuild(info.model);
    if (!info.error) this.changed(false);
  }

  // A new model: controls keep the values a person set, where the leaf still fits them.
  rebuild(model) {
    const old = new Map((this.model ? this.model.leaves : []).map((leaf) => [leaf.name, leaf]));
    const values = new Map();
    for (const leaf of model.leaves) {
      const start = fromWire(leaf.start);
      const before = old.get(leaf.name);
      const mine = this.controls.current.get(leaf.name);
      const moved = before && before.kind === leaf.kind && mine !== undefined &&
        JSON.stringify(toWire(mine)) !== JSON.stringify(before.start) &&
        JSON.stringify(shapeOf(mine)) === JSON.stringify(shapeOf(start));
      values.set(leaf.name, moved ? mine : start);
    }
    this.model = model;
    this.of = model.outputs.includes(this.of) ? this.of : model.of;
    this.controls.build(model.leaves, values);
    this.parts.of.replaceChildren(...model.outputs.map((name) => element("option", { value: name }, name)));
    this.parts.of.value = this.of;
    this.tables();
    this.picture.key = null;
  }

  tables() {
    const rows = (names, attribute, prefix) => names.map((name) => {
      const row = element("tr");
      const cell = element("td");
      cell.append(element("div", { [attribute]: name, class: "gd-num gd-scroll" }));  // a large array scrolls
      row.append(element("th", {}, prefix(name)), cell);
      return row;
    });
    this.parts.outputs.replaceChildren(...rows(this.model.outputs, "data-output", (name) => name));
    const leaves = this.model.leaves.map((leaf) => leaf.name);
    this.parts.grads.replaceChildren(...rows(leaves, "data-grad-of", (name) => `d${this.of}/d${name}`));
    this.parts.gradsTitle.textContent = `Gradients of ${this.of}`;
  }

  // ------------------------------------------------------------ running
  // Something changed: run again (a person's change starts a new quiz exercise).
  changed(byPerson = true) {
    if (!this.model) return;
    if (byPerson) {
      this.changedAt = this.changedAt ?? performance.now();
      this.newExercise();
    }
    if (this.parts.gradsTitle.textContent !== `Gradients of ${this.of}`) this.tables();
    this.pending = true;
    if (!this.busy) this.pump();
  }

  async pump() {
    this.busy = true;
    this.root.dataset.busy = "true";
    while (this.pending) {
      this.pending = false;
      if (this.controls.invalid.size) break;
      this.setError("input", "");
      const body = { inputs: this.controls.wire(), of: this.of };
      const key = `${this.version}|${this.of}|${JSON.stringify([...this.controls.current.values()].map(shapeOf))}`;
      const drawn = this.picture.key === key && (this.picture.complete || !this.picture.svg);
      const explain = drawn && this.model.order.length <= STEPS_LIMIT ? true : undefined;
      const labels = drawn && this.picture.svg ? true : undefined;  // the text of its numbers
      const { status, data } = await this.transport.call(drawn ? "run" : "picture", { ...body, explain, labels });
      this.root.dataset.answers = String(Number(this.root.dataset.answers || 0) + 1);
      if (this.pending) continue;  // newer values wait: skip showing these
      if (status !== 200) {
        this.setError("run", data.text || data.error || `the server answered ${status}`);
        this.picture.stale(true);
        this.changedAt = undefined;
        continue;
      }
      if (drawn && !this.picture.fits(data)) {  // drawn anew, for these numbers
        this.picture.key = null;
        this.pending = true;
        continue;
      }
      if (!drawn) {
        if (data.svg) this.picture.show(data.svg, data.complete, key);
        else this.picture.unavailable(data.message, key);
      }
      this.show(drawn ? data : data.run);
    }
    this.busy = false;
    this.root.dataset.busy = "false";
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  idle() {
    return this.busy ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
  }

  show(run) {
    this.run = run;
    this.setError("run", "");
    this.picture.stale(false);
    const grads = this.showGrads();
    this.picture.update(run, this.edgeGrads(run), grads);
    for (const cell of this.parts.outputs.querySelectorAll("[data-output]")) {
      cell.textContent = exactText(run.outputs[cell.dataset.output]);
    }
    for (const cell of this.parts.grads.querySelectorAll("[data-grad-of]")) {
      const gradient = run.gradients[cell.dataset.gradOf];
      cell.textContent = gradient === undefined ? "" : grads ? exactText(gradient) : HIDDEN;
    }
    this.explainSteps(run.explain || []);
    if (this.quizMode) this.quiz.sync(run, this.model, this.of);
    if (this.changedAt !== undefined) {
      const latency = performance.now() - this.changedAt;
      this.root.dataset.latency = latency.toFixed(1);
      this.status(`updated in ${Math.round(latency)} ms`);
      this.changedAt = undefined;
    }
    this.root.dataset.runs = String(Number(this.root.dataset.runs || 0) + 1);
  }

  edgeGrads(run) {
    return new Map((run.explain || []).filter((s) => s.node != null)
      .map((s) => [`${s.node}:${s.operand}`, s.gradient]));
  }

  showGrads() {
    return !this.quizMode || this.revealed;
  }

  // ------------------------------------------------------------ explain steps
  explainSteps(steps) {
    const items = steps.map((step, i) => {
      const button = element("button", { type: "button", class: "gd-step", "data-step": String(i) }, step.text);
      button.addEventListener("click", () => this.choose(i));
      const item = element("li");
      item.append(button);
      return item;
    });
    this.parts.steps.replaceChildren(...items);
    if (this.step >= steps.length) this.step = -1;
    if (this.step >= 0) this.choose(this.step);
  }

  steps() {
    return (this.run && this.run.explain) || [];
  }

  // Choose step i: mark it in the list and its edge on the picture.
  choose(i) {
    const steps = this.steps();
    if (i < 0 || i >= steps.length) return;
    this.step = i;
    for (const button of this.parts.steps.querySelectorAll(".gd-step")) {
      button.classList.toggle("gd-active", button.dataset.step === String(i));
    }
    this.picture.highlightStep(steps[i], this.of);
  }

  inspect(id) {
    if (!this.run || !this.model) return;
    this.picture.highlightNode(id);
    const node = this.model.nodes[id];
    const line = node.line ? ` (line ${node.line})` : "";
    const value = formatCompact(fromWire(this.run.values[id]));
    const grad = id in this.run.node_grads
      ? `, d${this.of}/d${id} = ${this.showGrads() ? formatCompact(fromWire(this.run.node_grads[id])) : HIDDEN}` : "";
    this.parts.inspect.textContent = `${node.statement}${line}: value ${value}${grad}`;
  }

  // ------------------------------------------------------------ actions
  // θ ← θ − η·dL/dθ for every param, L the output chosen.
  async descend() {
    await this.idle();
    const lr = parseNumberText(this.parts.lr.value);
    if (lr === null || !Number.isFinite(lr)) return this.problem("the learning rate must be a number");
    const params = this.model.leaves.filter((leaf) => leaf.kind === "param").map((leaf) => leaf.name);
    if (params.length === 0) return this.status("this model has no params to step");
    if (!this.run) return;
    const updated = params.filter((name) => name in this.run.gradients).map((name) =>
      [name, descend(this.controls.current.get(name), fromWire(this.run.gradients[name]), lr)]);
    this.controls.set(updated);
    this.changed();
  }

  reset() {
    this.controls.set(this.model.leaves.map((leaf) => [leaf.name, fromWire(leaf.start)]));
    this.setError("input", "");
    this.changed();
  }

  async checkGradients() {
    await this.idle();
    this.parts.check.textContent = "checking…";
    const { status, data } = await this.transport.call("run",
      { inputs: this.controls.wire(), of: this.of, check: true });
    if (status !== 200) {
      this.parts.check.textContent = data.error || "the check failed";
      this.parts.check.dataset.ok = "false";
      return;
    }
    const report = data.check;
    const error = fromWire(report.max_rel_error);
    this.parts.check.dataset.ok = String(report.ok);
    this.parts.check.dataset.maxRelError = exactText(report.max_rel_error);
    this.parts.check.textContent = `gradient check of ${report.of}: largest relative error ` +
      `${formatNumber(error)}: ${report.ok ? "ok, within" : "too large, above"} the tolerance ${formatNumber(report.tolerance)}` +
      (report.skipped.length ? ` (not reached: ${report.skipped.join(", ")})` : "");
  }

  reveal() {
    this.revealed = true;
    this.root.classList.remove("gd-quiz-mode");
    if (this.run) this.show(this.run);
  }

  newExercise() {
    this.parts.check.textContent = "";
    if (!this.quizMode) return;
    this.revealed = false;
    this.root.classList.add("gd-quiz-mode");
    this.quiz.clear();
  }

  // ------------------------------------------------------------ messages
  setError(source, text) {
    this.errors[source] = text || "";
    const shown = this.errors.model || this.errors.input || this.errors.run;
    this.parts.error.textContent = shown;
    this.parts.error.hidden = !shown;
    this.root.classList.toggle("gd-has-error", Boolean(shown));
  }

  problem(text) {
    this.setError("input", text);
  }

  status(text) {
    this.parts.status.textContent = text;
  }
}

function mount(root, transport, options = {}) {
  const view = new GraphView(root, transport, options);
  view.start();
  return view;
}
