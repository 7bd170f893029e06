#!/usr/bin/python3
"""Python's csv module (the reference reads Drishti with csv.reader) as the oracle for
tests/io/csv_test.cpp; Debian's /usr/bin/python3.

usage: csv_oracle.py PATH
  prints the JSON list of PATH's non-empty rows as csv.reader reads them (utf-8-sig, newline='').
"""
import csv
import json
import sys

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: csv_oracle.py PATH")
    rows = list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8-sig')))
    print(json.dumps([x for x in rows if x]))
