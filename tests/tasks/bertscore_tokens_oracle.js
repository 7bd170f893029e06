// Test oracle: the ids BERTScore feeds the model, computed with Hugging Face `tokenizers` (the Rust
// library's Node binding, tests/oracles/node_modules) instead of our tokenizer. It replays the
// reference's chain (MedVLMBench eval/metrics.py _trim + bert_score sent_encode):
//   ids = encode(text, add_special_tokens=False)[:max(limit - 2, 1)]
//   text = decode(ids, skip_special_tokens=True), then transformers' clean_up_tokenization
//   text = text.strip(); "" -> [CLS, SEP]; else encode(text) with [CLS] ... [SEP]
// The tokenizer is BertTokenizerFast's pipeline for a vocab.txt (as hf_tokenizers_oracle.js builds it).
//
// usage: node bertscore_tokens_oracle.js <request.json>
// request: {"vocab": "vocab.txt", "lowercase": true, "limit": N, "texts": [...]}
// stdout:  {"results": [{"trimmed": "...", "ids": [...]}, ...]}
'use strict';
const fs = require('fs');
const path = require('path');

const modDir = path.join(__dirname, '..', 'oracles', 'node_modules', 'tokenizers');
let tk;
try {
  tk = require(modDir);
} catch (e) {
  process.stderr.write(`npm package 'tokenizers' is missing at ${modDir} (run scripts/setup.sh): ${e.message}\n`);
  process.exit(3);
}

// transformers' PreTrainedTokenizerBase.clean_up_tokenization (BertTokenizerFast: clean_up_tokenization_spaces).
function cleanUp(s) {
  for (const [a, b] of [[' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"], [" n't", "n't"],
                        [" 'm", "'m"], [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"]]) {
    s = s.split(a).join(b);
  }
  return s;
}

// Python's str.strip() (not JS trim(), which also strips U+FEFF).
const ws = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const strip = new RegExp(`^${ws}+|${ws}+$`, 'g');

(async () => {
  const req = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const vocab = fs.readFileSync(req.vocab, 'utf8').split('\n');
  if (vocab.length && vocab[vocab.length - 1] === '') vocab.pop();
  const ids = {};
  vocab.forEach((t, i) => { ids[t.replace(/\r$/, '')] = i; });
  const model = await tk.WordPiece.fromFile(req.vocab, {unkToken: '[UNK]'});
  const t = new tk.Tokenizer(model);
  t.setNormalizer(tk.bertNormalizer({lowercase: req.lowercase, cleanText: true, handleChineseChars: true}));
  t.setPreTokenizer(tk.bertPreTokenizer());
  t.setPostProcessor(tk.bertProcessing(['[SEP]', ids['[SEP]']], ['[CLS]', ids['[CLS]']]));
  t.setDecoder(tk.wordPieceDecoder('##', true));
  t.addSpecialTokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((x) => x in ids));
  const allowed = Math.max(req.limit - 2, 1);
  const results = [];
  for (const text of req.texts) {
    const plain = (await t.encode(text, null, {addSpecialTokens: false})).getIds().slice(0, allowed);
    const trimmed = cleanUp(await t.decode(plain, true)).replace(strip, '');
    const out = trimmed === '' ? [ids['[CLS]'], ids['[SEP]']]
                               : (await t.encode(trimmed, null, {addSpecialTokens: true})).getIds();
    results.push({trimmed, ids: out});
  }
  process.stdout.write(JSON.stringify({results}));
})().catch((e) => {
  process.stderr.write(`oracle failed: ${e.stack || e}\n`);
  process.exit(1);
});
