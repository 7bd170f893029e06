#!/usr/bin/python3
"""Python's base64, hashlib and PIL (Debian's /usr/bin/python3, python3-pil) as the oracle for
tests/backends/encoding_test.cpp and api_model_test.cpp.

usage: encoding_oracle.py b64-sha256 DIR N
         for DIR/in0 .. DIR/in<N-1>: "base64 sha256hex" per file
       encoding_oracle.py png PATH
         "format mode width height sha256(RGB bytes)" of the image PIL opens at PATH
"""
import base64
import hashlib
import sys


def b64_sha256(d, n):
    for i in range(int(n)):
        b = open(f'{d}/in{i}', 'rb').read()
        print(base64.b64encode(b).decode(), hashlib.sha256(b).hexdigest())


def png(path):
    from PIL import Image
    im = Image.open(path)
    print(im.format, im.mode, im.size[0], im.size[1], hashlib.sha256(im.convert('RGB').tobytes()).hexdigest())


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "b64-sha256":
        b64_sha256(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "png":
        png(sys.argv[2])
    else:
        sys.exit(__doc__)
