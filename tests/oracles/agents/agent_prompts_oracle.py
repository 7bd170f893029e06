"""Live oracle for the agent wrappers (issue 16): runs the reference's own MDAgentWrapper and
UCAgentWrapper (wrappers/mdagent.py, wrappers/ucagent.py, wrappers/agent.py of Nanboy-Ronan/MedVLMBench
@ 6a7142b, imported unmodified) over a stub backbone, and prints every call the wrapper makes (role,
attempt, prompt, temperature), its final answer and its `trace`.

The files are imported from reference/ beside this script (verbatim copies, CC0; their git blob ids
are checked below), or from a checkout of the reference when MVB_REFERENCE_REPO names one. Only
model/chat.py is replaced (by a stub ChatMetaModel): it imports openai and torchvision at module level
and holds nothing the agents use beyond the base class.

Usage: agent_prompts_oracle.py SCENARIOS.json  ->  JSON list on stdout, one entry per scenario.
A scenario: {"name", "agent": "mdagent"|"ucagent", "qs", "mode" (mdagent), "max_retry" (ucagent: the
module's MAX_RETRY, i.e. attempts per step; the reference ships 1), "script": {key: output}}.
The stub answers a call with script["<role>#<attempt>"], else script["<role>"], else "<out:role#attempt>".
Roles: MDAgent's trace names (primary_clinician, visual_examiner, ...); UCAgent's trace keys
(level1_expert1, level1_expert2, level2, level3_critic_<opt>, level3_leader, level3_rebuttal_<opt>,
level3_leader_final) and zero_shot for the fallback.
"""

import hashlib
import importlib
import inspect
import json
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE_COMMIT = "6a7142b1b28463051b5f9c716c313dffb13f462f"
BLOBS = {
    "wrappers/agent.py": "e8a1a975260b4757cc09952170f74582fed31ebf",
    "wrappers/mdagent.py": "14293673f1273e9f06d7162ac9c4d48922342a2b",
    "wrappers/ucagent.py": "702d38ace09a213425fc88c4b8cb34b8af1529ee",
    "eval/utils.py": "88f42410d3e59a8f083067e46c04338110839ab2",
}


def git_blob_id(path):
    data = open(path, "rb").read()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def load_reference():
    root = os.environ.get("MVB_REFERENCE_REPO") or os.path.join(HERE, "reference")
    if not os.environ.get("MVB_REFERENCE_REPO"):
        for rel, blob in BLOBS.items():
            got = git_blob_id(os.path.join(root, rel))
            if got != blob:
                sys.exit(f"{os.path.join(root, rel)} is not the reference's file at {REFERENCE_COMMIT} "
                         f"(git blob {got}, expected {blob}); restore it with `git show {REFERENCE_COMMIT}:{rel}`")

    # model/chat.py imports openai/torchvision; the wrappers only need its ChatMetaModel base.
    class ChatMetaModel:
        def __init__(self, args):
            self.args = args

        def set_inference_context(self, context=None):
            self._inference_context = context or {}

        def set_device(self, device):
            self.device = device

    model_pkg = types.ModuleType("model")
    model_pkg.__path__ = []
    chat = types.ModuleType("model.chat")
    chat.ChatMetaModel = ChatMetaModel
    sys.modules["model"] = model_pkg
    sys.modules["model.chat"] = chat
    # wrappers/__init__.py imports the LP/LoRA wrappers (torch, peft); load the package without it.
    for pkg in ("wrappers", "eval"):
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(root, pkg)]
        sys.modules[pkg] = m
    mdagent = importlib.import_module("wrappers.mdagent")
    ucagent = importlib.import_module("wrappers.ucagent")
    return mdagent, ucagent


# Which role a backbone call belongs to, read from the wrapper's own frames (never from the prompt).
def role_of_call(prompt):
    for frame_info in inspect.stack()[2:]:
        fn, loc = frame_info.function, frame_info.frame.f_locals
        if fn == "_query_backbone" and "role" in loc:  # MDAgentWrapper._query_backbone(role=...)
            return loc["role"].replace(" ", "_")
        if fn == "_single_expert_level1":
            return f"level1_expert{loc['expert_id'] + 1}"
        if fn == "_level2_diagnosis":
            return "level2"
        if fn == "_level3_diagnosis":
            if prompt is loc.get("leader_report_query"):
                return "level3_leader_final"
            if prompt is loc.get("rebuttal_query"):
                return f"level3_rebuttal_{loc['answer']}"
            if prompt is loc.get("leader_prompt"):
                return "level3_leader"
            return f"level3_critic_{loc['option']}"
        if fn == "infer_vision_language" and type(loc.get("self")).__name__ == "UCAgentWrapper":
            return "zero_shot"
    raise RuntimeError("backbone called from an unknown place")


class StubBackbone:
    name = "stub"
    model_type = "stub"

    def __init__(self, script):
        self.script = script
        self.calls = []
        self.attempts = {}

    # Accepts temperature, as local chat backbones do, so the wrapper's per-call temperature shows.
    def infer_vision_language(self, image, qs, image_size=None, temperature=None):
        role = role_of_call(qs)
        self.attempts[role] = self.attempts.get(role, 0) + 1
        attempt = self.attempts[role]
        self.calls.append({"role": role, "attempt": attempt, "prompt": qs, "temperature": temperature})
        key = f"{role}#{attempt}"
        if key in self.script:
            out = self.script[key]
        else:
            out = self.script.get(role, f"<out:{key}>")
        if out == "__RAISE__":  # a backbone error (API retries exhausted)
            raise RuntimeError(f"backbone failure at {key}")
        return out


def run(scenario, mdagent, ucagent):
    backbone = StubBackbone(scenario.get("script", {}))
    args = types.SimpleNamespace(model="stub", mdagent_mode=scenario.get("mode", "adaptive"))
    result = {"name": scenario["name"]}
    if scenario["agent"] == "mdagent":
        agent = mdagent.MDAgentWrapper(backbone, args)
        result["resolved_mode"] = agent._resolve_mode(scenario["qs"])
    else:
        ucagent.MAX_RETRY = scenario.get("max_retry", 1)
        agent = ucagent.UCAgentWrapper(backbone, args)
    # UCAgent prints its trace on a fallback; keep stdout for the JSON.
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        result["answer"] = agent.infer_vision_language(None, scenario["qs"])
    except Exception as e:  # the reference lets the sample fail
        result["exception"] = str(e)
    finally:
        sys.stdout = stdout
    result["calls"] = backbone.calls
    result["trace"] = agent.get_last_trace()
    return result


def main():
    scenarios = json.load(open(sys.argv[1], encoding="utf-8"))
    mdagent, ucagent = load_reference()
    out = [run(s, mdagent, ucagent) for s in scenarios]
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
