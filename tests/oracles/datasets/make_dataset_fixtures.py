#!/usr/bin/python3
"""Writes a tiny instance of every dataset medvlmbench reads, in each dataset's real on-disk format
(PNG/JPEG, CSV, JSON, JSONL, npz, parquet), into tests/fixtures/datasets/ (or the folder given).

Images carry their class: class 0 / answer "no" is a dark blue disc, class 1 / "yes" a bright red
square (other classes get other hues), with a seeded jitter of position and noise, so linear probes and
fine-tuning on the fixtures can show learning. Everything is seeded: rerunning gives the same bytes
(except parquet, written by parquet-wasm through tests/oracles/io/write_parquet.mjs, which is deterministic too).

Run with Debian's python3 (numpy + PIL): /usr/bin/python3 tests/oracles/datasets/make_dataset_fixtures.py [OUT_DIR]
"""
import base64
import csv
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "fixtures", "datasets")
RNG = random.Random(1234)
SIZE = 32
HUES = [(30, 60, 200), (220, 40, 40), (40, 180, 60), (200, 160, 30), (150, 50, 170), (30, 170, 170), (120, 120, 120)]


def picture(cls, size=SIZE, gray=False):
    """A class-dependent picture: background brightness, shape and hue all follow `cls`."""
    bg = 30 if cls == 0 else 200 if cls == 1 else 60 + 20 * cls
    img = Image.new("RGB", (size, size), (bg // 2, bg // 2, bg // 2))
    d = ImageDraw.Draw(img)
    off = RNG.randint(-3, 3)
    c = HUES[cls % len(HUES)]
    lo, hi = size // 4 + off, 3 * size // 4 + off
    if cls % 2 == 0:
        d.ellipse([lo, lo, hi, hi], fill=c)
    else:
        d.rectangle([lo, lo, hi, hi], fill=c)
    a = np.asarray(img).astype(np.int16) + np.array([[[RNG.randint(-8, 8)]]], dtype=np.int16)
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    return img.convert("L") if gray else img


def save(img, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if path.lower().endswith((".jpg", ".jpeg")):
        img.save(path, quality=85)
    else:
        img.save(path, optimize=True)


def encoded(img, fmt="PNG"):
    b = io.BytesIO()
    img.save(b, fmt)
    return b.getvalue()


def write_csv(path, header, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def write_parquet(path, columns, compression="SNAPPY", version="V1", row_group_size=None):
    spec = {"out": path, "compression": compression, "version": version, "columns": columns}
    if row_group_size:
        spec["row_group_size"] = row_group_size
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        subprocess.run(["node", os.path.join(HERE, "..", "io", "write_parquet.mjs"), f.name], check=True)
    finally:
        os.unlink(f.name)


# VQA question banks: (question, answer, answer_type). "yes" pictures are class 1.
YESNO = [("Is there an abnormality?", "Yes", "CLOSED"), ("Is the lesion on the left?", "No", "CLOSED"),
         ("Is this image normal?", "no", "CLOSED"), ("Is there a mass?", "yes", "CLOSED")]
OPEN = [("What organ is shown?", "Lung", "OPEN"), ("Which side is affected?", "Left", "CLOSED"),
        ("What modality is used?", "CT", "OPEN"), ("Is this normal or abnormal?", "yes", "OPEN")]


def slake():
    root = os.path.join(OUT, "SLAKE")
    qid = 0
    for split, n in (("train", 4), ("validation", 2), ("test", 4)):
        recs = []
        for i in range(n):
            q, a, t = (YESNO + OPEN)[(i * 3 + len(split)) % 8]
            img_name = f"xmlab{qid}/source.jpg"
            save(picture(1 if a.lower() == "yes" else 0), os.path.join(root, "imgs", img_name))
            recs.append({"img_id": qid, "img_name": img_name, "question": q, "answer": a, "q_lang": "en",
                         "location": "Lung", "modality": "CT", "answer_type": t, "base_type": "vqa",
                         "content_type": "Organ", "triple": ["vhead", "_", "_"], "qid": qid})
            qid += 1
        # A Chinese question: the reference keeps English rows only.
        recs.append(dict(recs[0], question="图中有异常吗?", answer="是", q_lang="zh", qid=qid))
        qid += 1
        write_json(os.path.join(root, f"{split}.json"), recs)


def hub_vqa(name, splits, sizes):
    root = os.path.join(OUT, name, "data")
    for split in splits:
        qs, ans, imgs = [], [], []
        for i in range(sizes[split]):
            q, a, _ = (YESNO + OPEN)[(i * 5 + len(split)) % 8]
            qs.append(q)
            ans.append(a.lower())
            img = picture(1 if a.lower() == "yes" else 0)
            imgs.append({"bytes": base64.b64encode(encoded(img, "JPEG" if i % 2 else "PNG")).decode(),
                         "path": f"{split}_{i}.png"})
        write_parquet(os.path.join(root, f"{split}-00000-of-00001-fixture.parquet"),
                      [{"name": "image", "type": "image", "values": imgs},
                       {"name": "question", "type": "utf8", "values": qs},
                       {"name": "answer", "type": "utf8", "values": ans}],
                      row_group_size=3)


def vqa_rad_original():
    root = os.path.join(OUT, "VQA-RAD-original")
    recs = []
    for i in range(6):
        q, a, t = (YESNO + OPEN)[i]
        img_name = f"synpic{100 + i}.jpg"
        save(picture(1 if a.lower() == "yes" else 0), os.path.join(root, "VQA_RAD Image Folder", img_name))
        recs.append({"qid": 1000 + i, "phrase_type": "test_freeform" if i >= 4 else "freeform", "image_name": img_name,
                     "image_organ": "CHEST", "question": q, "answer": a, "answer_type": t, "question_type": "PRES"})
    # As in the public release: a repeated train triplet and a train triplet that is also in test; the hub
    # copy drops both from train.
    recs.append(dict(recs[0], qid=1006))
    recs.append(dict(recs[4], qid=1007, phrase_type="freeform"))
    write_json(os.path.join(root, "VQA_RAD Dataset Public.json"), recs)


def pathvqa_original():
    """PathVQA's own release: pvqa/qas/{split}/{split}_qa.pkl + pvqa/images/{split}/{image}.jpg."""
    import pickle
    root = os.path.join(OUT, "PathVQA-original", "pvqa")
    for split, n in (("train", 3), ("val", 2), ("test", 3)):
        recs = []
        for i in range(n):
            q, a, _ = (YESNO + OPEN)[(i * 3 + len(split)) % 8]
            name = f"{split}_{i:04d}"
            save(picture(1 if a.lower() == "yes" else 0), os.path.join(root, "images", split, name + ".jpg"))
            recs.append({"image": name, "question": q, "answer": a.lower()})
        os.makedirs(os.path.join(root, "qas", split), exist_ok=True)
        with open(os.path.join(root, "qas", split, f"{split}_qa.pkl"), "wb") as f:
            pickle.dump(recs, f, protocol=4)


def fairvlmed():
    root = os.path.join(OUT, "FairVLMed10k")
    k = 0
    for split in ("train", "validation", "test"):
        vqa_rows, cap_rows, diag_rows = [], [], []
        for i in range(3):
            cls = (i + len(split)) % 2
            fname = f"data_{k:05d}.npz"
            arr = np.asarray(picture(cls, gray=True))
            os.makedirs(os.path.join(root, "data"), exist_ok=True)
            np.savez_compressed(os.path.join(root, "data", fname), slo_fundus=arr, glaucoma=np.array(cls),
                                note=np.array(f"note {k}"))
            note = "glaucoma suspect with cupping" if cls else "healthy optic disc"
            summary = ("The fundus shows glaucomatous cupping." if cls else "The fundus appears normal.")
            rel = f"data/{fname}"
            vqa_rows.append([summary, fname, rel, "OPEN", "What does the optic disc show?", summary])
            vqa_rows.append([summary, fname, rel, "CLOSED", "Is there glaucoma?", "Yes" if cls else "No"])
            cap_rows.append([fname, rel, note, summary])
            diag_png = f"images/slo_{k:05d}.png"
            save(picture(cls), os.path.join(root, "FairVLMed10k", diag_png))
            diag_rows.append([fname, diag_png, "yes" if cls else "no"])
            k += 1
        if split == "train":  # a row with an empty answer: the reference's dropna() removes it
            vqa_rows.append(["x", "data_00000.npz", "data/data_00000.npz", "OPEN", "What is seen?", ""])
        write_csv(os.path.join(root, f"vqa_{split}.csv"),
                  ["gpt_summary", "filename", "image_path", "question type", "question", "answer"], vqa_rows)
        write_csv(os.path.join(root, f"caption_{split}.csv"), ["filename", "image_path", "note", "gpt_summary"],
                  cap_rows)
        write_csv(os.path.join(root, "FairVLMed10k", "split", f"{split}.csv"), ["filename", "path", "glaucoma"],
                  diag_rows)


def medxpertqa():
    root = os.path.join(OUT, "MedXpertQA")
    letters = "ABCDE"
    recs = []
    for i in range(6):
        cls = i % 2
        answer = letters[(i * 2) % 5]
        opts = {l: f"Option text {l}{i}" for l in letters}
        opts[answer] = "Glaucoma" if cls else "Normal"
        imgs = []
        for j in range(1 + i % 2):  # every other question has two images
            f = f"MM-{i}-{'ab'[j]}.jpeg"
            save(picture(cls), os.path.join(root, "images", f))
            imgs.append(f)
        choices = " ".join(f"({l}) {opts[l]}" for l in letters)
        recs.append({"id": f"MM-{i}", "question": f"  What is the diagnosis in case {i}? Answer Choices: {choices} ",
                     "options": opts, "label": answer, "images": imgs, "medical_task": "Diagnosis",
                     "body_system": "Nervous", "question_type": "Reasoning"})
    os.makedirs(os.path.join(root, "MM"), exist_ok=True)
    for name, part in (("cus_train_fold0", recs[:3]), ("cus_test_fold0", recs[3:]), ("test", recs)):
        with open(os.path.join(root, "MM", f"{name}.jsonl"), "w") as f:
            for r in part:
                f.write(json.dumps(r) + "\n")


def omnimedvqa():
    # Nested one level (OmniMedVQA/OmniMedVQA/...), which the reference also accepts.
    root = os.path.join(OUT, "OmniMedVQA", "OmniMedVQA")
    open_recs, train_ids, test_ids = [], [], []
    for i in range(6):
        cls = i % 2
        gt = "Pneumonia" if cls else "Normal"
        img = f"Images/SetA/img_{i}.png"
        save(picture(cls), os.path.join(root, img))
        rec = {"question_id": f"SetA_{i:04d}", "dataset": "SetA", "question_type": "Disease Diagnosis",
               "question": f" What abnormality is seen in image {i}? ", "gt_answer": gt, "image_path": img,
               "modality_type": "X-Ray", "option_A": "Normal", "option_B": "Pneumonia"}
        if i >= 2:
            rec.update(option_C="Fracture", option_D="Effusion")
        if i == 5:
            rec["gt_answer"] = "pneumonia "  # case and space differ from the option text: still letter B
        open_recs.append(rec)
        (train_ids if i < 3 else test_ids).append(rec)
    # A record whose answer is not among the options: the label stays the raw text.
    open_recs.append({"question_id": "SetA_0099", "dataset": "SetA", "question_type": "Counting",
                      "question": "How many nodules?", "gt_answer": "Three", "image_path": "Images/SetA/img_0.png",
                      "option_A": "One", "option_B": "Two"})
    test_ids.append(open_recs[-1])
    write_json(os.path.join(root, "QA_information", "Open-access", "SetA.json"), open_recs)
    # Restricted-access record without its image: dropped, as in the reference.
    write_json(os.path.join(root, "QA_information", "Restricted-access", "SetB.json"),
               [{"question_id": "SetB_0000", "dataset": "SetB", "question": "Q?", "gt_answer": "A",
                 "image_path": "Images/SetB/missing.png", "option_A": "A", "option_B": "B"}])
    for name, recs in (("train", train_ids), ("test", test_ids)):
        with open(os.path.join(root, f"omnimedvqa_{name}_index.jsonl"), "w") as f:
            for r in recs:
                f.write(json.dumps({"question_id": r["question_id"], "dataset": r["dataset"],
                                    "image_path": r["image_path"], "access_type": "Open-access"}) + "\n")


def mimic():
    root = os.path.join(OUT, "MIMIC_CXR")
    ann = {}
    k = 0
    for split, n in (("train", 3), ("val", 2), ("test", 3)):
        items = []
        for i in range(n):
            cls = (i + k) % 2
            paths = [f"p10/p1000{k}/s5{k}/{j}.jpg" for j in range(2)]
            for p in paths:
                save(picture(cls, gray=True), os.path.join(root, "images", p))
            report = ("Right lower lobe consolidation consistent with pneumonia." if cls else
                      "The lungs are clear. No pleural effusion or pneumothorax.")
            items.append({"id": f"study{k}", "study_id": 50000 + k, "subject_id": 10000 + k, "report": report,
                          "image_path": paths, "split": split})
            k += 1
        ann[split] = items
    write_json(os.path.join(root, "annotation.json"), ann)


def medmnist(folder, flag, classes, channels, size, suffix):
    root = os.path.join(OUT, folder)
    os.makedirs(root, exist_ok=True)
    arrays = {}
    for split, per_class in (("train", 2), ("val", 1), ("test", 1)):
        imgs, labels = [], []
        for c in range(classes):
            for _ in range(per_class):
                imgs.append(np.asarray(picture(c, size=size, gray=channels == 1)))
                labels.append([c])
        arrays[f"{split}_images"] = np.stack(imgs).astype(np.uint8)
        arrays[f"{split}_labels"] = np.array(labels, dtype=np.uint8)
    np.savez_compressed(os.path.join(root, f"{flag}{suffix}.npz"), **arrays)


def camelyon17():
    root = os.path.join(OUT, "Camelyon17")
    for name, n, base in (("sample3680_train_metadata.csv", 4, 0), ("sample920_test_metadata.csv", 4, 10)):
        rows = []
        for i in range(n):
            patient, node, x, y, tumor = 4 + (i % 2) * 6, i % 2, 3328 + 32 * (base + i), 21792 + 32 * i, i % 2
            rows.append([base + i, patient, node, x, y, tumor, 0, "train" if base == 0 else "test"])
            d = f"patient_{patient:03d}_node_{node}"
            save(picture(tumor), os.path.join(root, "patches", d, f"patch_{d}_x_{x}_y_{y}.png"))
        write_csv(os.path.join(root, name), ["", "patient", "node", "x_coord", "y_coord", "tumor", "center", "split"],
                  rows)


def ham10000():
    root = os.path.join(OUT, "HAM10000", "HAM10000")
    dxs = ["nv", "mel", "bkl", "akiec", "bcc", "df"]
    k = 0
    for split, n in (("train", 6), ("val", 2), ("test", 4)):
        rows = []
        for i in range(n):
            dx = dxs[i % len(dxs)] if split == "train" else ["nv", "mel"][i % 2]
            image_id = f"ISIC_{24306 + k:07d}"
            save(picture(1 if dx in ("akiec", "mel") else 0), os.path.join(root, "HAM10000_images", image_id + ".jpg"))
            rows.append([f"HAM_{k:07d}", image_id, dx, "histo", 45.0, "male", "back"])
            k += 1
        write_csv(os.path.join(root, "split", f"{split}.csv"),
                  ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"], rows)


def chexpert():
    root = os.path.join(OUT, "CheXpert")
    header = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", "No Finding", "Cardiomegaly", "Lung Opacity"]
    for name, split_dir, values in (("train.csv", "train", ["1.0", "", "-1.0", "0.0", "1.0"]),
                                    ("valid.csv", "valid", ["1.0", "0.0", "", "1.0"])):
        rows = []
        for i, v in enumerate(values):
            rel = f"CheXpert-v1.0-small/{split_dir}/patient{i + 1:05d}/study1/view1_frontal.jpg"
            save(picture(1 if v == "1.0" else 0, gray=True), os.path.join(root, rel))
            rows.append([rel, "Female", 60 + i, "Frontal", "AP", v, "", "1.0"])
        write_csv(os.path.join(root, "CheXpert-v1.0-small", name), header, rows)


def gf3300():
    root = os.path.join(OUT, "GF3300", "GF3300")
    k = 0
    for split, n in (("train", 4), ("val", 2), ("test", 2)):
        rows = []
        for i in range(n):
            g = i % 2
            # RNFLT in micrometres (-2..350): glaucomatous maps are thinner.
            base = np.asarray(picture(g, gray=True), dtype=np.float32)
            rnflt = (base / 255.0 * (120.0 if g else 300.0) - 2.0).astype(np.float32)
            rel = f"data_{k:04d}.npz"
            os.makedirs(os.path.join(root, "data"), exist_ok=True)
            np.savez_compressed(os.path.join(root, "data", rel), rnflt=rnflt, age=np.array(60.0 + k))
            rows.append([rel, "yes" if g else "no", 60 + k, "female"])
            k += 1
        write_csv(os.path.join(root, "split", f"{split}.csv"), ["path", "glaucoma", "age", "gender"], rows)


def papila():
    root = os.path.join(OUT, "PAPILA", "PAPILA")
    k = 0
    for split, n in (("train", 4), ("val", 2), ("test", 2)):
        rows = []
        for i in range(n):
            d = i % 2
            name = f"RET{k + 2:03d}{'OD' if i % 2 else 'OS'}.jpg"
            save(picture(d), os.path.join(root, "data", "FundusImages", name))
            rows.append([k, name, d, 60 + k])
            k += 1
        write_csv(os.path.join(root, "split", f"new_{split}.csv"), ["", "Path", "Diagnosis", "Age"], rows)


def drishti():
    base = os.path.join(OUT, "Drishti", "Drishti-GS1_files", "Drishti-GS1_files")
    rows = []
    k = 1
    for folder, n in (("Training", 4), ("Test", 3)):
        for i in range(n):
            label = "Glaucomatous" if i % 2 else "Normal"
            name = f"drishtiGS_{k:03d}"
            save(picture(1 if label == "Glaucomatous" else 0), os.path.join(base, folder, "Images", name + ".png"))
            # The published sheet's first column ends with an extra character (hence the reference's [:-1]).
            rows.append([name + "'", label, label, label, label, ""])
            k += 1
    write_csv(os.path.join(base, "Drishti-GS1_diagnosis.csv"),
              ["Drishti-GS1 File", "Expert 1", "Expert 2", "Expert 3", "Total", ""], rows)


def chestxray():
    root = os.path.join(OUT, "ChestXray")
    for split, n in (("train", 2), ("val", 1), ("test", 2)):
        for label, folder in ((0, "NORMAL"), (1, "PNEUMONIA")):
            for i in range(n):
                save(picture(label, gray=True), os.path.join(root, split, folder, f"{folder.lower()}_{split}_{i}.jpeg"))


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    slake()
    hub_vqa("PathVQA", ("train", "validation", "test"), {"train": 5, "validation": 2, "test": 4})
    hub_vqa("VQA-RAD", ("train", "test"), {"train": 5, "test": 4})
    vqa_rad_original()
    pathvqa_original()
    fairvlmed()
    medxpertqa()
    omnimedvqa()
    mimic()
    medmnist("PneumoniaMNIST", "pneumoniamnist", 2, 1, 224, "_224")
    medmnist("BreastMNIST", "breastmnist", 2, 1, 28, "_64")
    medmnist("DermaMNIST", "dermamnist", 7, 3, 28, "")
    camelyon17()
    ham10000()
    chexpert()
    gf3300()
    papila()
    drishti()
    chestxray()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
