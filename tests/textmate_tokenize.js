// The scopes vscode-textmate (VS Code's own tokenizer) gives every character of a text:
//   node textmate_tokenize.js GRAMMAR.json < TEXT   ->   JSON: per line, per character, its scopes
// Needs the npm packages vscode-textmate and vscode-oniguruma (NODE_PATH may point at them);
// tests/test_highlight.py compares tests/textmate.py with it when they are there.
const fs = require('fs'), path = require('path');
const vsctm = require('vscode-textmate'), oniguruma = require('vscode-oniguruma');
const wasm = fs.readFileSync(path.join(path.dirname(require.resolve('vscode-oniguruma')), 'onig.wasm')).buffer;
const onigLib = oniguruma.loadWASM(wasm).then(() => ({
  createOnigScanner: (p) => new oniguruma.OnigScanner(p),
  createOnigString: (s) => new oniguruma.OnigString(s),
}));
const grammarPath = process.argv[2];
const registry = new vsctm.Registry({
  onigLib,
  loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath),
});
registry.loadGrammar('source.graph').then((grammar) => {
  const text = fs.readFileSync(0, 'utf8');
  let state = vsctm.INITIAL;
  const out = [];
  for (const line of text.split('\n')) {
    const r = grammar.tokenizeLine(line, state);
    const chars = [];
    for (const t of r.tokens) for (let i = t.startIndex; i < Math.min(t.endIndex, line.length); i++) chars.push(t.scopes);
    out.push(chars);
    state = r.ruleStack;
  }
  process.stdout.write(JSON.stringify(out));
});
