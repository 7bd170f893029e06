"""Runs a model file of a published repository that is not on PyPI (MedVLMBench's model/*.py) from a
checkout on this machine, without committing its code here.

The repository is given as a work tree (git clone) or a bare git directory; the file is read at the
checked-out commit (HEAD) and executed as a standalone module. Imports of the repository's own
framework modules that the file needs only for its wrapper classes (model.clip_base, model.lp_base,
model.lora_base: training and evaluation plumbing) are given placeholders, named in `stubbed`, so
the model code itself runs unchanged.
"""
import os
import subprocess
import sys
import types


def _git(repo, *args):
    git_dir = os.path.join(repo, ".git") if os.path.isdir(os.path.join(repo, ".git")) else repo
    return subprocess.run(["git", "--git-dir", git_dir, *args], check=True, capture_output=True,
                          text=True).stdout


def repo_file(repo, path):
    """(text of `path` at HEAD, HEAD's commit) of the repository at `repo`."""
    if not os.path.isdir(repo):
        sys.exit(f"{repo}: no such repository (clone it, or pass its path; see this generator's --help)")
    commit = _git(repo, "rev-parse", "HEAD").strip()
    return _git(repo, "show", f"{commit}:{path}"), commit


def load_module(repo, path, name, stubs):
    """Executes `path` of `repo` as module `name`. stubs: {module name: {attribute: placeholder}} for
    imports the file makes that are not under test. Returns (module, commit)."""
    source, commit = repo_file(repo, path)
    for mod_name, attrs in stubs.items():
        parent = mod_name.rsplit(".", 1)[0] if "." in mod_name else None
        if parent and parent not in sys.modules:
            sys.modules[parent] = types.ModuleType(parent)
        mod = types.ModuleType(mod_name)
        for k, v in attrs.items():
            setattr(mod, k, v)
        sys.modules[mod_name] = mod
    module = types.ModuleType(name)
    module.__file__ = f"{repo}@{commit}:{path}"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module, commit


class Placeholder:
    """Stands in for a framework base class (CLIPBase, LPModel ...) that the file subclasses."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("placeholder of a MedVLMBench framework class: not part of the model code under test")
