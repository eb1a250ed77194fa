// Quiz mode (--quiz): the lecture's exercise of filling in the backward pass. Every
// node that a gradient reaches gets an <input data-answer="ID">; *check* marks each
// data-correct="true" or "false" (relative tolerance 1e-3 against node_grads);
// *reveal* shows the gradients.

class Quiz {
  constructor(table, score, onFocus) {
    this.table = table;
    this.score = score;
    this.onFocus = onFocus;
    this.rows = new Map();
    this.expected = {};
    this.ids = "";
  }

  // After each run: a row per node with a gradient, output first (the order of the
  // backward pass); the answers stay unless the nodes change.
  sync(run, model, of) {
    const ids = model.order.filter((id) => id in run.node_grads).reverse();
    if (ids.join("\n") !== this.ids) this.build(ids, model, of);
    this.expected = run.node_grads;
    for (const [id, row] of this.rows) {
      row.value.textContent = formatCompact(fromWire(run.values[id]));
      row.solution.textContent = formatCompact(fromWire(run.node_grads[id]));
    }
  }

  build(ids, model, of) {
    this.ids = ids.join("\n");
    this.rows = new Map();
    const head = element("tr");
    for (const title of ["node", "value", `your d${of}/d(node)`, "", "gradient"]) {
      head.append(element("th", {}, title));
    }
    const rows = [head];
    for (const id of ids) {
      const answer = element("input", { type: "text", "data-answer": id, spellcheck: "false",
                                        autocomplete: "off", "aria-label": `d${of}/d${id}` });
      answer.addEventListener("focus", () => this.onFocus(id));
      const row = { answer, value: element("td", { class: "gd-num" }), mark: element("td", { class: "gd-mark" }),
                    solution: element("td", { class: "gd-num gd-solution" }) };
      const statement = element("td", { class: "gd-statement" }, model.nodes[id].statement);
      const cell = element("td");
      cell.append(answer);
      const tr = element("tr");
      tr.append(statement, row.value, cell, row.mark, row.solution);
      rows.push(tr);
      this.rows.set(id, row);
    }
    this.table.replaceChildren(...rows);
    this.score.textContent = "";
  }

  // Mark every answer right or wrong; returns how many are right.
  check() {
    let right = 0;
    for (const [id, row] of this.rows) {
      const text = row.answer.value.trim();
      let answer = null;
      try {
        answer = text.startsWith("[") ? parseArrayText(text) : parseNumberText(text);
      } catch (err) {
        answer = null;
      }
      const correct = answer !== null && id in this.expected && closeEnough(answer, fromWire(this.expected[id]));
      row.answer.dataset.correct = String(correct);
      row.mark.textContent = correct ? "✓" : "✗";
      row.mark.className = `gd-mark ${correct ? "gd-right" : "gd-wrong"}`;
      if (correct) right += 1;
    }
    this.score.textContent = `${right} of ${this.rows.size} right`;
    return right;
  }

  // A new exercise (other numbers): answers and marks cleared.
  clear() {
    for (const row of this.rows.values()) {
      row.answer.value = "";
      delete row.answer.dataset.correct;
      row.mark.textContent = "";
      row.mark.className = "gd-mark";
    }
    this.score.textContent = "";
  }
}
