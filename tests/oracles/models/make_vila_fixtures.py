#!/usr/bin/env python3
"""Tiny VILA1.5 / VILA-M3 checkpoints in the published VILA layout, run by the reference's vendored VILA
code (ubc-tea/MedVLMBench model/release/vila, see vila_reference.py for what was shimmed to run it on
a CPU in fp32), with the outputs tests/models/vila_test.cpp compares against.

  tests/fixtures/models/vila/base/      the Efficient-Large-Model/Llama-3-VILA1.5-8B layout:
      config.json        LlavaLlamaConfig (llava_llama) with llm_cfg / vision_tower_cfg / mm_projector_cfg
                         dicts, cls_patch features of layer -2, image_aspect_ratio resize, resume_path
      llm/               LlamaForCausalLM.save_pretrained (GQA, rope theta 5e5 with llama3 rope_scaling)
                         + a tiny Llama-3-style byte-level BPE tokenizer (tokenizer.json: <|begin_of_text|>
                         added by the post-processor, <|eot_id|>, Meta-Llama-3-Instruct's chat template)
      vision_tower/      SiglipVisionModel.save_pretrained + SiglipImageProcessor (42 px, patch 6: a 7 x 7
                         grid, odd like so400m's 27 x 27, so the projector's zero padding is exercised)
      mm_projector/      the vendored MultimodalProjector("mlp_downsample").save_pretrained
  tests/fixtures/models/vila/lora/      a LoRA run's output folder as the reference's VILA.save writes it
      (PeftModel.save_pretrained: adapter_config.json + adapter_model.safetensors on llm q/v projections and
      one SigLIP layer; non_lora_trainables.bin holding the tuned projector under the names
      get_peft_state_non_lora_maybe_zero_3 gives them; config.json)

expected.safetensors, per case c (fixture.json lists them):
  input.pixel_values.c   what generate_content gives the tower (process_images, image_aspect_ratio "resize")
  input.input_ids.c      tokenize_conversation(...) ids; the media token id is fixture.json's media_token_id
  input.logit_rows.c     which prompt positions the logits below are for
  output.logits.c        LlavaLlamaModel.llm(inputs_embeds=_embed(...)) logits (fp32) at those rows, over the
                         llm's vocabulary (the 3 tokens the reference adds to the tokenizer are cut off)
  output.greedy.c        the new ids of generate_content's generate call (the default generation config:
                         greedy, max_length = tokenizer.model_max_length, eos = tokenizer.stop_token_ids)
  output.answer.c        (fixture.json) the decoded answer
The lora folder holds the same for the merged model (base + adapter, non_lora_trainables loaded as the
reference loads them: under its key normalisation none of them matches, so the base projector stays), and
output.logits_tuned_projector.c for the model with the tuned projector actually loaded.

usage: PYTHONPATH=.venv/reference-tokenizers .venv/bin/python tests/oracles/models/make_vila_fixtures.py
       [--repo /work/.mirror/ubc-tea+MedVLMBench/repo]
"""
import argparse
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is built here; never reach a hub

import torch  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
import fixture_io  # noqa: E402
import vila_reference  # noqa: E402

SRC = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ROOT = os.path.join(SRC, "tests", "fixtures", "models", "vila")
GENERATOR = "tests/oracles/models/make_vila_fixtures.py"
DEFAULT_REPO = "/work/.mirror/ubc-tea+MedVLMBench/repo"

IMAGE_SIZE, PATCH = 42, 6
MODEL_MAX_LENGTH = 192  # tokenizer.model_max_length: the reference's generation max_length (VQA prompts fit)
IMAGES = ["tests/fixtures/demo/ChestXray/test/PNEUMONIA/pneumonia_test_00.png",
          "tests/fixtures/datasets/Camelyon17/patches/patient_004_node_0/patch_patient_004_node_0_x_3328_y_21792.png"]
QUESTIONS = ["What modality is used to take this image?",
             "Is there a nodule in the left lung?\nAnswer yes or no.",
             "Can you provide a medical report for this image?"]
CASES = [(0, 0), (1, 1), (2, 0)]
# What tests/models/vila_test.cpp measured ("[measured]" lines; CPU, fp32).
MEASURED = {"base": {"logits": 3.13e-6, "pixel_values": 0.0},
            "lora": {"logits": 1.23e-5, "logits_tuned_projector": 6.44e-6}}

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                  r"\s*[\r\n]+|\s+(?!\S)|\s+")
# meta-llama/Meta-Llama-3-8B-Instruct's tokenizer_config.json chat_template.
LLAMA3_TEMPLATE = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
                   "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
                   "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
                   "{{ content }}{% endfor %}{% if add_generation_prompt %}"
                   "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_2|>", "<|eot_id|>"]
CORPUS = ["What modality is used to take this image? The image is a chest x-ray.",
          "Is there a nodule in the left lung? Answer yes or no. No, the lungs are clear.",
          "Can you provide a medical report for this image? Findings: no acute cardiopulmonary process.",
          "The heart size is normal. There is no pleural effusion or pneumothorax. 12 mm nodule.",
          "user assistant system\n\nyes no left right lung liver kidney brain MRI CT ultrasound pathology"]


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def make_tokenizer(folder):
    """A Llama-3-style fast tokenizer: byte-level BPE with Llama-3's split regex, its special tokens after
    the merges, BOS added by a TemplateProcessing post-processor, the Instruct chat template."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS * 8, trainer)
    tok.add_special_tokens(SPECIALS)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                      pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>",
                                   model_max_length=MODEL_MAX_LENGTH, padding_side="right",
                                   clean_up_tokenization_spaces=True)
    fast.save_pretrained(folder)
    # The published Llama-3 tokenizers (saved by transformers 4.3x/4.4x) keep the template in
    # tokenizer_config.json; 4.53 would write chat_template.jinja.
    path = os.path.join(folder, "tokenizer_config.json")
    cfg = json.load(open(path))
    cfg["chat_template"] = LLAMA3_TEMPLATE
    write_json(path, cfg)
    return len(fast)


def redraw(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ("norm" in name or "layers.1." in name) and name.endswith("weight") and p.dim() == 1:
                p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.1)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            elif "embedding" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * p[0].numel() ** -0.5)


def make_base(folder, vocab):
    from transformers import LlamaConfig, LlamaForCausalLM, SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel
    llm_dir, vt_dir, mp_dir = (os.path.join(folder, n) for n in ("llm", "vision_tower", "mm_projector"))
    for d in (llm_dir, vt_dir, mp_dir):
        os.makedirs(d, exist_ok=True)
    # llm/: Llama-3-8B's shape in miniature (GQA 4:2, theta 5e5, untied head) plus llama3 rope scaling.
    llm_cfg = LlamaConfig(vocab_size=vocab, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, rope_theta=500000.0,
                          rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
                          max_position_embeddings=512, rms_norm_eps=1e-5, bos_token_id=vocab - 8,
                          eos_token_id=vocab - 7, tie_word_embeddings=False, torch_dtype="float32")
    torch.manual_seed(0)
    llm = LlamaForCausalLM(llm_cfg)
    redraw(llm, 1)
    # <|eot_id|>'s output row = 1.02 x that of token 75, which case 0's greedy answer repeats from its fifth
    # token on: that answer then ends on the end-of-turn stop token (the others run to max_length).
    with torch.no_grad():
        llm.lm_head.weight[vocab - 1] = llm.lm_head.weight[75] * 1.02
    llm.save_pretrained(llm_dir)
    make_tokenizer(llm_dir)
    # vision_tower/
    vt_cfg = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                                image_size=IMAGE_SIZE, patch_size=PATCH, hidden_act="gelu_pytorch_tanh",
                                layer_norm_eps=1e-6, torch_dtype="float32")
    vt_cfg.architectures = ["SiglipVisionModel"]
    tower = SiglipVisionModel(vt_cfg)
    redraw(tower, 2)
    tower.save_pretrained(vt_dir)
    SiglipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, resample=3,
                         image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5]).save_pretrained(vt_dir)
    # mm_projector/: as the vendored code saves it.
    base_projector = vila_reference.module("model.multimodal_projector.base_projector")
    holder = type("Cfg", (), {"mm_hidden_size": 32, "hidden_size": 48})()
    proj = base_projector.MultimodalProjector(base_projector.MultimodalProjectorConfig("mlp_downsample"), holder)
    redraw(proj, 3)
    proj.config.architectures = ["MultimodalProjector"]
    proj.save_pretrained(mp_dir)
    # config.json: the published top level (Llama-3-VILA1.5-8B's keys; sub-configs as dicts).
    cfg = {"architectures": ["LlavaLlamaModel"], "model_type": "llava_llama", "hidden_size": 48,
           "mm_hidden_size": 32, "image_aspect_ratio": "resize", "interpolate_mode": "linear",
           "mm_projector_lr": None, "mm_use_im_patch_token": False, "mm_use_im_start_end": False,
           "mm_vision_select_feature": "cls_patch", "mm_vision_select_layer": -2, "model_dtype": "torch.float32",
           "num_video_frames": 8, "resume_path": "./vlm", "s2": False, "s2_max_split_size": 336,
           "s2_scales": "336,672,1008", "tune_language_model": True, "tune_mm_projector": True,
           "tune_vision_tower": True, "vision_resolution": -1, "transformers_version": "4.36.2",
           "llm_cfg": dict(json.load(open(os.path.join(llm_dir, "config.json"))), _name_or_path="./llm"),
           "vision_tower_cfg": dict(json.load(open(os.path.join(vt_dir, "config.json"))),
                                    _name_or_path="./vision_tower"),
           "mm_projector_cfg": dict(json.load(open(os.path.join(mp_dir, "config.json"))),
                                    _name_or_path="./mm_projector")}
    write_json(os.path.join(folder, "config.json"), cfg)


def make_lora(base, folder):
    """What VILA.save writes after LoRA training with tune_modules "ML" (+ one SigLIP layer, "V")."""
    from peft import LoraConfig, get_peft_model
    model, _ = vila_reference.load(base)
    targets = [f"llm.model.layers.{i}.self_attn.{p}" for i in range(2) for p in ("q_proj", "v_proj")]
    targets += ["llm.model.layers.1.mlp.down_proj", "vision_tower.vision_tower.vision_model.encoder.layers.0.mlp.fc1"]
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, bias="none",
                                                  target_modules=targets, task_type="CAUSAL_LM"))
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    peft_model.get_mm_projector().requires_grad_(True)  # "M" is mandatory in the reference's training
    with torch.no_grad():
        for p in peft_model.get_mm_projector().parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.2)
    os.makedirs(folder, exist_ok=True)
    state = {k: v.detach().clone() for k, v in peft_model.named_parameters() if "lora_" in k}
    non_lora = {k: v.detach().clone() for k, v in peft_model.named_parameters()
                if "lora_" not in k and v.requires_grad}
    peft_model.config.save_pretrained(folder)
    peft_model.save_pretrained(folder, state_dict=state)
    torch.save(non_lora, os.path.join(folder, "non_lora_trainables.bin"))
    if os.path.exists(os.path.join(folder, "README.md")):
        os.remove(os.path.join(folder, "README.md"))  # PEFT's model card template
    return {k[len("base_model.model."):]: v for k, v in non_lora.items()}


def run_cases(model, images, tuned_projector=None):
    from transformers import SiglipImageProcessor  # noqa: F401  (the tower's processor class)
    inputs, outputs, answers, lengths = {}, {}, [], []
    vocab = model.llm.config.vocab_size if tuned_projector is None else None
    for c, (qi, ii) in enumerate(CASES):
        answer, got = vila_reference.generate_content(model, images[ii], QUESTIONS[qi])
        n_vocab = vocab or got["embeds"].shape[1] and model.llm.lm_head.out_features
        with torch.no_grad():
            logits = model.llm(inputs_embeds=got["embeds"][None]).logits[0]
        ids = got["input_ids"]
        media = int(model.tokenizer.media_token_ids["image"])
        start = int((ids == media).nonzero()[0, 0])
        n = got["embeds"].shape[0]
        image_len = n - (ids.numel() - 1)
        rows = sorted(set(list(range(4)) + list(range(start, start + image_len + 2)) + list(range(n - 12, n))))
        inputs[f"pixel_values.{c}"] = got["pixels"]
        inputs[f"input_ids.{c}"] = ids.to(torch.int64)
        inputs[f"logit_rows.{c}"] = torch.tensor(rows, dtype=torch.int64)
        outputs[f"logits.{c}"] = logits[rows]
        outputs[f"greedy.{c}"] = got["new_ids"].to(torch.int64)
        answers.append(answer)
        lengths.append(n)
        del n_vocab
    run_cases.prompt_lengths = lengths  # embedding positions per case, for fixture.json
    return inputs, outputs, answers


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=DEFAULT_REPO, help="a clone of ubc-tea/MedVLMBench (work tree or bare)")
    args = ap.parse_args()
    commit = vila_reference.setup(args.repo)
    shutil.rmtree(ROOT, ignore_errors=True)
    base_dir, lora_dir = os.path.join(ROOT, "base"), os.path.join(ROOT, "lora")
    os.makedirs(base_dir)
    vocab = 300 + len(SPECIALS)
    make_base(base_dir, vocab)
    images = [Image.open(os.path.join(SRC, p)).convert("RGB") for p in IMAGES]
    cases = [{"question": QUESTIONS[q], "image": IMAGES[i]} for q, i in CASES]
    library = fixture_io.versions("transformers", "tokenizers", "peft", "safetensors", "pillow")
    common = {"generator": GENERATOR, "library": library,
              "reference": f"ubc-tea/MedVLMBench@{commit} model/release/vila (vendored VILA) + model/vila.py",
              "shims": vila_reference.SHIMS, "cases": cases,
              "weights": "seeded random (torch.Generator; every parameter redrawn after the library init)",
              "tolerance": {"logits": 1e-4, "pixel_values": 1e-6, "greedy": "identical", "input_ids": "identical"}}

    model, _ = vila_reference.load(base_dir)
    tok = model.tokenizer
    inputs, outputs, answers = run_cases(model, images)
    # The reference's vocabulary grows by the tokens it adds (<vila/sentinel>, <image>, <vila/video>); the
    # logits compared are the llm checkpoint's own vocab_size columns.
    for k in list(outputs):
        if k.startswith("logits."):
            outputs[k] = outputs[k][:, :vocab]
    fixture_io.save_expected(base_dir, inputs, outputs)
    gen_cfg = model.default_generation_config
    fixture_io.write_fixture_json(
        base_dir, **common, answers=answers, prompt_lengths=run_cases.prompt_lengths, media_token_id=int(tok.media_token_ids["image"]),
        stop_token_ids=sorted(int(i) for i in tok.stop_token_ids), tokenizer_length=len(tok), llm_vocab_size=vocab,
        end_token_ids=tok("\n").input_ids, generation={"max_length": gen_cfg.max_length,
                                                       "do_sample": gen_cfg.do_sample,
                                                       "eos_token_id": sorted(gen_cfg.eos_token_id)},
        oracle=("vila_reference.load (model/vila.py's load_from_pretrained, fp32) then "
                "LlavaLlamaModel.generate_content([PIL image, question]) as VILA.infer_vision_language calls it; "
                "logits = model.llm(inputs_embeds=model._embed(input_ids, media, ...)) at the prompt rows"),
        max_abs_diff_measured=MEASURED["base"])

    # LoRA: the reference merges onto a base it names itself (Efficient-Large-Model/Llama-3-VILA1.5-8B for
    # VILA1.5 and VILA-M3); here the base is the folder above.
    tuned = make_lora(base_dir, lora_dir)
    merged, unused = vila_reference.load(lora_dir, model_base=base_dir)
    assert unused and all(k.startswith("model.mm_projector.") for k in unused), unused
    l_inputs, l_outputs, l_answers = run_cases(merged, images)
    with torch.no_grad():
        for k, v in tuned.items():
            assert k.startswith("mm_projector."), k
            dict(merged.named_parameters())[k].copy_(v)
    _, t_outputs, _ = run_cases(merged, images)
    for k in list(l_outputs):
        if k.startswith("logits."):
            l_outputs[k] = l_outputs[k][:, :vocab]
            l_outputs["logits_tuned_projector." + k.split(".")[1]] = t_outputs[k][:, :vocab]
    fixture_io.save_expected(lora_dir, l_inputs, l_outputs)
    fixture_io.write_fixture_json(
        lora_dir, **common, answers=l_answers, base="tests/fixtures/models/vila/base",
        non_lora_trainables_ignored_by_reference=sorted(unused),
        oracle=("vila_reference.load(lora, model_base=base): model/vila.py's LoRA branch in fp32 (base, "
                "non_lora_trainables.bin with its key normalisation and load_state_dict(strict=False), "
                "PeftModel.from_pretrained, merge_and_unload); logits_tuned_projector: the same model with the "
                "tuned projector copied in under its real names"),
        max_abs_diff_measured=MEASURED["lora"])
    vila_reference.cleanup()
    print("wrote", ROOT)


if __name__ == "__main__":
    main()
