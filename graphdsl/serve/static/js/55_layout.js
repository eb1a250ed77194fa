// The parts of the view, with the data-* names of SPEC §6 (data-input fields are made by
// LeafControls, data-node by the picture, data-answer by the quiz).

const LAYOUT = `
<div class="gd-head">
  <span class="gd-title" data-role="file"></span>
  <span class="gd-status" data-role="status" role="status"></span>
</div>
<pre class="gd-error" data-error hidden></pre>
<div class="gd-main">
  <div class="gd-side">
    <section><h2>Inputs and params</h2><div data-role="leaves"></div></section>
    <section class="gd-actions">
      <label class="gd-row">Gradients of <select data-control="of"></select></label>
      <div class="gd-row">
        <label>learning rate η <input data-control="lr" type="text" value="0.1" spellcheck="false"></label>
        <button type="button" data-action="step" title="θ ← θ − η·dL/dθ for every param">Step</button>
      </div>
      <div class="gd-row">
        <button type="button" data-action="reset" title="back to the starting values">Reset</button>
        <button type="button" data-action="check-gradients">Check gradients</button>
      </div>
      <p class="gd-check" data-check-result></p>
    </section>
    <section>
      <h2>Outputs</h2><table class="gd-table" data-role="outputs"></table>
      <h2 data-role="grads-title">Gradients</h2><table class="gd-table" data-role="grads"></table>
    </section>
  </div>
  <div class="gd-stage">
    <div class="gd-toolbar">
      <span class="gd-inspect" data-role="inspect">Click a node to see its value and gradient.</span>
      <button type="button" data-action="zoom">Actual size</button>
    </div>
    <div class="gd-picture" data-role="picture"></div>
    <section class="gd-quiz" data-role="quiz" hidden>
      <h2>Quiz: fill in the backward pass</h2>
      <p class="gd-note">Gradients are hidden. Write the gradient of the output with respect to each node,
        then <b>Check</b>; right within 0.1%.</p>
      <table class="gd-table" data-role="answers"></table>
      <div class="gd-row">
        <button type="button" data-action="check">Check</button>
        <button type="button" data-action="reveal">Reveal</button>
        <span data-role="score"></span>
      </div>
    </section>
    <section class="gd-explain" data-role="explain">
      <h2>Backward pass, step by step</h2>
      <div class="gd-row">
        <button type="button" data-action="previous" aria-label="previous step">◀</button>
        <button type="button" data-action="next" aria-label="next step">▶</button>
        <span class="gd-note">choose a step to see its edge on the picture</span>
      </div>
      <ol class="gd-steps" data-role="steps"></ol>
    </section>
  </div>
</div>`;
