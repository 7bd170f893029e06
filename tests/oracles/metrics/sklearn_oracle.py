"""scikit-learn oracle for tests/metrics/classification_parity_test.cpp.

usage: sklearn_oracle.py IN.json OUT.json [unused]
IN: {"cases": [{"kind": ..., ...}]}; OUT: {"results": [...]} one per case. A case sklearn refuses
(ValueError, e.g. one class present) returns {"error": message}.
"""
import json
import sys
import warnings

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score, roc_curve


def run(case):
    kind = case["kind"]
    y = np.asarray(case["labels"])
    if kind == "binary":
        s = np.asarray(case["scores"], dtype=float)
        fpr, tpr, thr = roc_curve(y, s)
        return {"auc": roc_auc_score(y, s), "fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": thr.tolist()}
    if kind == "ovr":
        s = np.asarray(case["scores"], dtype=float).reshape(len(y), -1)
        return {"macro": roc_auc_score(y, s, multi_class="ovr", average="macro"),
                "weighted": roc_auc_score(y, s, multi_class="ovr", average="weighted"),
                "per_class": [roc_auc_score((y == c).astype(int), s[:, c]) for c in range(s.shape[1])]}
    if kind == "multilabel":
        k = case["k"]
        Y = y.reshape(-1, k)
        s = np.asarray(case["scores"], dtype=float).reshape(-1, k)
        return {"macro": roc_auc_score(Y, s, average="macro"), "per_label": roc_auc_score(Y, s, average=None).tolist()}
    if kind == "labels":
        p = np.asarray(case["preds"])
        return {"accuracy": accuracy_score(y, p), "balanced_accuracy": balanced_accuracy_score(y, p),
                "f1_macro": f1_score(y, p, average="macro")}
    raise ValueError("unknown kind " + kind)


def main():
    warnings.simplefilter("ignore")
    data = json.load(open(sys.argv[1]))
    results = []
    for case in data["cases"]:
        try:
            results.append(run(case))
        except ValueError as e:
            results.append({"error": str(e)})
    json.dump({"results": results}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
