"""Writes the seed corpus of the fuzz harnesses (fuzz/corpus/<reader>/), deterministic and tiny.

Seeds are small valid files of each format, written by the format's own library (safetensors, torch,
numpy, pyarrow, tokenizers) so they reach deep into our readers, plus a few hand-made edge cases.
Regression inputs that once crashed a reader are named regress-*; this script never deletes them.
Run: .venv/bin/python fuzz/corpus/make_corpus.py
"""

import io
import json
import os
import struct
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from safetensors.torch import save as st_save

HERE = os.path.dirname(os.path.abspath(__file__))


def put(reader, name, data):
    d = os.path.join(HERE, reader)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors_seeds():
    torch.manual_seed(0)
    put("safetensors", "f32_bf16_i64.safetensors",
        st_save({"a": torch.randn(2, 3), "b": torch.ones(4, dtype=torch.bfloat16),
                 "c": torch.arange(3, dtype=torch.int64)}, metadata={"format": "pt"}))
    put("safetensors", "f16_u8_bool_empty.safetensors",
        st_save({"h": torch.randn(1, 2).half(), "u": torch.tensor([1, 2], dtype=torch.uint8),
                 "m": torch.tensor([True, False]), "z": torch.zeros(0, 3)}))
    put("safetensors", "scalar.safetensors", st_save({"s": torch.tensor(3.5)}))
    hdr = b'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    put("safetensors", "hand_min.safetensors", struct.pack("<Q", len(hdr)) + hdr + b"\0" * 8)
    hdr = b'{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
    put("safetensors", "hand_truncated.safetensors", struct.pack("<Q", len(hdr)) + hdr + b"\0" * 8)
    put("safetensors", "hand_huge_header_len.safetensors", struct.pack("<Q", 2**63) + b"{}")


def torch_seeds():
    torch.manual_seed(0)
    sd = {"w": torch.randn(2, 2), "b": torch.arange(3, dtype=torch.int32),
          "v": torch.randn(4, 4)[1:, ::2], "h": torch.ones(2, dtype=torch.float16)}
    buf = io.BytesIO()
    torch.save(sd, buf)
    put("torch_checkpoint", "zip_state_dict.bin", buf.getvalue())
    buf = io.BytesIO()
    torch.save({"state_dict": {"x": torch.zeros(1)}, "epoch": 3, "note": "hi"}, buf,
               _use_new_zipfile_serialization=False)
    put("torch_checkpoint", "legacy_nested.bin", buf.getvalue())
    put("torch_checkpoint", "hand_not_zip.bin", b"PK\x03\x04garbage")
    # The pickles alone (data.pkl of a zip checkpoint) for the in-memory unpickler.
    for name in ("zip_state_dict.bin",):
        with zipfile.ZipFile(os.path.join(HERE, "torch_checkpoint", name)) as z:
            pkl = [n for n in z.namelist() if n.endswith("data.pkl")][0]
            put("torch_pickle", "state_dict.pkl", z.read(pkl))
    import pickle
    put("torch_pickle", "plain_values.pkl",
        pickle.dumps({"a": [1, 2.5, None, True, "s", b"b", (1, 2)], "big": 2**70, "neg": -5}, protocol=2))
    put("torch_pickle", "proto4.pkl", pickle.dumps([{"k": "v" * 40}] * 3, protocol=4))
    put("torch_pickle", "hand_os_system.pkl", b"cos\nsystem\n(S'echo hi'\ntR.")
    put("torch_pickle", "hand_empty_stack.pkl", b"\x80\x02t.")


def parquet_seeds():
    t = pa.table({"question": ["is it?", None, "what"], "n": pa.array([1, None, 3], pa.int64()),
                  "f": pa.array([0.5, 1.5, None], pa.float32()), "ok": [True, False, None],
                  "image": [{"bytes": b"\x89PNG", "path": "a.png"}, None, {"bytes": None, "path": "c"}]})
    for codec in ("NONE", "SNAPPY", "GZIP", "ZSTD"):
        b = io.BytesIO()
        pq.write_table(t, b, compression=codec, row_group_size=2)
        put("parquet", f"mixed_{codec.lower()}.parquet", b.getvalue())
    b = io.BytesIO()
    pq.write_table(t.select(["question", "n", "f"]), b, use_dictionary=False, data_page_version="2.0",
                   column_encoding={"n": "DELTA_BINARY_PACKED", "f": "BYTE_STREAM_SPLIT",
                                    "question": "DELTA_BYTE_ARRAY"}, compression="NONE")
    put("parquet", "v2_delta_bss.parquet", b.getvalue())
    put("parquet", "hand_magic_only.parquet", b"PAR1PAR1")


def npz_seeds():
    b = io.BytesIO()
    np.save(b, np.arange(6, dtype="<i4").reshape(2, 3))
    put("npz", "i4.npy", b.getvalue())
    b = io.BytesIO()
    np.save(b, np.asfortranarray(np.arange(6, dtype=">f8").reshape(2, 3)))
    put("npz", "f8_be_fortran.npy", b.getvalue())
    b = io.BytesIO()
    np.save(b, np.array(True))
    put("npz", "bool_scalar.npy", b.getvalue())
    b = io.BytesIO()
    np.savez(b, img=np.zeros((2, 2, 3), np.uint8), label=np.array([1], np.int64))
    put("npz", "stored.npz", b.getvalue())
    b = io.BytesIO()
    np.savez_compressed(b, x=np.linspace(0, 1, 5).astype(np.float16))
    put("npz", "deflated.npz", b.getvalue())
    put("npz", "hand_object.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
        + b" " * 57 + b"\n")


def csv_seeds():
    put("csv", "simple.csv", "id,label,path\n1,0,a.png\n2,1,b.png\n")
    put("csv", "quoted_crlf_bom.csv", '\ufeff"a","b,c"\r\n"x ""y""","multi\nline"\r\n,NA\r\n')
    put("csv", "ragged.csv", "a,b\n1\n1,2,3\n\n")
    put("csv", "unterminated.csv", 'a,b\n"open,1\n')


def json_seeds():
    put("json", "rows.jsonl", '{"id": 1, "pred": "yes"}\n{"id": 2, "pred": "n\\u00f6"}\n')
    put("json", "torn_tail.jsonl", '{"id": 1}\n{"id": 2, "pr')
    put("json", "garbled_last.jsonl", '{"id": 1}\n{oops}\n  \n')
    put("json", "corrupt_middle.jsonl", '{"id": 1}\nnot json\n{"id": 3}\n')
    put("json", "config.json", json.dumps({"a": [1, 2.5e300, None], "b": {"c": "\u00e9"}}))


def tokenizer_seeds():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, decoders, processors

    def tj(tok):
        return b"\x00" + tok.to_str().encode()

    bpe = Tokenizer(models.BPE(vocab={"<unk>": 0, "h": 1, "e": 2, "l": 3, "o": 4, "he": 5, "ll": 6, "Ġ": 7},
                               merges=[("h", "e"), ("l", "l")], unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.add_special_tokens(["<|im_start|>"])
    put("tokenizer", "bpe_bytelevel.json", tj(bpe))
    wp = Tokenizer(models.WordPiece(vocab={"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "hello": 3, "##lo": 4, "hel": 5},
                                    unk_token="[UNK]"))
    wp.normalizer = normalizers.BertNormalizer(lowercase=True)
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                      special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    wp.decoder = decoders.WordPiece()
    put("tokenizer", "wordpiece_template.json", tj(wp))
    uni = Tokenizer(models.Unigram([("<unk>", 0.0), ("▁", -1.0), ("h", -2.0), ("ello", -1.5), ("o", -3.0)], 0,
                                   byte_fallback=False))
    uni.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(" ", "▁")])
    uni.pre_tokenizer = pre_tokenizers.Metaspace()
    uni.decoder = decoders.Metaspace()
    put("tokenizer", "unigram_metaspace.json", tj(uni))
    split = Tokenizer(models.WordLevel(vocab={"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    split.pre_tokenizer = pre_tokenizers.Split(pattern=__import__("tokenizers").Regex(r"\p{L}+|\d{1,3}"),
                                               behavior="isolated")
    put("tokenizer", "wordlevel_regex_split.json", tj(split))
    put("tokenizer", "vocab_txt", b"\x01[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##lo\nworld\n!\n")
    put("tokenizer", "clip_bpe", b"\x02" + json.dumps(
        {"<|startoftext|>": 0, "<|endoftext|>": 1, "h": 2, "e": 3, "he</w>": 4, "he": 5, "l</w>": 6}).encode()
        + b"\n#merges\n#version: 0.2\nh e\n")
    put("tokenizer", "folder_config", b"\x03" + json.dumps(
        {"add_bos_token": True, "bos_token": "<unk>", "eos_token": {"content": "<unk>"}, "padding_side": "left",
         "model_max_length": 8, "chat_template": "{{ x }}"}).encode())


if __name__ == "__main__":
    safetensors_seeds()
    torch_seeds()
    parquet_seeds()
    npz_seeds()
    csv_seeds()
    json_seeds()
    tokenizer_seeds()
