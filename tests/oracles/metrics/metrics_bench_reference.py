"""Reference side of bench/metrics_bench.cpp: the same scores computed the way the Python
benchmark does (scikit-learn for diagnosis; the reference's VQA rules with nltk BLEU/METEOR for VQA),
timed around the computation only (loading the inputs is not timed).

usage: bench_metrics_reference.py DIR   (DIR holds the files the C++ side wrote)
prints one JSON line: {"diag_binary_s", "diag_multiclass_s", "vqa_s", ...values for cross-checks}
"""
import json
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def diagnosis(d):
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

    out = {}
    yb = np.fromfile(os.path.join(d, "bin_labels.i32"), dtype=np.int32)
    sb = np.fromfile(os.path.join(d, "bin_scores.f64"), dtype=np.float64).reshape(len(yb), 2)
    t = time.perf_counter()
    pred = sb.argmax(1)
    out["bin_auc"] = roc_auc_score(yb, sb[:, 1])
    out["bin_acc"] = accuracy_score(yb, pred)
    out["bin_bacc"] = balanced_accuracy_score(yb, pred)
    out["bin_f1"] = f1_score(yb, pred, average="macro")
    out["diag_binary_s"] = time.perf_counter() - t

    ym = np.fromfile(os.path.join(d, "mc_labels.i32"), dtype=np.int32)
    sm = np.fromfile(os.path.join(d, "mc_scores.f64"), dtype=np.float64).reshape(len(ym), -1)
    t = time.perf_counter()
    pred = sm.argmax(1)
    out["mc_auc_macro"] = roc_auc_score(ym, sm, multi_class="ovr", average="macro")
    out["mc_auc_weighted"] = roc_auc_score(ym, sm, multi_class="ovr", average="weighted")
    out["mc_acc"] = accuracy_score(ym, pred)
    out["mc_bacc"] = balanced_accuracy_score(ym, pred)
    out["mc_f1"] = f1_score(ym, pred, average="macro")
    out["diag_multiclass_s"] = time.perf_counter() - t
    return out


def vqa(d):
    import nltk_env
    import text_oracle as ref

    nltk_env.setup(os.path.join(d, "nltk_data"))
    from nltk.translate.bleu_score import sentence_bleu
    from nltk.translate.meteor_score import meteor_score

    rows = [json.loads(line) for line in open(os.path.join(d, "vqa.jsonl"), encoding="utf-8")]
    warnings.simplefilter("ignore")
    t = time.perf_counter()
    acc_open = acc_closed = n_open = n_closed = 0
    for r in rows:
        out_l, ans_l = r["prediction"].lower(), r["answer"].lower()
        f1, p, rc = ref.prf(out_l, ans_l)
        em = ref.exact_ratio(out_l, ans_l)
        if r["question_type"] == "open":
            on, an = ref.normalize(out_l), ref.normalize(ans_l)
            ot, at = on.split(), an.split()
            for n in range(1, 5):
                sentence_bleu([at], ot, weights=tuple([1.0 / n] * n))
            pt, tt = ref.rouge_tokens(on), ref.rouge_tokens(an)
            ref.rouge_n(pt, tt, 1), ref.rouge_n(pt, tt, 2), ref.rouge_l(pt, tt)
            meteor_score([at], ot)
            acc_open += rc >= 0.75
            n_open += 1
        else:
            acc_closed += ans_l in out_l
            n_closed += 1
    return {"vqa_s": time.perf_counter() - t, "vqa_accuracy_open": acc_open / max(n_open, 1),
            "vqa_accuracy_closed": acc_closed / max(n_closed, 1)}


def main():
    d = sys.argv[1]
    out = diagnosis(d)
    if os.path.exists(os.path.join(d, "vqa.jsonl")):
        out.update(vqa(d))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
