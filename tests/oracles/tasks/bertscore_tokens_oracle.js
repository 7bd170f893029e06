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
const {bertTokenizer, pyStrip} = require('../common/hf_common.js');

// transformers' PreTrainedTokenizerBase.clean_up_tokenization (BertTokenizerFast: clean_up_tokenization_spaces).
function cleanUp(s) {
  for (const [a, b] of [[' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"], [" n't", "n't"],
                        [" 'm", "'m"], [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"]]) {
    s = s.split(a).join(b);
  }
  return s;
}

(async () => {
  const req = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const {tokenizer: t, ids} = await bertTokenizer(req.vocab, req.lowercase);
  const allowed = Math.max(req.limit - 2, 1);
  const results = [];
  for (const text of req.texts) {
    const plain = (await t.encode(text, null, {addSpecialTokens: false})).getIds().slice(0, allowed);
    const trimmed = pyStrip(cleanUp(await t.decode(plain, true)));
    const out = trimmed === '' ? [ids['[CLS]'], ids['[SEP]']]
                               : (await t.encode(trimmed, null, {addSpecialTokens: true})).getIds();
    results.push({trimmed, ids: out});
  }
  process.stdout.write(JSON.stringify({results}));
})().catch((e) => {
  process.stderr.write(`oracle failed: ${e.stack || e}\n`);
  process.exit(1);
});
