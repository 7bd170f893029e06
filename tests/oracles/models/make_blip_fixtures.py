#!/usr/bin/env python3
"""Tiny BLIP / BLIP-2 checkpoints made by transformers in their published layouts, with the outputs
tests/models/blip_test.cpp compares against.

  tests/fixtures/models/blip/vision-blip/         BlipVisionModel.save_pretrained (qkv Linear with bias, eps 1e-5)
  tests/fixtures/models/blip/vision-blip2/        Blip2VisionModel.save_pretrained (qkv_bias true: qkv.bias with a
                                                  zero key part, as transformers' conversion writes it)
  tests/fixtures/models/blip/vision-blip2-nobias/ Blip2VisionModel with qkv_bias false (no qkv bias at all)
  tests/fixtures/models/blip/vqa/                 BlipForQuestionAnswering + BlipProcessor (BertTokenizer with [DEC]
                                                  as bos and [ENC], BlipImageProcessor at 32 px): the blip-vqa-base
                                                  layout; cases.json lists (question, image, answer)
  tests/fixtures/models/blip/itm/                 BlipForImageTextRetrieval + BlipProcessor (the blip-itm-* layout)
  tests/fixtures/models/blip/blipmodel/           BlipModel + BlipProcessor (what the reference's clip-zs builds)
  tests/fixtures/models/blip/images/              a non-square image (the exact resize stretches it)

expected.safetensors in each vision folder: input.pixel_values (seeded random [2, 3, S, S]) and
output.last_hidden_state / output.pooler_output of the model's forward (fp32). The other folders: see
the oracle field of their fixture.json.

usage: .venv/bin/python tests/oracles/models/make_blip_fixtures.py
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
import fixture_io  # noqa: E402

SRC = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ROOT = os.path.join(SRC, "tests", "fixtures", "models", "blip")
GENERATOR = "tests/oracles/models/make_blip_fixtures.py"
WEIGHTS = "seeded random (torch.Generator; every parameter redrawn after the transformers init)"
TOLERANCE = 1e-4
# What tests/models/blip_test.cpp measured (LibTorch 1.13, CPU, fp32); greedy ids, answers and input ids
# identical.
MEASURED = {"vision-blip": 9.6e-07, "vision-blip2": 8.4e-07, "vision-blip2-nobias": 6.0e-07,
            "vqa": {"pixel_values": 0.0, "question_states": 9.9e-07, "decoder_logits": 5.9e-06},
            "itm": {"class_token": 6.0e-07, "image_feat": 6.0e-07, "text_feat": 5.4e-07, "itc": 9.0e-08},
            "blipmodel": {"image_embeds": 1.2e-07, "text_embeds": 1.8e-07, "logits_per_image": 2.3e-06}}


def redraw(model, seed):
    """Every parameter redrawn from a seeded generator, so that the tiny towers separate their inputs
    (transformers' init gives near-constant outputs at this size)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(shape, std):
        return torch.randn(shape, generator=g) * std

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                continue  # set by the caller
            if ("norm" in name or "LayerNorm" in name) and name.endswith("weight"):
                p.copy_(1.0 + rnd(p.shape, 0.1))
            elif name.endswith("bias") or name.endswith("q_bias") or name.endswith("v_bias"):
                p.copy_(rnd(p.shape, 0.1))
            elif "embedding" in name:
                p.copy_(rnd(p.shape, 0.5))
            else:
                assert p.dim() >= 2, name
                p.copy_(rnd(p.shape, p[0].numel() ** -0.5))


def fresh(folder):
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder


def vision_kwargs():
    return dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                patch_size=8)


def save_vision(folder, model, seed, oracle):
    g = torch.Generator().manual_seed(seed + 1)
    s = model.config.image_size
    pixels = torch.randn(2, 3, s, s, generator=g)
    with torch.no_grad():
        out = model(pixel_values=pixels)
    fixture_io.save_expected(folder, {"pixel_values": pixels},
                             {"last_hidden_state": out.last_hidden_state, "pooler_output": out.pooler_output})
    fixture_io.write_fixture_json(
        folder, generator=GENERATOR, library=fixture_io.versions("transformers"), weights=WEIGHTS,
        oracle=oracle + ".forward(pixel_values) -> last_hidden_state, pooler_output (fp32, CPU)",
        tolerance=TOLERANCE, max_abs_diff_measured=MEASURED.get(os.path.basename(folder)))


def make_blip_vision(name, seed):
    from transformers import BlipVisionConfig, BlipVisionModel

    torch.manual_seed(seed)
    model = BlipVisionModel(BlipVisionConfig(**vision_kwargs())).eval()
    redraw(model, seed)
    folder = fresh(os.path.join(ROOT, name))
    model.save_pretrained(folder, safe_serialization=True)
    save_vision(folder, model, seed, "BlipVisionModel(BlipVisionConfig(...))")


def make_blip2_vision(name, qkv_bias, seed):
    from transformers import Blip2VisionConfig, Blip2VisionModel

    torch.manual_seed(seed)
    model = Blip2VisionModel(Blip2VisionConfig(qkv_bias=qkv_bias, **vision_kwargs())).eval()
    redraw(model, seed)
    if qkv_bias:
        # transformers builds qkv.bias as cat(q_bias, zeros, v_bias); the key part stays zero.
        with torch.no_grad():
            for layer in model.encoder.layers:
                d = model.config.hidden_size
                layer.self_attn.qkv.bias[d:2 * d].zero_()
    folder = fresh(os.path.join(ROOT, name))
    model.save_pretrained(folder, safe_serialization=True)
    save_vision(folder, model, seed, f"Blip2VisionModel(Blip2VisionConfig(qkv_bias={qkv_bias}, ...))")


# ---------------------------------------------------------------- the full models

IMAGES = ["tests/fixtures/demo/ChestXray/test/PNEUMONIA/pneumonia_test_00.png",
          "tests/fixtures/datasets/Camelyon17/patches/patient_004_node_0/patch_patient_004_node_0_x_3328_y_21792.png"]
WIDE = "wide_41x29.png"  # non-square: the exact resize stretches it
QUESTIONS = ["What modality is used to take this image?",
             "Answer the following question about the image with yes or no. Is there a nodule in the left lung?",
             "Can you provide a medical report for this image?",
             "where is the abnormality?"]
CASES = [(0, 0), (1, 1), (2, 2), (3, 1)]  # (question, image)
PROMPTS = ["a photo of chest xray with no finding", "a photo of chest xray with pneumonia",
           "a photo of benign retina"]
WORDS = ["what", "modality", "is", "used", "to", "take", "this", "image", "answer", "the", "following", "question",
         "about", "with", "yes", "or", "no", "there", "a", "nodule", "in", "left", "lung", "can", "you", "provide",
         "medical", "report", "for", "where", "abnormality", "photo", "of", "chest", "xray", "finding", "pneumonia",
         "benign", "retina", "ct", "mri", "right", "brain", "liver", "heart", "normal", "abnormal", "##s", "##ing",
         "##ed", "##ity", "##al", "?", ".", ",", "-"]
VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
         + [c for c in "abcdefghijklmnopqrstuvwxyz" if c not in WORDS] + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz" if "##" + c not in WORDS])


def make_images():
    src = Image.open(os.path.join(SRC, IMAGES[1])).convert("RGB")
    folder = os.path.join(ROOT, "images")
    os.makedirs(folder, exist_ok=True)
    src.resize((41, 29), Image.BICUBIC).save(os.path.join(folder, WIDE))
    return IMAGES + [os.path.relpath(os.path.join(folder, WIDE), SRC)]


def tokenizer_and_processor(image_size):
    """BertTokenizer (the tokenizers-backed one) over a small WordPiece vocabulary with BLIP's added tokens ([DEC] as bos,
    [ENC]), and BlipImageProcessor at image_size (blip-vqa-base: 384)."""
    from transformers import BertTokenizer, BlipImageProcessor, BlipProcessor

    tok = BertTokenizer(vocab={t: i for i, t in enumerate(VOCAB)}, do_lower_case=True, bos_token="[DEC]",
                        additional_special_tokens=["[ENC]"], model_max_length=512)
    proc = BlipImageProcessor(size={"height": image_size, "width": image_size})
    return tok, BlipProcessor(image_processor=proc, tokenizer=tok)


def text_kwargs(tok):
    return dict(vocab_size=len(tok), hidden_size=32, encoder_hidden_size=32, intermediate_size=64,
                num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64,
                bos_token_id=tok.convert_tokens_to_ids("[DEC]"), pad_token_id=tok.pad_token_id,
                sep_token_id=tok.sep_token_id)


def process(folder, paths):
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    proc = BlipImageProcessorPil.from_pretrained(folder)
    return [proc(Image.open(os.path.join(SRC, p)).convert("RGB"), return_tensors="pt")["pixel_values"][0]
            for p in paths]


def generate_all(model, pixels, ids, masks, max_length):
    return [model.generate(input_ids=i, attention_mask=m, pixel_values=px.unsqueeze(0), max_length=max_length)[0]
            for px, i, m in zip(pixels, ids, masks)]


def sep_margins(model, px, i, m, steps):
    """Greedy decoding that never picks [SEP], recording at each step how far the [SEP] logit is below
    the best other one. Raising the [SEP] bias does not change the path before [SEP] is first picked, so
    these margins say after how many tokens a given bias stops the answer."""
    sep = model.config.text_config.sep_token_id
    image = model.vision_model(pixel_values=px.unsqueeze(0)).last_hidden_state
    q = model.text_encoder(input_ids=i, attention_mask=m, encoder_hidden_states=image).last_hidden_state
    seq = torch.tensor([[model.decoder_start_token_id]])
    margins = []
    for _ in range(steps):
        logits = model.text_decoder(input_ids=seq, encoder_hidden_states=q).logits[0, -1]
        other = logits.clone()
        other[sep] = -float("inf")
        margins.append((other.max() - logits[sep]).item())
        seq = torch.cat([seq, other.argmax().view(1, 1)], 1)
    return margins


def make_vqa(paths):
    """BlipForQuestionAnswering; the sep logit is raised until every case's greedy answer ends with
    [SEP] after 3 to 40 tokens (random decoders otherwise run to the position limit, where transformers
    fails), so generate(max_length=768) runs exactly as the reference calls it."""
    from transformers import BlipConfig, BlipForQuestionAnswering

    tok, processor = tokenizer_and_processor(32)
    folder = fresh(os.path.join(ROOT, "vqa"))
    processor.save_pretrained(folder)
    pixels = process(folder, [paths[c[1]] for c in CASES])
    enc = [tok(QUESTIONS[q], return_tensors="pt", padding=True, truncation=True) for q, _ in CASES]
    ids = [e["input_ids"] for e in enc]
    masks = [e["attention_mask"] for e in enc]
    cfg = BlipConfig(text_config=text_kwargs(tok), vision_config=vision_kwargs())
    sep = cfg.text_config.sep_token_id
    # The first seed (from 20) for which one [SEP] bias ends every answer after 3 to 40 tokens.
    for seed in range(20, 60):
        torch.manual_seed(seed)
        model = BlipForQuestionAnswering(cfg).eval()
        redraw(model, seed)
        with torch.no_grad():
            margins = [sep_margins(model, px, i, m, 40) for px, i, m in zip(pixels, ids, masks)]
        low = max(min(mc[2:]) for mc in margins)  # above this every case stops within 40 tokens
        high = min(min(mc[:2]) for mc in margins)  # below this no case stops before 3 tokens
        if low < high:
            break
    assert low < high, "no seed in 20..59 gives answers that end"
    bias = model.text_decoder.cls.predictions.bias
    with torch.no_grad():
        bias[sep] += (low + high) / 2
        dec = model.text_decoder.cls.predictions.decoder
        if dec.bias is not None and dec.bias.data_ptr() != bias.data_ptr():
            dec.bias.copy_(bias)  # untied copies (the forward reads decoder.bias)
        outs = generate_all(model, pixels, ids, masks, 768)  # as the reference calls it
        assert all(3 <= len(o) - 1 <= 40 and o[-1].item() == sep for o in outs), outs
    model.save_pretrained(folder, safe_serialization=True)
    inputs, outputs, cases = {}, {}, []
    with torch.no_grad():
        for c, ((q, im), px, i, m, out) in enumerate(zip(CASES, pixels, ids, masks, outs)):
            image_embeds = model.vision_model(pixel_values=px.unsqueeze(0)).last_hidden_state
            q_embeds = model.text_encoder(input_ids=i, attention_mask=m, encoder_hidden_states=image_embeds,
                                          encoder_attention_mask=torch.ones(image_embeds.shape[:2],
                                                                            dtype=torch.long)).last_hidden_state
            logits = model.text_decoder(input_ids=out.unsqueeze(0), encoder_hidden_states=q_embeds,
                                        encoder_attention_mask=torch.ones(q_embeds.shape[:2], dtype=torch.long)
                                        ).logits[0]
            short = model.generate(input_ids=i, attention_mask=m, pixel_values=px.unsqueeze(0), max_length=3)[0]
            inputs[f"pixel_values.{c}"] = px
            inputs[f"input_ids.{c}"] = i[0]
            outputs[f"question_states.{c}"] = q_embeds[0]
            outputs[f"decoder_logits.{c}"] = logits
            outputs[f"greedy.{c}"] = out[1:]  # the new ids ([DEC] dropped), [SEP] included
            outputs[f"greedy_max_length_3.{c}"] = short[1:]
            cases.append({"question": QUESTIONS[q], "image": paths[im],
                          "answer": processor.decode(out, skip_special_tokens=True).strip()})
    fixture_io.save_expected(folder, inputs, outputs)
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump(cases, f, indent=2)
        f.write("\n")
    fixture_io.write_fixture_json(
        folder, generator=GENERATOR, library=fixture_io.versions("transformers", "tokenizers"), weights=WEIGHTS
        + f" (seed {seed}); text_decoder.cls.predictions.bias[sep] raised to {bias[sep].item():.4f} so answers end",
        oracle="per case (batch 1, as the reference): BlipImageProcessorPil (the slow processor transformers 4 "
               "uses by default) -> pixel_values; BertTokenizer(question, padding=True, truncation=True) -> "
               "input_ids; BlipForQuestionAnswering.generate(input_ids, attention_mask, pixel_values, "
               "max_length=768) -> greedy (and max_length=3 -> greedy_max_length_3); text_encoder(...) -> "
               "question_states; text_decoder(greedy ids with [DEC], encoder_hidden_states=question_states) -> "
               "decoder_logits; processor.decode(skip_special_tokens=True).strip() -> cases.json answer",
        tolerance=TOLERANCE, max_abs_diff_measured=MEASURED.get("vqa"))
    return model


def make_itm(paths, vqa):
    """BlipForImageTextRetrieval (its ITC head: use_itm_head=False) sharing the VQA model's vision tower."""
    from transformers import BlipConfig, BlipForImageTextRetrieval

    tok, processor = tokenizer_and_processor(32)
    torch.manual_seed(21)
    cfg = BlipConfig(text_config=text_kwargs(tok), vision_config=vision_kwargs(), image_text_hidden_size=16)
    model = BlipForImageTextRetrieval(cfg).eval()
    redraw(model, 21)
    folder = fresh(os.path.join(ROOT, "itm"))
    processor.save_pretrained(folder)
    model.save_pretrained(folder, safe_serialization=True)
    pixels = torch.stack(process(folder, paths))
    enc = tok(PROMPTS, return_tensors="pt", padding=True, truncation=True)
    with torch.no_grad():
        itc = torch.stack([model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                 pixel_values=pixels[i:i + 1], use_itm_head=False).itm_score[0]
                           for i in range(len(paths))])
        image_embeds = model.vision_model(pixel_values=pixels).last_hidden_state
        image_feat = model.vision_proj(image_embeds[:, 0, :])
        text_feat = model.text_proj(model.text_encoder(input_ids=enc["input_ids"],
                                                       attention_mask=enc["attention_mask"]).last_hidden_state[:, 0])
    fixture_io.save_expected(folder, {"pixel_values": pixels, "input_ids": enc["input_ids"]},
                             {"itc": itc, "image_feat": image_feat, "text_feat": text_feat,
                              "class_token": image_embeds[:, 0, :]})
    fixture_io.write_fixture_json(
        folder, generator=GENERATOR, library=fixture_io.versions("transformers", "tokenizers"), weights=WEIGHTS,
        oracle="BlipForImageTextRetrieval(input_ids, attention_mask, pixel_values[i], use_itm_head=False).itm_score "
               "-> itc (cosine similarities, image x prompt); vision_proj(vision_model(...).last_hidden_state[:, 0]) "
               "-> image_feat; text_proj(text_encoder(input_ids, attention_mask).last_hidden_state[:, 0]) -> "
               "text_feat; vision last_hidden_state[:, 0] -> class_token (the lp feature); prompts: " + repr(PROMPTS),
        tolerance=TOLERANCE, max_abs_diff_measured=MEASURED.get("itm"))


def make_blipmodel(paths):
    """BlipModel: what the reference's clip-zs (BLIPForDiagnosis -> CLIPBase.forward) runs."""
    from transformers import BlipConfig, BlipModel

    tok, processor = tokenizer_and_processor(32)
    torch.manual_seed(22)
    cfg = BlipConfig(text_config=text_kwargs(tok), vision_config=vision_kwargs(), projection_dim=16)
    model = BlipModel(cfg).eval()
    redraw(model, 22)
    with torch.no_grad():
        model.logit_scale.fill_(2.6592)
    folder = fresh(os.path.join(ROOT, "blipmodel"))
    processor.save_pretrained(folder)
    model.save_pretrained(folder, safe_serialization=True)
    pixels = torch.stack(process(folder, paths))
    enc = tok(PROMPTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], pixel_values=pixels)
    fixture_io.save_expected(folder, {"pixel_values": pixels, "input_ids": enc["input_ids"]},
                             {"logits_per_image": out.logits_per_image, "image_embeds": out.image_embeds,
                              "text_embeds": out.text_embeds})
    fixture_io.write_fixture_json(
        folder, generator=GENERATOR, library=fixture_io.versions("transformers", "tokenizers"), weights=WEIGHTS,
        oracle="BlipModel(input_ids, attention_mask, pixel_values) -> logits_per_image, image_embeds, text_embeds "
               "(normalized); prompts: " + repr(PROMPTS),
        tolerance=TOLERANCE, max_abs_diff_measured=MEASURED.get("blipmodel"))


def main():
    os.makedirs(ROOT, exist_ok=True)
    paths = make_images()
    vqa = make_vqa(paths)
    make_itm(paths, vqa)
    make_blipmodel(paths)
    make_blip_vision("vision-blip", 10)
    make_blip2_vision("vision-blip2", True, 11)
    make_blip2_vision("vision-blip2-nobias", False, 12)


if __name__ == "__main__":
    main()
