// Reference side of bench_tokenizer: Hugging Face tokenizers (Node binding of the Rust library)
// encoding the same texts. usage: node tokenizer_bench_hf.js <tokenizer.json> <texts.json> <rounds>
// Prints {"tokens": N, "seconds": best-of-rounds wall time of one encodeBatch over all texts}.
// Run with TOKENIZERS_PARALLELISM=false for a single-threaded comparison.
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, '..', 'node_modules', 'tokenizers'));

(async () => {
  const [file, textsFile, roundsArg] = process.argv.slice(2);
  const t = tk.Tokenizer.fromFile(file);
  const texts = JSON.parse(fs.readFileSync(textsFile, 'utf8'));
  const rounds = Number(roundsArg || 3);
  await t.encodeBatch(texts.slice(0, 100), {addSpecialTokens: false});  // warm-up
  let best = Infinity, tokens = 0;
  for (let r = 0; r < rounds; ++r) {
    const t0 = process.hrtime.bigint();
    const enc = await t.encodeBatch(texts, {addSpecialTokens: false});
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    tokens = enc.reduce((n, e) => n + e.getLength(), 0);
    best = Math.min(best, dt);
  }
  process.stdout.write(JSON.stringify({tokens, seconds: best}));
})().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
