"""Writes tests/cli/reference_flags.txt: every flag name the reference's command lines can use.

Sources (nothing is hand-typed):
- run_eval.py: the `parser.add_argument("--name", ...)` calls of collect_args (argparse), read with ast.
- run_train.py: `transformers.HfArgumentParser((Arguments,))` built from the reference's own `Arguments`
  dataclass (a transformers.TrainingArguments subclass; its class body is taken from the source with ast
  and executed against the installed transformers), so the list holds exactly the option strings the
  reference's parser accepts: every field as --name, HfArgumentParser's --no_name for booleans that
  default to True. HfArgumentParser also accepts --name-with-dashes aliases; those are not listed, since
  medvlmbench train maps any --a-b to --a_b before parsing (tested separately).
- Both transformers versions: the reference's pin (4.53.1, importable with
  PYTHONPATH=.venv/reference-tokenizers) and the oracle environment's (5.23.0). A flag of either is
  listed, with the versions that have it.
- REFERENCE.md (optional, --reference_md): every run_eval / run_train name it mentions must be in the
  list, or this script fails (so the notes and the source cannot drift apart unnoticed).

Usage (the reference repository as a git directory, e.g. from `git clone
https://github.com/Nanboy-Ronan/MedVLMBench`; its HEAD at 6a7142b was used):
  .venv/bin/python tests/oracles/cli/make_reference_flags.py --reference_repo PATH/MedVLMBench \
      [--reference_md PATH/REFERENCE.md] [--out tests/cli/reference_flags.txt]
"""

import argparse
import ast
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


def git_show(repo, path):
    return subprocess.run(["git", "-C", repo, "show", "HEAD:" + path], check=True, capture_output=True,
                          text=True).stdout


def git_head(repo):
    return subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def eval_flags(source):
    """Option strings of every add_argument call in run_eval.py."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            for a in node.args:
                if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("--"):
                    out.append(a.value[2:])
    return out


def train_flags_here(source):
    """Option strings of HfArgumentParser((Arguments,)) under the transformers importable now."""
    import dataclasses
    import typing

    import transformers

    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Arguments")
    # The class body only needs transformers, dataclasses and typing names (see run_train.py's imports).
    ns = {"transformers": transformers, "dataclass": dataclasses.dataclass, "field": dataclasses.field}
    ns.update({k: getattr(typing, k) for k in ("Dict", "Optional", "Sequence", "List")})
    code = "@dataclass\n" + ast.get_source_segment(source, cls)
    exec(compile(code, "run_train.py:Arguments", "exec"), ns)
    parser = transformers.HfArgumentParser((ns["Arguments"],))
    own = {f.name for f in dataclasses.fields(ns["Arguments"])} - {
        f.name for f in dataclasses.fields(transformers.TrainingArguments)}
    # Fields the reference redefines are its own too (optim, learning_rate, num_train_epochs, ...).
    redefined = {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    names = []
    for action in parser._actions:
        for s in action.option_strings:
            if s.startswith("--") and "-" not in s[2:] and s != "--help":
                names.append(s[2:])
    return {"transformers": transformers.__version__, "flags": names, "own": sorted(own | redefined)}


def reference_md_names(path):
    """run_eval / run_train names REFERENCE.md §1 mentions: `--name` in the run_eval bullets, and the
    'name default ;' list of run_train's custom fields."""
    text = open(path, encoding="utf-8").read()
    sec = text[text.index("`run_eval.py`"):text.index("Registries (utils/constants.py)")]
    eval_part, train_part = sec.split("`run_train.py`", 1)
    eval_names = set(re.findall(r"`--([a-z_0-9]+)`", eval_part))
    fields = train_part[train_part.index("Custom fields and defaults:"):train_part.index("- Output dir")]
    train_names = set()
    for item in re.split(r";|\.\s|\n- ", fields.split(":", 1)[1]):
        m = re.match(r"\s*-?\s*([a-z_0-9]+)\b", item)
        if m:
            train_names.add(m.group(1))
    return eval_names, train_names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference_repo", help="git directory of the reference (MedVLMBench)")
    ap.add_argument("--reference_md", default=None)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "cli", "reference_flags.txt"))
    ap.add_argument("--child", help=argparse.SUPPRESS)  # run_train.py path: print this interpreter's flags
    a = ap.parse_args()
    if a.child:
        print(json.dumps(train_flags_here(open(a.child, encoding="utf-8").read())))
        return

    eval_src = git_show(a.reference_repo, "run_eval.py")
    train_src = git_show(a.reference_repo, "run_train.py")
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "mvb_reference_run_train.py")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(train_src)
    per_version = []
    ref_path = os.path.join(ROOT, ".venv", "reference-tokenizers")
    for extra in (ref_path, None):
        env = dict(os.environ)
        if extra:
            env["PYTHONPATH"] = extra + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        r = subprocess.run([sys.executable, __file__, "--child", tmp], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("listing TrainingArguments failed" + (" with " + extra if extra else "") + ":\n" + r.stderr)
        per_version.append(json.loads(r.stdout.strip().splitlines()[-1]))
    versions = [v["transformers"] for v in per_version]
    if len(set(versions)) != 2:
        sys.exit("expected two transformers versions (the reference's 4.53.1 under .venv/reference-tokenizers and "
                 "the oracle environment's), got " + ", ".join(versions))

    own = set().union(*(v["own"] for v in per_version))
    train = {}
    for v in per_version:
        for n in v["flags"]:
            train.setdefault(n, []).append(v["transformers"])
    ev = eval_flags(eval_src)

    if a.reference_md:
        md_eval, md_train = reference_md_names(a.reference_md)
        missing = sorted((md_eval - set(ev))) + sorted(md_train - set(train))
        if missing:
            sys.exit("REFERENCE.md names flags the reference's source does not have: " + ", ".join(missing))

    lines = [
        "# Every flag the reference's command lines may use. Generated by tests/oracles/cli/make_reference_flags.py",
        "# from %s run_eval.py / run_train.py (HfArgumentParser over its Arguments dataclass) under transformers %s;"
        % (git_head(a.reference_repo), " and ".join(versions)),
        "# do not edit. Columns: command flag source (run_eval.py | run_train.py | TrainingArguments@versions).",
    ]
    for n in ev:
        lines.append("eval %s run_eval.py" % n)
    for n in sorted(train):
        base = n[3:] if n.startswith("no_") and n not in own and n[3:] in train else n
        src = "run_train.py" if base in own else "TrainingArguments@" + ",".join(sorted(train[n]))
        lines.append("train %s %s" % (n, src))
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d eval and %d train flags to %s" % (len(ev), len(train), a.out))


if __name__ == "__main__":
    main()
