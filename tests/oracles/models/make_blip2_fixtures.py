#!/usr/bin/env python3
"""Tiny BLIP-2 checkpoints, made and run by transformers itself, with the outputs the C++ tests
(tests/models/blip2_test.cpp) compare against.

  tests/fixtures/models/blip2/opt/     Blip2ForConditionalGeneration.save_pretrained (EVA-style vision tower
                                       with q_bias / v_bias, Q-Former with 32 queries and cross-attention every
                                       2nd layer, language_projection, OPTForCausalLM with tied lm_head), the
                                       OPT tokenizer (GPT2Tokenizer, BOS </s> prepended, <image> added as a
                                       special token) and Blip2Processor.save_pretrained (num_query_tokens 32,
                                       BlipImageProcessor 42 x 42 bicubic, OpenAI CLIP mean/std), plus
                                       expected.safetensors and fixture.json
  tests/fixtures/models/blip2/itm/     Blip2ForImageTextRetrieval.save_pretrained (the reference's diagnosis
                                       backbone, Salesforce/blip2-itm-vit-g's layout: Q-Former with its text
                                       FFNs, embeddings, vision_projection, text_projection, itm_head) with a
                                       BERT WordPiece tokenizer, expected.safetensors and fixture.json

The generative cases are what the reference (model/blip2.py) does with one request:
processor(images=image, text="Question: {q} Answer:", padding=True, truncation=True, return_tensors="pt"),
model.generate(**inputs, max_new_tokens=N) (greedy), processor.decode(out[0], skip_special_tokens=True).strip()
(the prompt echo: out holds the prompt ids too). expected.safetensors (opt) holds per case <c>:
  input.<c>.pixel_values, input.<c>.input_ids
  output.<c>.vision_last_hidden_state   vision_model(pixel_values).last_hidden_state
  output.<c>.query_output               qformer(query_tokens, encoder_hidden_states=...).last_hidden_state
  output.<c>.image_embeds               language_projection(query_output) (get_image_features().pooler_output)
  output.<c>.logits                     forward(...).logits [1, L, V]
  output.<c>.generated_ids              generate(max_new_tokens=32) new tokens
and the batch case (two requests, the tokenizer padding on the left): input.batch.input_ids,
input.batch.attention_mask, output.batch.generated_ids [2, 32].
The diagnosis cases (itm): per image the LP feature vision_model(x)[0][:, 0, :] (BLIP2LPForDiagnosis.encode_image),
the ITC image_embeds / text_embeds and logits_per_image of forward(input_ids, attention_mask, pixel_values)
for the "a photo of {class}" prompts tokenised as the reference does (tokenizer(texts, padding=True)).

Every parameter is redrawn from a seeded generator, so reruns write identical files.

usage: .venv/bin/python tests/oracles/models/make_blip2_fixtures.py
"""
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
import tiny_weights  # noqa: E402

SRC = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ROOT = os.path.join(SRC, "tests", "fixtures", "models", "blip2")
GENERATOR = "tests/oracles/models/make_blip2_fixtures.py"
WEIGHTS = "seeded random (torch.manual_seed; every parameter redrawn after the transformers init), float32"
NEW_TOKENS = 32
IMAGE_SIZE = 42

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGES = {
    "xray": "tests/fixtures/demo/ChestXray/test/PNEUMONIA/pneumonia_test_00.png",
    "normal": "tests/fixtures/demo/ChestXray/test/NORMAL/normal_test_00.png",
    "wide": "tests/fixtures/models/qwen2_vl_images/wide_190x60.png",
}
VQA = "Is there evidence of pneumonia in the left lung?"
CAPTION = "Can you provide a medical report for this image?"
CASES = [("vqa", "wide", VQA), ("caption", "xray", CAPTION)]
BATCH = [("xray", "Is this normal?"), ("wide", VQA)]
# The demo ChestXray classes, as the zero-shot prompts use them.
CLASS_PROMPTS = ["a photo of normal", "a photo of pneumonia"]

# A byte-level BPE vocabulary: OPT's first four ids, the 256 byte symbols, a few merges.
MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "s"), ("Ġ", "i"), ("o", "n"), ("e", "r"),
          ("Ġ", "s"), ("i", "n"), ("a", "t"), ("Ġ", "c"), ("Ġ", "m"), ("e", "d"), ("Ġ", "p"), ("o", "r"),
          ("Ġ", "w"), ("Ġ", "r"), ("a", "l"), ("Ġ", "A"), ("Ġ", "Q"), ("u", "e")]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def make_opt_tokenizer():
    from tokenizers import AddedToken
    from transformers import GPT2Tokenizer
    vocab = ["<s>", "<pad>", "</s>", "<unk>"] + bytes_to_unicode() + ["".join(m) for m in MERGES]
    v = {t: i for i, t in enumerate(vocab)}
    # facebook/opt-2.7b's tokenizer_config: bos = eos = unk = </s>, pad <pad>, add_bos_token.
    tok = GPT2Tokenizer(vocab=v, merges=MERGES, bos_token="</s>", eos_token="</s>", unk_token="</s>",
                        pad_token="<pad>", add_bos_token=True, add_prefix_space=False)
    # Salesforce/blip2-opt-2.7b adds <image> (a special token) for the processor's query placeholders.
    tok.add_tokens([AddedToken("<image>", normalized=False, special=True)], special_tokens=True)
    return tok


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def redraw(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.1)
            elif name.endswith("bias") or name.endswith("q_bias") or name.endswith("v_bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif "language_model" in name and "embed" in name:
                # OPT's head is tied to embed_tokens: large embeddings make a random model repeat its
                # last token forever, which would make the greedy-ids comparison weak.
                p.copy_(torch.randn(p.shape, generator=g) * 0.15)
            elif "embed" in name or "query_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            else:
                assert p.dim() >= 2, name
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * fan_in ** -0.5)


def vision_config():
    return dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                image_size=IMAGE_SIZE, patch_size=14, hidden_act="gelu", layer_norm_eps=1e-6, qkv_bias=True)


def qformer_config(**kw):
    return dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=48,
                hidden_act="gelu", max_position_embeddings=64, layer_norm_eps=1e-12, cross_attention_frequency=2,
                encoder_hidden_size=32, **kw)


def image_processor():
    from transformers import BlipImageProcessor
    # Salesforce/blip2-opt-2.7b's preprocessor_config.json at this image size.
    return BlipImageProcessor(do_resize=True, size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, resample=3,
                              do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
                              image_mean=OPENAI_CLIP_MEAN, image_std=OPENAI_CLIP_STD, do_convert_rgb=True)


def reference_processor(folder, **kw):
    """Blip2Processor as the reference's transformers 4.53 loads it: the slow PIL BlipImageProcessor
    (transformers 5's default BlipImageProcessor resizes with torchvision, which differs)."""
    from transformers import AutoImageProcessor, AutoTokenizer, Blip2Processor
    return Blip2Processor(image_processor=AutoImageProcessor.from_pretrained(folder, backend="pil"),
                          tokenizer=AutoTokenizer.from_pretrained(folder), **kw)


def open_image(key):
    return Image.open(os.path.join(SRC, IMAGES[key])).convert("RGB")


def build_opt(out, seed):
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, OPTConfig
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    tok = make_opt_tokenizer()
    processor = Blip2Processor(image_processor=image_processor(), tokenizer=tok, num_query_tokens=32)
    processor.save_pretrained(out)
    image_id = tok.convert_tokens_to_ids("<image>")
    text = OPTConfig(vocab_size=len(tok), hidden_size=32, ffn_dim=64, num_hidden_layers=2, num_attention_heads=2,
                     max_position_embeddings=128, do_layer_norm_before=True, word_embed_proj_dim=32,
                     activation_function="relu", pad_token_id=1, bos_token_id=2, eos_token_id=2,
                     tie_word_embeddings=True)
    cfg = Blip2Config(vision_config=vision_config(), qformer_config=qformer_config(), text_config=text.to_dict(),
                      num_query_tokens=32, image_token_index=image_id)
    torch.manual_seed(seed)
    model = Blip2ForConditionalGeneration(cfg).eval()
    redraw(model, seed)
    model.save_pretrained(out)

    model = Blip2ForConditionalGeneration.from_pretrained(out, attn_implementation="eager", dtype=torch.float32).eval()
    processor = reference_processor(out, num_query_tokens=32)
    print("generation_config", model.generation_config.to_diff_dict())
    inputs_t, outputs_t, cases = {}, {}, {}
    for name, key, question in CASES:
        prompt = "Question: {} Answer:".format(question)
        inputs = processor(images=open_image(key), text=prompt, return_tensors="pt", padding=True, truncation=True)
        with torch.no_grad():
            vis = model.vision_model(inputs["pixel_values"]).last_hidden_state
            q = model.qformer(query_embeds=model.query_tokens.expand(1, -1, -1), encoder_hidden_states=vis,
                              encoder_attention_mask=torch.ones(vis.shape[:-1], dtype=torch.long)).last_hidden_state
            feats = model.get_image_features(inputs["pixel_values"]).pooler_output
            assert torch.equal(feats, model.language_projection(q))
            logits = model(**inputs).logits
            gen = model.generate(**inputs, max_new_tokens=NEW_TOKENS)
        L = inputs["input_ids"].shape[1]
        new = gen[0, L:]
        assert new.numel() == NEW_TOKENS and (new != 2).all(), f"{name}: EOS before {NEW_TOKENS} tokens; change the seed"
        reference = processor.decode(gen[0], skip_special_tokens=True).strip()
        answer = processor.decode(new, skip_special_tokens=True).strip()
        inputs_t.update({f"{name}.pixel_values": inputs["pixel_values"], f"{name}.input_ids": inputs["input_ids"]})
        outputs_t.update({f"{name}.vision_last_hidden_state": vis, f"{name}.query_output": q,
                          f"{name}.image_embeds": feats, f"{name}.logits": logits, f"{name}.generated_ids": new})
        cases[name] = {"image": IMAGES[key], "prompt": prompt, "answer": answer, "reference_answer": reference,
                       "prompt_tokens": L}
        print(name, "L", L, "new", new.tolist(), repr(reference))
    # Batched, left padding (the reference runs one request at a time; this is what batching must equal).
    processor.tokenizer.padding_side = "left"
    prompts = ["Question: {} Answer:".format(q) for _, q in BATCH]
    inputs = processor(images=[open_image(k) for k, _ in BATCH], text=prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        gen = model.generate(**inputs, max_new_tokens=NEW_TOKENS)
    new = gen[:, inputs["input_ids"].shape[1]:]
    assert new.shape[1] == NEW_TOKENS and (new != 2).all(), "batch: EOS before 32 tokens; change the seed"
    inputs_t.update({"batch.input_ids": inputs["input_ids"], "batch.attention_mask": inputs["attention_mask"]})
    outputs_t["batch.generated_ids"] = new
    cases["batch"] = {"images": [IMAGES[k] for k, _ in BATCH], "prompts": prompts,
                      "answers": processor.batch_decode(new, skip_special_tokens=True)}
    print("batch", new.tolist())
    fixture_io.save_expected(out, inputs_t, outputs_t)
    return cases, model.generation_config.to_diff_dict()


def build_itm(out, seed):
    from transformers import BertTokenizer, Blip2Config, Blip2ForImageTextRetrieval, Blip2Processor
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    # Salesforce/blip2-itm-vit-g: bert-base-uncased's tokenizer, preprocessor_config.json (the Hub layout).
    tok = BertTokenizer(vocab={t: i for i, t in enumerate(tiny_weights.BERT_VOCAB)}, do_lower_case=True)
    processor = Blip2Processor(image_processor=image_processor(), tokenizer=tok)
    processor.tokenizer.save_pretrained(out)
    processor.image_processor.save_pretrained(out)
    tok = processor.tokenizer  # the processor added <image>
    cfg = Blip2Config(vision_config=vision_config(),
                      qformer_config=qformer_config(vocab_size=len(tok), use_qformer_text_input=True,
                                                    pad_token_id=0),
                      num_query_tokens=32, image_text_hidden_size=16)
    torch.manual_seed(seed)
    model = Blip2ForImageTextRetrieval(cfg).eval()
    redraw(model, seed)
    model.save_pretrained(out)
    model = Blip2ForImageTextRetrieval.from_pretrained(out, attn_implementation="eager", dtype=torch.float32).eval()
    # BLIP2ForDiagnosis: the prototypes are tokenizer(texts, padding=True); images through the processor.
    proto = tok(CLASS_PROMPTS, padding=True, return_tensors="pt")
    pil = reference_processor(out).image_processor
    assert type(pil).__name__ == "BlipImageProcessorPil"
    pixels = pil([open_image("normal"), open_image("xray")], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        lp = model.vision_model(pixels)[0][:, 0, :]
        o = model(input_ids=proto["input_ids"], attention_mask=proto["attention_mask"], pixel_values=pixels)
    print("itm logits_per_image", o.logits_per_image.tolist())
    fixture_io.save_expected(out, {"pixel_values": pixels, "input_ids": proto["input_ids"],
                                   "attention_mask": proto["attention_mask"]},
                             {"lp_features": lp, "logits_per_image": o.logits_per_image, "image_embeds": o.image_embeds,
                              "text_embeds": o.text_embeds})
    return {"images": [IMAGES["normal"], IMAGES["xray"]], "prompts": CLASS_PROMPTS}


def measured(folder):
    path = os.path.join(folder, "fixture.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        old = json.load(f)
    return {"max_abs_diff_measured": old["max_abs_diff_measured"]} if "max_abs_diff_measured" in old else {}


def main():
    lib = fixture_io.versions("transformers", "tokenizers", "pillow")
    out = os.path.join(ROOT, "opt")
    kept = measured(out)
    cases, gen = build_opt(out, 21)
    fixture_io.write_fixture_json(
        out, generator=GENERATOR, library=lib, weights=WEIGHTS, cases=cases, generation_config=gen, **kept,
        oracle="transformers Blip2ForConditionalGeneration.from_pretrained(attn_implementation='eager', dtype=float32): "
               "vision_model(pixel_values).last_hidden_state, qformer(query_tokens, encoder_hidden_states).last_hidden_state, "
               "get_image_features(pixel_values).pooler_output, forward(**inputs).logits, generate(**inputs, "
               "max_new_tokens=32) (greedy); inputs = Blip2Processor(AutoImageProcessor.from_pretrained(folder, backend='pil') (BlipImageProcessorPil, the slow processor transformers 4.53 loads), AutoTokenizer.from_pretrained(folder), num_query_tokens=32)(images=Image.open(p).convert('RGB'), "
               "text='Question: {q} Answer:', padding=True, truncation=True); batch: tokenizer.padding_side='left'; "
               "reference_answer = processor.decode(generate(...)[0], skip_special_tokens=True).strip() (model/blip2.py)",
        tolerance={"logits_fp32": 1e-4, "image_embeds_fp32": 1e-4, "pixel_values": "exact", "input_ids": "exact",
                   "generated_ids": "exact"},
        format="transformers Blip2ForConditionalGeneration.save_pretrained + Blip2Processor.save_pretrained")
    out = os.path.join(ROOT, "itm")
    kept = measured(out)
    cases = build_itm(out, 22)
    fixture_io.write_fixture_json(
        out, generator=GENERATOR, library=lib, weights=WEIGHTS, cases=cases, **kept,
        oracle="transformers Blip2ForImageTextRetrieval.from_pretrained(attn_implementation='eager', dtype=float32): "
               "vision_model(pixel_values)[0][:, 0, :] (BLIP2LPForDiagnosis.encode_image), forward(input_ids, "
               "attention_mask, pixel_values) (ITC: logits_per_image, image_embeds, text_embeds) with "
               "tokenizer(prompts, padding=True) as BLIP2ForDiagnosis.initialize_prototypes",
        tolerance={"features_fp32": 1e-4, "logits_fp32": 1e-4, "pixel_values": "exact", "input_ids": "exact"},
        format="transformers Blip2ForImageTextRetrieval.save_pretrained + Blip2Processor.save_pretrained")
    print("wrote", ROOT)


if __name__ == "__main__":
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    main()
