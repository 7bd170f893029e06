"""Reads report.html back with a real XML parser (xml.etree.ElementTree) and prints JSON:
  cells:  every element with a data-value attribute: {meter, value (float of data-value), text (its
          displayed text), run, dataset, row, ci_low, ci_high, best (class has "best")}
  svgs:   for each <svg>: {root tag, number of elements}; each is also serialised alone and parsed again
          as a standalone XML document (what an image viewer would get)
  imgs:   number of <img> with a data: URI, and of any other src (must be 0: the file is self-contained)
  scripts: number of <script> elements (must be 0)
  duplicate_ids, dangling_links: ids used twice, and href="#x" with no element of id x (both must be empty)
Usage: read_report_html.py report.html
"""
import json
import sys
import xml.etree.ElementTree as ET

XHTML = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"


def text_of(el):
    return "".join(el.itertext())


def main():
    tree = ET.parse(sys.argv[1])
    cells, svgs = [], []
    data_imgs = other_src = scripts = 0
    ids, links = {}, set()
    for el in tree.iter():
        if el.get("id") is not None:
            ids[el.get("id")] = ids.get(el.get("id"), 0) + 1
        if el.get("href", "").startswith("#"):
            links.add(el.get("href")[1:])
        if el.tag == XHTML + "script":
            scripts += 1
        if el.tag == XHTML + "img":
            if el.get("src", "").startswith("data:image/"):
                data_imgs += 1
            else:
                other_src += 1
        if el.tag == XHTML + "link" or (el.tag.startswith(SVG) and el.get("href")):
            other_src += 1
        if el.tag == SVG + "svg":
            standalone = ET.fromstring(ET.tostring(el))
            svgs.append({"tag": standalone.tag, "elements": sum(1 for _ in standalone.iter()),
                         "class": el.get("class", "")})
        if el.get("data-value") is not None:
            # The displayed number: the first text of the cell (a link in leaderboards), before the CI.
            link = el.find(XHTML + "a")
            shown = (link.text if link is not None else el.text) or ""
            cells.append({
                "meter": el.get("data-meter"),
                "value": float(el.get("data-value")),
                "text": shown.strip(),
                "run": el.get("data-run"),
                "dataset": el.get("data-dataset"),
                "row": el.get("data-row"),
                "ci_low": float(el.get("data-ci-low")) if el.get("data-ci-low") else None,
                "ci_high": float(el.get("data-ci-high")) if el.get("data-ci-high") else None,
                "best": "best" in (el.get("class") or "").split(),
            })
    print(json.dumps({"cells": cells, "svgs": svgs, "data_imgs": data_imgs, "other_src": other_src,
                      "scripts": scripts, "duplicate_ids": sorted(k for k, v in ids.items() if v > 1),
                      "dangling_links": sorted(links - set(ids))}))


if __name__ == "__main__":
    main()
