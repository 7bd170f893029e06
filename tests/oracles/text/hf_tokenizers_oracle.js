// Test oracle: Hugging Face `tokenizers` (the Rust library's Node binding, npm package
// tokenizers@0.23.2 in tests/oracles/node_modules) encodes and decodes texts so the C++
// tokenizers can be compared id for id and string for string.
//
// usage: node hf_tokenizers_oracle.js <request.json>
// request: {"mode": "file", "path": "tokenizer.json", "texts": [...]}
//          {"mode": "bert", "vocab": "vocab.txt", "lowercase": true, "texts": [...], "save": "out.json"}
//          {"mode": "json", "json": "<tokenizer.json text>", "texts": [...]}
// stdout:  {"vocab_size": N, "results": [{"ids": [...], "ids_plain": [...], "decoded": "...",
//           "decoded_skip": "..."}, ...]}   (ids: with special tokens; ids_plain: without)
'use strict';
const fs = require('fs');
const {tk, bertTokenizer, pyStrip} = require('../common/hf_common.js');

async function build(req) {
  if (req.mode === 'file') return tk.Tokenizer.fromFile(req.path);
  if (req.mode === 'json') return tk.Tokenizer.fromString(req.json);
  if (req.mode === 'bert') {
    // BertTokenizerFast's pipeline, assembled from the binding's own components.
    const {tokenizer: t} = await bertTokenizer(req.vocab, req.lowercase);
    if (req.save) t.save(req.save, false);
    return t;
  }
  if (req.mode === 'clip') {
    // The tokenizer.json transformers' CLIPConverter writes for vocab.json + merges.txt.
    const vocab = JSON.parse(fs.readFileSync(req.vocab, 'utf8'));
    const merges = fs.readFileSync(req.merges, 'utf8').split('\n').filter((l, i) => l && !(i === 0 && l.startsWith('#version')));
    const bos = '<|startoftext|>', eos = '<|endoftext|>';
    const special = (content) => ({id: vocab[content], content, single_word: false, lstrip: false, rstrip: false,
                                  normalized: false, special: true});
    const spec = {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [special(bos), special(eos)],
      normalizer: {type: 'Sequence', normalizers: [{type: 'NFC'}, {type: 'Replace', pattern: {Regex: '\\s+'}, content: ' '},
                                                   {type: 'Lowercase'}]},
      pre_tokenizer: {type: 'Sequence', pretokenizers: [
        {type: 'Split', pattern: {Regex: "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
         behavior: 'Removed', invert: true},
        {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false}]},
      post_processor: {type: 'RobertaProcessing', sep: [eos, vocab[eos]], cls: [bos, vocab[bos]], trim_offsets: false,
                       add_prefix_space: false},
      decoder: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
      model: {type: 'BPE', dropout: null, unk_token: eos, continuing_subword_prefix: '', end_of_word_suffix: '</w>',
              fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges},
    };
    const t = tk.Tokenizer.fromString(JSON.stringify(spec));
    // CLIPTokenizerFast wraps the backend decode: "</w>" -> " ", then strip().
    const decode = t.decode.bind(t);
    t.decode = async (ids, skip) => pyStrip((await decode(ids, skip)).split('</w>').join(' '));
    return t;
  }
  throw new Error(`unknown mode ${req.mode}`);
}

(async () => {
  const req = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const t = await build(req);
  const results = [];
  for (const text of req.texts) {
    const withSpecial = await t.encode(text, null, {addSpecialTokens: true});
    const plain = await t.encode(text, null, {addSpecialTokens: false});
    const ids = withSpecial.getIds();
    results.push({
      ids,
      ids_plain: plain.getIds(),
      decoded: await t.decode(ids, false),
      decoded_skip: await t.decode(ids, true),
    });
  }
  const out = {vocab_size: t.getVocabSize(true), results};
  if (req.batch) {
    // {"truncate": N, "pad_id": id, "pad_token": s, "pad_to": N or null, "direction": "Left"|"Right"}
    const b = req.batch;
    if (b.truncate) t.setTruncation(b.truncate);
    const pad = {padId: b.pad_id, padToken: b.pad_token, direction: (b.direction || 'Right').toLowerCase()};
    if (b.pad_to) pad.maxLength = b.pad_to;
    t.setPadding(pad);
    const encs = await t.encodeBatch(req.texts, {addSpecialTokens: true});
    out.batch_ids = encs.map((e) => e.getIds());
    out.batch_mask = encs.map((e) => e.getAttentionMask());
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => {
  process.stderr.write(`oracle failed: ${e.stack || e}\n`);
  process.exit(1);
});
