#!/usr/bin/python3
"""Debian's python3-sentencepiece (/usr/bin/python3) as the oracle for
tests/text/sentencepiece_test.cpp.

usage: sentencepiece_oracle.py encode MODEL TEXTS.json
         prints {"size": piece count, "bos": bos id, "results": [{"ids", "decoded"}, ...]} for each text
       sentencepiece_oracle.py siglip MODEL TEXTS.json
         prints, per text, transformers' SiglipTokenizer ids: canonicalize_text (lowercase, strip
         punctuation, collapse whitespace), then SentencePiece, then EOS
"""
import json
import re
import string
import sys

import sentencepiece as spm


def encode(sp, texts):
    out = []
    for t in texts:
        ids = sp.encode(t)
        out.append({'ids': ids, 'decoded': sp.decode(ids)})
    print(json.dumps({'size': sp.get_piece_size(), 'bos': sp.bos_id(), 'results': out}))


def canon(t):  # transformers' SiglipTokenizer.canonicalize_text, verbatim in behaviour
    t = t.lower()  # do_lower_case, true by default
    t = t.translate(str.maketrans('', '', string.punctuation))
    return re.sub(r'\s+', ' ', t).strip()


def siglip(sp, texts):
    print(json.dumps([sp.encode(canon(t)) + [sp.eos_id()] for t in texts]))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("encode", "siglip"):
        sys.exit("usage: sentencepiece_oracle.py {encode,siglip} MODEL TEXTS.json")
    sp = spm.SentencePieceProcessor(model_file=sys.argv[2])
    texts = json.load(open(sys.argv[3], encoding='utf-8'))
    (encode if sys.argv[1] == "encode" else siglip)(sp, texts)
