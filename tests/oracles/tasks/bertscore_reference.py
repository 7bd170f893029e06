#!/usr/bin/env python3
"""PROVISIONAL reference BERTScore on python3-torch, ported line by line from
  bert_score 0.3.13 (Tiiiger/bert_score@19e7f55) bert_score/score.py score() with idf=False
    (idf_dict = defaultdict(lambda: 1.0), [SEP] and [CLS] -> 0) and bert_score/utils.py get_model()
    (keep the first num_layers layers), padding(), collate_idf(), get_bert_embedding(), bert_encode()
    (out[0] = last_hidden_state), bert_cos_score_idf() (dedup_and_sort, stats_dict, pad_batch_stats with
    padding_value=2.0) and greedy_cos_idf() (including the empty-text masks and NaN -> 0),
  transformers src/transformers/models/bert/modeling_bert.py (BertEmbeddings, BertSelfAttention,
    BertSelfOutput, BertIntermediate, BertOutput: post-LN; extended mask (1 - m) * finfo.min),
  and MedVLMBench eval/metrics.py calculate_bertscore(): one score([cand], [ref], num_layers=12) call per
    pair, F1.
The tokenizer step (_trim + sent_encode) is NOT here: the ids come in the request, computed by the npm
`tokenizers` oracle (tests/tasks/bertscore_tokens_oracle.js), so no part of the chain is our C++ code.
Provisional: a later session with transformers + bert_score installed replaces it with the library.

usage: bertscore_reference.py score CHECKPOINT_DIR REQUEST.json OUT.json
         request {"num_layers": 12, "pairs": [[cand, ref], ...], "ids": {text: [ids incl. CLS/SEP]}}
         out     {"scores": [[P, R, F], ...], "seconds": scoring time}
       bertscore_reference.py match REQUEST.json OUT.json
         request {"cases": [{"cand": [[..D..]..], "ref": [...], "cand_idf": [...], "ref_idf": [...]}]}
         out     {"scores": [[P, R, F], ...]}   (greedy_cos_idf on one pair)
"""
import json
import os
import sys
import time
from collections import defaultdict

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import st_io  # noqa: E402


# ---- transformers BertModel (only what bert_score uses: input_ids + attention_mask -> out[0]) ----
class Bert:
    def __init__(self, ckpt, num_layers):
        path = os.path.join(ckpt, "model.safetensors")
        sd = st_io.load(path) if os.path.exists(path) else torch.load(os.path.join(ckpt, "pytorch_model.bin"))
        # AutoModel.from_pretrained strips the base_model_prefix "bert." of BertForPreTraining weights.
        if "embeddings.word_embeddings.weight" not in sd:
            sd = {k[len("bert."):]: v for k, v in sd.items() if k.startswith("bert.")}
        self.sd = {k: v.float() for k, v in sd.items()}
        with open(os.path.join(ckpt, "config.json")) as f:
            self.cfg = json.load(f)
        n = self.cfg["num_hidden_layers"]
        # get_model(): model.encoder.layer = model.encoder.layer[:num_layers]
        assert 0 <= num_layers <= n, f"Invalid num_layers: num_layers should be between 0 and {n}"
        self.layers = num_layers
        self.eps = self.cfg.get("layer_norm_eps", 1e-12)

    def __call__(self, input_ids, attention_mask):
        sd, eps = self.sd, self.eps
        d = self.cfg["hidden_size"]
        heads = self.cfg["num_attention_heads"]
        hd = d // heads
        b, l = input_ids.shape
        token_type_ids = torch.zeros_like(input_ids)
        position_ids = torch.arange(l)[None]
        x = (sd["embeddings.word_embeddings.weight"][input_ids]
             + sd["embeddings.token_type_embeddings.weight"][token_type_ids]
             + sd["embeddings.position_embeddings.weight"][position_ids])
        x = F.layer_norm(x, (d,), sd["embeddings.LayerNorm.weight"], sd["embeddings.LayerNorm.bias"], eps)
        ext = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for i in range(self.layers):
            p = f"encoder.layer.{i}"

            def proj(name, h):
                return F.linear(h, sd[f"{p}.attention.self.{name}.weight"], sd[f"{p}.attention.self.{name}.bias"]) \
                    .view(b, l, heads, hd).permute(0, 2, 1, 3)

            q, k, v = proj("query", x), proj("key", x), proj("value", x)
            scores = torch.matmul(q, k.transpose(-1, -2)) / (hd ** 0.5) + ext
            ctx = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).reshape(b, l, d)
            a = F.linear(ctx, sd[p + ".attention.output.dense.weight"], sd[p + ".attention.output.dense.bias"])
            x = F.layer_norm(a + x, (d,), sd[p + ".attention.output.LayerNorm.weight"],
                             sd[p + ".attention.output.LayerNorm.bias"], eps)
            h = F.gelu(F.linear(x, sd[p + ".intermediate.dense.weight"], sd[p + ".intermediate.dense.bias"]))
            h = F.linear(h, sd[p + ".output.dense.weight"], sd[p + ".output.dense.bias"])
            x = F.layer_norm(h + x, (d,), sd[p + ".output.LayerNorm.weight"], sd[p + ".output.LayerNorm.bias"], eps)
        return (x,)


# ---- bert_score/utils.py ----
def padding(arr, pad_token, dtype=torch.long):
    lens = torch.LongTensor([len(a) for a in arr])
    max_len = lens.max().item()
    padded = torch.ones(len(arr), max_len, dtype=dtype) * pad_token
    mask = torch.zeros(len(arr), max_len, dtype=torch.long)
    for i, a in enumerate(arr):
        padded[i, : lens[i]] = torch.tensor(a, dtype=dtype)
        mask[i, : lens[i]] = 1
    return padded, lens, mask


def bert_encode(model, x, attention_mask):
    with torch.no_grad():
        out = model(x, attention_mask=attention_mask)
    return out[0]


def collate_idf(arr, encode, idf_dict, pad_token):
    arr = [encode(a) for a in arr]
    idf_weights = [[idf_dict[i] for i in a] for a in arr]
    padded, lens, mask = padding(arr, pad_token, dtype=torch.long)
    padded_idf, _, _ = padding(idf_weights, 0, dtype=torch.float)
    return padded, padded_idf, lens, mask


def get_bert_embedding(all_sens, model, encode, idf_dict, pad_token, batch_size=-1):
    padded_sens, padded_idf, lens, mask = collate_idf(all_sens, encode, idf_dict, pad_token)
    if batch_size == -1:
        batch_size = len(all_sens)
    embeddings = []
    with torch.no_grad():
        for i in range(0, len(all_sens), batch_size):
            embeddings.append(bert_encode(model, padded_sens[i: i + batch_size], attention_mask=mask[i: i + batch_size]))
    return torch.cat(embeddings, dim=0), mask, padded_idf


def greedy_cos_idf(ref_embedding, ref_masks, ref_idf, hyp_embedding, hyp_masks, hyp_idf):
    ref_embedding.div_(torch.norm(ref_embedding, dim=-1).unsqueeze(-1))
    hyp_embedding.div_(torch.norm(hyp_embedding, dim=-1).unsqueeze(-1))
    batch_size = ref_embedding.size(0)
    sim = torch.bmm(hyp_embedding, ref_embedding.transpose(1, 2))
    masks = torch.bmm(hyp_masks.unsqueeze(2).float(), ref_masks.unsqueeze(1).float())
    masks = masks.expand(batch_size, -1, -1).contiguous().view_as(sim)
    masks = masks.float().to(sim.device)
    sim = sim * masks
    word_precision = sim.max(dim=2)[0]
    word_recall = sim.max(dim=1)[0]
    hyp_idf.div_(hyp_idf.sum(dim=1, keepdim=True))
    ref_idf.div_(ref_idf.sum(dim=1, keepdim=True))
    precision_scale = hyp_idf.to(word_precision.device)
    recall_scale = ref_idf.to(word_recall.device)
    P = (word_precision * precision_scale).sum(dim=1)
    R = (word_recall * recall_scale).sum(dim=1)
    F1 = 2 * P * R / (P + R)
    hyp_zero_mask = hyp_masks.sum(dim=1).eq(2)
    ref_zero_mask = ref_masks.sum(dim=1).eq(2)
    if torch.any(hyp_zero_mask):
        P = P.masked_fill(hyp_zero_mask, 0.0)
        R = R.masked_fill(hyp_zero_mask, 0.0)
    if torch.any(ref_zero_mask):
        P = P.masked_fill(ref_zero_mask, 0.0)
        R = R.masked_fill(ref_zero_mask, 0.0)
    F1 = F1.masked_fill(torch.isnan(F1), 0.0)
    return P, R, F1


def bert_cos_score_idf(model, refs, hyps, encode, idf_dict, pad_token, batch_size=64):
    preds = []

    def dedup_and_sort(l):
        return sorted(list(set(l)), key=lambda x: len(x.split(" ")), reverse=True)

    sentences = dedup_and_sort(refs + hyps)
    stats_dict = dict()
    for batch_start in range(0, len(sentences), batch_size):
        sen_batch = sentences[batch_start: batch_start + batch_size]
        embs, masks, padded_idf = get_bert_embedding(sen_batch, model, encode, idf_dict, pad_token)
        for i, sen in enumerate(sen_batch):
            sequence_len = masks[i].sum().item()
            stats_dict[sen] = (embs[i, :sequence_len], padded_idf[i, :sequence_len])

    def pad_batch_stats(sen_batch, stats_dict):
        stats = [stats_dict[s] for s in sen_batch]
        emb, idf = zip(*stats)
        lens = [e.size(0) for e in emb]
        emb_pad = pad_sequence(emb, batch_first=True, padding_value=2.0)
        idf_pad = pad_sequence(idf, batch_first=True)

        def length_to_mask(lens):
            lens = torch.tensor(lens, dtype=torch.long)
            max_len = max(lens)
            base = torch.arange(max_len, dtype=torch.long).expand(len(lens), max_len)
            return base < lens.unsqueeze(1)

        return emb_pad, length_to_mask(lens), idf_pad

    with torch.no_grad():
        for batch_start in range(0, len(refs), batch_size):
            ref_stats = pad_batch_stats(refs[batch_start: batch_start + batch_size], stats_dict)
            hyp_stats = pad_batch_stats(hyps[batch_start: batch_start + batch_size], stats_dict)
            P, R, F1 = greedy_cos_idf(*ref_stats, *hyp_stats)
            preds.append(torch.stack((P, R, F1), dim=-1).cpu())
    return torch.cat(preds, dim=0)


def vocab_ids(ckpt):
    with open(os.path.join(ckpt, "vocab.txt"), encoding="utf-8") as f:
        return {t.rstrip("\r\n"): i for i, t in enumerate(f.read().split("\n"))}


def score_cmd(ckpt, req, out):
    vocab = vocab_ids(ckpt)
    model = Bert(ckpt, req.get("num_layers", 12))
    # score(): idf=False
    idf_dict = defaultdict(lambda: 1.0)
    idf_dict[vocab["[SEP]"]] = 0
    idf_dict[vocab["[CLS]"]] = 0
    ids = req["ids"]

    def encode(sent):  # sent_encode() after _trim(), from the tokenizers oracle
        return ids[sent]

    scores = []
    t0 = time.perf_counter()
    for cand, ref in req["pairs"]:  # calculate_bertscore(): one score([cand], [ref]) call per answer
        all_preds = bert_cos_score_idf(model, [ref], [cand], encode, idf_dict, vocab["[PAD]"])
        P, R, F1 = all_preds[..., 0], all_preds[..., 1], all_preds[..., 2]
        scores.append([P.item(), R.item(), F1.item()])
    seconds = time.perf_counter() - t0  # scoring only (bench/bertscore_bench.cpp); the model loads once
    with open(out, "w") as f:
        json.dump({"scores": scores, "seconds": seconds}, f)


def match_cmd(req, out):
    scores = []
    for c in req["cases"]:
        hyp = torch.tensor(c["cand"], dtype=torch.float32)[None]
        ref = torch.tensor(c["ref"], dtype=torch.float32)[None]
        hyp_idf = torch.tensor(c["cand_idf"], dtype=torch.float32)[None]
        ref_idf = torch.tensor(c["ref_idf"], dtype=torch.float32)[None]
        hyp_mask = torch.ones(1, hyp.shape[1], dtype=torch.bool)
        ref_mask = torch.ones(1, ref.shape[1], dtype=torch.bool)
        P, R, F1 = greedy_cos_idf(ref, ref_mask, ref_idf, hyp, hyp_mask, hyp_idf)
        scores.append([P.item(), R.item(), F1.item()])
    with open(out, "w") as f:
        json.dump({"scores": [[None if v != v else v for v in s] for s in scores]}, f)  # NaN -> null


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "score":
        with open(sys.argv[3]) as f:
            score_cmd(sys.argv[2], json.load(f), sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "match":
        with open(sys.argv[2]) as f:
            match_cmd(json.load(f), sys.argv[3])
    else:
        sys.exit(__doc__)
