// Shared by the Node test oracles (tests/*/..._oracle.js): the Hugging Face `tokenizers` binding from
// tests/oracles/node_modules, BertTokenizerFast's pipeline for a vocab.txt assembled from the
// binding's own components, and Python's str.strip().
'use strict';
const fs = require('fs');
const path = require('path');

const modDir = path.join(__dirname, '..', 'node_modules', 'tokenizers');
let tk;
try {
  tk = require(modDir);
} catch (e) {
  process.stderr.write(`npm package 'tokenizers' is missing at ${modDir} (run scripts/setup.sh): ${e.message}\n`);
  process.exit(3);
}

// Returns {tokenizer, ids}: ids maps each vocab.txt token to its id.
async function bertTokenizer(vocabPath, lowercase) {
  const vocab = fs.readFileSync(vocabPath, 'utf8').split('\n');
  if (vocab.length && vocab[vocab.length - 1] === '') vocab.pop();
  const ids = {};
  vocab.forEach((t, i) => { ids[t.replace(/\r$/, '')] = i; });
  const model = await tk.WordPiece.fromFile(vocabPath, {unkToken: '[UNK]'});
  const t = new tk.Tokenizer(model);
  t.setNormalizer(tk.bertNormalizer({lowercase, cleanText: true, handleChineseChars: true}));
  t.setPreTokenizer(tk.bertPreTokenizer());
  t.setPostProcessor(tk.bertProcessing(['[SEP]', ids['[SEP]']], ['[CLS]', ids['[CLS]']]));
  t.setDecoder(tk.wordPieceDecoder('##', true));
  t.addSpecialTokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((x) => x in ids));
  return {tokenizer: t, ids};
}

// Python's str.strip() (not JS trim(), which also strips U+FEFF).
const ws = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const pyStripRegex = new RegExp(`^${ws}+|${ws}+$`, 'g');
const pyStrip = (s) => s.replace(pyStripRegex, '');

module.exports = {tk, bertTokenizer, pyStrip};
