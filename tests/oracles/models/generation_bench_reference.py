#!/usr/bin/env python3
"""What bench/generation_bench.cpp compares local generation against: transformers'
LlavaForConditionalGeneration.generate at batch 1, one sample at a time (the reference's way: its
eval DataLoader has batch_size=1 and every wrapper calls generate once per sample), fp32 on CPU.

  make OUT TOKENIZER_DIR
      A random ~100M-parameter LLaVA-1.5-shaped model in the llava-hf layout, written to OUT with
      save_pretrained (sharded safetensors + index, as published), CLIPImageProcessor settings, and
      the slow SentencePiece tokenizer files copied from TOKENIZER_DIR (the llava fixture's). LLaMA
      decoder 12 x 768 (12 heads, SwiGLU 2048), CLIP ViT 6 x 384 at 224 px with 32 px patches (49 image
      tokens: LLaVA's 576 would make prefill, which batching cannot speed up, dominate the run; the
      flag is the image size here, not the engine), mlp2x_gelu projector. The lm_head row of EOS is zero,
      so EOS never wins the argmax and every answer is exactly max_new_tokens long on both sides.
      Prints the parameter count.

  run OUT SAMPLES.json RESULT.json THREADS MAX_NEW_TOKENS
      SAMPLES.json: [{"image": path, "prompt": the prompt our run recorded}]. A prompt holding
      "<image>" is used as is (the rendered conversation); otherwise the vicuna_v1 conversation is
      built around it. Per sample, timed together: PIL decode, expand2square with the CLIP mean colour,
      CLIPImageProcessor, tokenizer_image_token semantics (BOS on the first chunk only, the image in
      place of <image>), generate(do_sample=False, max_new_tokens). Also: per-token decode latency at
      batch 1 ((t(max_new_tokens) - t(1)) / (max_new_tokens - 1), best of 3, on the first sample), and
      loading: peak RSS growth of from_pretrained (VmHWM after /proc/self/clear_refs) and bytes read
      from storage per parameter (/proc/self/io read_bytes, checkpoint evicted from the page cache).
      The peak through the first (warm-up) answer is reported too, since weights left on a mapping
      are only read when first used. Writes RESULT.json: {"samples_per_s", "seconds", "per_token_ms",
      "load_peak_rss_mb", "first_answer_peak_rss_mb", "load_read_bytes", "load_rchar", "parameters",
      "threads", "answers": [text...]}.

usage: .venv/bin/python tests/oracles/models/generation_bench_reference.py make|run ...
"""
import json
import os
import shutil
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is built here; never reach a hub

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from bench_support import Loading, per_token_ms  # noqa: E402

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGE_SIZE, PATCH = 224, 32
VICUNA_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the user's questions.")
TOKENIZER_FILES = ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")


def make(out, tokenizer_dir):
    import sentencepiece as spm
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration)
    os.makedirs(out, exist_ok=True)
    for f in TOKENIZER_FILES:
        shutil.copy(os.path.join(tokenizer_dir, f), os.path.join(out, f))
    pieces = spm.SentencePieceProcessor(model_file=os.path.join(out, "tokenizer.model")).get_piece_size()
    vocab = (pieces + 1 + 63) // 64 * 64  # room for the image token, padded as llava-hf pads
    vision = CLIPVisionConfig(hidden_size=384, intermediate_size=1536, num_hidden_layers=6, num_attention_heads=6,
                              image_size=IMAGE_SIZE, patch_size=PATCH, projection_dim=384, hidden_act="quick_gelu")
    text = LlamaConfig(vocab_size=vocab, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                       num_attention_heads=12, num_key_value_heads=12, max_position_embeddings=2048,
                       rms_norm_eps=1e-5, rope_theta=10000.0, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=pieces, vision_feature_layer=-2,
                      vision_feature_select_strategy="default", projector_hidden_act="gelu",
                      image_seq_length=(IMAGE_SIZE // PATCH) ** 2, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        model.lm_head.weight[text.eos_token_id].zero_()  # EOS never wins: fixed-length answers
    model.save_pretrained(out, max_shard_size="150MB")
    CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
                       image_mean=CLIP_MEAN, image_std=CLIP_STD, resample=3, do_center_crop=True,
                       do_convert_rgb=True).save_pretrained(out)
    print(sum(p.numel() for p in model.parameters()))


# ---------------------------------------------------------------- the reference's per-sample path
def expand2square(img, colour):
    from PIL import Image
    w, h = img.size
    if w == h:
        return img
    side = max(w, h)
    out = Image.new(img.mode, (side, side), colour)
    out.paste(img, (0, (w - h) // 2) if w > h else ((h - w) // 2, 0))
    return out


def conversation(prompt):
    if "<image>" in prompt:
        return prompt
    return VICUNA_SYSTEM + " USER: <image>\n" + prompt.strip() + " ASSISTANT:"


def input_ids(sp, prompt, image_token, n_patches):
    """tokenizer_image_token: each chunk tokenized with BOS, later chunks' BOS dropped, the image's
    patches in place of <image> (llava-hf expands the image token to one id per patch)."""
    chunks = prompt.split("<image>")
    ids = [1] + sp.encode(chunks[0])
    for c in chunks[1:]:
        ids += [image_token] * n_patches + sp.encode(c)
    return torch.tensor([ids])


def run(folder, samples_path, result_path, threads, max_new_tokens):
    import sentencepiece as spm
    from PIL import Image
    from transformers import CLIPImageProcessor, LlavaForConditionalGeneration
    if threads > 0:
        torch.set_num_threads(threads)
    loading = Loading(folder)
    model = LlavaForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    loaded = loading.done()
    processor = CLIPImageProcessor.from_pretrained(folder)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(folder, "tokenizer.model"))
    cfg = model.config
    n_patches = (cfg.vision_config.image_size // cfg.vision_config.patch_size) ** 2
    colour = tuple(int(255 * m) for m in processor.image_mean)
    with open(samples_path) as f:
        samples = json.load(f)

    def one(sample, new_tokens):
        img = Image.open(sample["image"]).convert("RGB")
        px = processor(images=expand2square(img, colour), return_tensors="pt")["pixel_values"]
        ids = input_ids(sp, conversation(sample["prompt"]), cfg.image_token_index, n_patches)
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=px,
                             do_sample=False, num_beams=1, max_new_tokens=new_tokens,
                             pad_token_id=0)
        return out[0, ids.shape[1]:].tolist()

    answers = []
    with torch.no_grad():
        one(samples[0], 2)  # warm-up
        # transformers may keep weights on the mapped files until first use: the peak through the
        # first answer is the comparable figure.
        peak_first_mb = loading.peak.growth_mb()
        t0 = time.perf_counter()
        for s in samples:
            answers.append(sp.decode([i for i in one(s, max_new_tokens) if i > 2 and i < sp.get_piece_size()]))
        seconds = time.perf_counter() - t0

        token_ms = per_token_ms(lambda n: one(samples[0], n), max_new_tokens)
    params = sum(p.numel() for p in model.parameters())
    with open(result_path, "w") as f:
        json.dump({"samples_per_s": len(samples) / seconds, "seconds": seconds, "per_token_ms": token_ms, **loaded,
                   "first_answer_peak_rss_mb": peak_first_mb, "parameters": params,
                   "threads": torch.get_num_threads(), "answers": answers}, f)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 7 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
