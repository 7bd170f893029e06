"""Text-metric oracle for tests/metrics/text_parity_test.cpp.

usage: text_oracle.py IN.json OUT.json NLTK_DATA_DIR
IN holds {"kind": [...cases...]}; OUT gets the same keys with one result per case.

Independent references: nltk 3.8 (BLEU, METEOR with WordNet, Porter stemmer) and Python's own
str/re semantics. normalize_word, the reference's exact_match/F1, ROUGE (torchmetrics' documented
normaliser and formulas) and the multi-choice rules are restated here in Python from
../shared/reference/REFERENCE.md §3, written independently of the C++ code, so the C++ port is
checked against Python's Unicode lower()/split() and its regex engine.
"""
import json
import os
import re
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nltk_env  # noqa: E402

PUNCT = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
NUMBERS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
           "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
ARTICLES = {"a", "an", "the"}
# A sample of the VQA contractions table sufficient for the generated inputs (the C++ table is
# checked in full by the hand-worked cases).
CONTRACTIONS = {"dont": "don't", "isnt": "isn't", "cant": "can't", "wont": "won't", "thats": "that's",
                "whats": "what's", "doesnt": "doesn't", "arent": "aren't", "somebody'd": "somebodyd"}


def normalize(text):
    dcd = re.search(r"\d,\d", text) is not None
    out = text
    for p in PUNCT:
        if dcd or (p + " ") in text or (" " + p) in text:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    out = re.sub(r"\.(?!\d)", "", out, count=32)
    words = []
    for w in out.lower().split():
        w = NUMBERS.get(w, w)
        if w in ARTICLES:
            continue
        words.append(CONTRACTIONS.get(w, w))
    return " ".join(words).replace(",", "")


def ref_tokens(text):
    return text.lower().strip().split()


def prf(cand, ref):
    c, r = Counter(ref_tokens(normalize(cand))), Counter(ref_tokens(normalize(ref)))
    if not c or not r:
        return [0.0, 0.0, 0.0]
    tp = sum(c[w] for w in c if w in r)
    fp = sum(c[w] for w in c if w not in r)
    fn = sum(r[w] for w in r if w not in c)
    if tp == 0:
        return [0.0, 0.0, 0.0]
    p, rc = tp / (tp + fp), tp / (tp + fn)
    return [2 * p * rc / (p + rc), p, rc]


def exact_ratio(cand, ref):
    c, r = ref_tokens(normalize(cand)), set(ref_tokens(normalize(ref)))
    if not c:
        return 0.0
    return sum(1 for w in r if w in c) / len(c)


def rouge_tokens(text):
    return [t for t in re.split(r"\s+", re.sub(r"[^a-z0-9]+", " ", text.lower())) if t]


def rouge_n(p, t, n):
    pc = Counter(tuple(p[i:i + n]) for i in range(len(p) - n + 1))
    tc = Counter(tuple(t[i:i + n]) for i in range(len(t) - n + 1))
    pl, tl = sum(pc.values()), sum(tc.values())
    if pl == 0 or tl == 0:
        return [0.0, 0.0, 0.0]
    hits = sum(min(pc[g], tc[g]) for g in pc)
    return prf_from(hits, pl, tl)


def lcs(a, b):
    prev = [0] * (len(a) + 1)
    for y in b:
        cur = [0]
        for j, x in enumerate(a, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def prf_from(hits, pl, tl):
    p, r = hits / pl, hits / tl
    if p == 0 and r == 0:
        return [0.0, 0.0, 0.0]
    return [p, r, 2 * p * r / (p + r)]


def rouge_l(p, t):
    if not p or not t:
        return [0.0, 0.0, 0.0]
    return prf_from(lcs(p, t), len(p), len(t))


def choice(response, choices):
    text = response.strip()
    if not text:
        return None
    t = re.sub(r"\s+", " ", text)
    valid = {c.upper() for c in choices}
    if not valid:
        return None
    rules = [
        (r"(?:final\s+answer|answer\s+is|answer|ans|choice|option)\s*[:\-]?\s*[\(\[]?\s*([A-Za-z])\s*[\)\]]?", re.I),
        (r"(?:correct\s+answer\s+is|the\s+correct\s+answer\s+is)\s*[\(\[]?\s*([A-Za-z])\s*[\)\]]?", re.I),
        (r"[\(\[]\s*([A-Za-z])\s*[\)\]]", 0),
        (r"\*\*\s*([A-Za-z])\s*\*\*", 0),
        (r"\b([A-Za-z])\b", 0),
    ]
    for pattern, flags in rules:
        m = re.search(pattern, t, flags)
        if m and m.group(1).upper() in valid:
            return m.group(1).upper()
    return None


def main():
    data = json.load(open(sys.argv[1], encoding="utf-8"))
    out = {}
    if "normalize" in data:
        out["normalize"] = [normalize(s) for s in data["normalize"]]
    if "pairs" in data:
        out["pairs"] = [{"prf": prf(c, r), "exact": exact_ratio(c, r),
                         "closed": 1.0 if r.lower() in c.lower() else 0.0} for c, r in data["pairs"]]
    if "rouge" in data:
        res = []
        for p, t in data["rouge"]:
            pt, tt = rouge_tokens(p), rouge_tokens(t)
            res.append({"tokens": pt, "r1": rouge_n(pt, tt, 1), "r2": rouge_n(pt, tt, 2), "rl": rouge_l(pt, tt)})
        out["rouge"] = res
    if "choice" in data:
        out["choice"] = [choice(r, c) for r, c in data["choice"]]
    if "bleu" in data:
        from nltk.translate.bleu_score import sentence_bleu
        import warnings
        warnings.simplefilter("ignore")
        res = []
        for pred, ref in data["bleu"]:
            res.append([float(sentence_bleu([ref], pred, weights=tuple([1.0 / n] * n))) for n in range(1, 5)])
        out["bleu"] = res
    if any(k in data for k in ("meteor", "porter", "synonyms")):
        wn = nltk_env.setup(sys.argv[3])
        from nltk.stem.porter import PorterStemmer
        from nltk.translate.meteor_score import meteor_score, single_meteor_score
        if "porter" in data:
            st = PorterStemmer()
            out["porter"] = [st.stem(w) for w in data["porter"]]
        if "synonyms" in data:
            res = []
            for w in data["synonyms"]:
                names = []
                for s in wn.synsets(w):
                    for l in s.lemmas():
                        if l.name() not in names:
                            names.append(l.name())
                res.append(names)
            out["synonyms"] = res
        if "meteor" in data:
            out["meteor"] = [meteor_score([ref], hyp) for ref, hyp in data["meteor"]]
            out["meteor_whole"] = [single_meteor_score([" ".join(ref)], [" ".join(hyp)]) for ref, hyp in data["meteor"]]
    json.dump(out, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)


if __name__ == "__main__":
    main()
