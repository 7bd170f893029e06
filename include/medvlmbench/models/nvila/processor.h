// NVILA's input side as the reference's vendored VILA code runs it (ubc-tea/MedVLMBench
// model/release/vila: mm_utils.py dynamic_s2_preprocess / process_image, llava_arch.py
// merge_features_for_dynamic_s2 / merge_chessboard / split_chessboard, utils/media.py extract_media,
// utils/tokenizer.py tokenize_conversation / infer_stop_tokens). GENERATIVE.md 1.13-1.15.
//
//   - dynamic S2 tiling: for every scale but the last a fixed k x k square tiling (k = scale / scales[0]) of the
//     image resized (PIL bicubic) to k * tile; for the last scale the aspect-ratio grid (cols x rows, at least
//     (scales[-1] / scales[0])^2 and at most max_tiles tiles, InternVL's find_closest_aspect_ratio) of the image
//     resized to cols * tile x rows * tile. Tiles row by row, each through SiglipImageProcessor (a tile already
//     has the processor's size, which the reference sets to scales[0]: rescale and normalise only);
//   - feature merge: each scale's tile features chessboard-merged into one map, area-interpolated
//     (F.interpolate(mode="area") = adaptive average pooling) to the map of scale s2_resize_output_to_scale_idx
//     (-1: the last), concatenated on channels;
//   - prompt: the llm tokenizer's own chat template (ChatML: the Qwen2 / Qwen2.5 templates NVILA ships) over
//     one user turn "<image>" + question (media tokens inside the question removed, the text stripped). The
//     checkpoint config's "chat_template" is NOT used: the vendored LlavaConfig drops every key it has no
//     parameter for (its __init__ calls PretrainedConfig.__init__() without them), so
//     builder.build_llm_and_tokenizer never sees it.
//
// Cross-check: sglang's independent NVILA path (sgl-project/sglang python/sglang/srt/models/nvila.py, read at
// 20c02154) computes the same feature path: hidden_states[-2] of transformers' SiglipVisionModel,
// merge_features_for_dynamic_s2 / merge_chessboard / split_chessboard line for line, and a 2x2 downsample
// (F.pad, reshape [B, s/2, 2, s/2, 2, C], permute 0,1,3,2,4,5) giving the vendored flat_square_2x2's channel order
// (r, c), (r, c+1), (r+1, c), (r+1, c+1). Where it differs: it hard-codes scales 448/896/1344,
// resize_output_to_scale_idx -1 and mm_hidden 3456 (the vendored code reads s2_scales /
// s2_resize_output_to_scale_idx from config.json, as this port does); it appends no "\n" embedding after the
// image features (its processor and the HF-format "nvila" checkpoints place the tokens in the text; the vendored
// BasicImageEncoder, which the reference runs, embeds tokenizer("\n") after each image); and it loads the
// HF-format config (text_config / vision_config), not the VILA folder layout read here.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "medvlmbench/vision/image.h"

namespace mvb::nvila {

struct S2Tiles {
  std::vector<RgbImage> tiles;  // fixed scales first, then the last scale, each row by row
  int64_t rows = 1, cols = 1;   // the last scale's grid (the reference's block_size is (rows, cols))
};
// dynamic_s2_preprocess(image, s2_scales, max_num=max_tiles, image_size=tile).
S2Tiles dynamic_s2_tiles(const RgbImage& img, const std::vector<int64_t>& scales, int64_t max_tiles, int64_t tile);
// The last scale's (cols, rows) alone: find_closest_aspect_ratio over the grids with min_num..max_num tiles
// ((1, 1) when max_num < min_num leaves none, as the reference's empty loop does).
std::pair<int64_t, int64_t> last_scale_grid(int64_t width, int64_t height, int64_t min_num, int64_t max_num,
                                            int64_t tile);

// merge_chessboard: [nh * nw * b, C, h, w] (or [.., h*w, C] tokens of square tiles) -> [b, C, nh*h, nw*w],
// tile (i, j) = index i * nw + j.
at::Tensor merge_chessboard(const at::Tensor& x, int64_t nh, int64_t nw);
// split_chessboard: [B, C, H, W] -> [nh * nw * B, C, H / nh, W / nw] in the same order.
at::Tensor split_chessboard(const at::Tensor& x, int64_t nh, int64_t nw);
// F.interpolate(x.float(), size={h, w}, mode="area").to(x.dtype) for [N, C, H, W].
at::Tensor area_interpolate(const at::Tensor& x, int64_t h, int64_t w);

// merge_features_for_dynamic_s2 for one image: `features` [tiles, g*g, C] of dynamic_s2_tiles' tiles (or of one
// whole-image tile when rows == cols == 0: the "resize" path, whose map is repeated once per scale) ->
// [1, scales * C, H, W] and the block size (rows, cols) the projector pass splits it into.
std::pair<at::Tensor, std::pair<int64_t, int64_t>> merge_s2_features(const at::Tensor& features,
                                                                     const std::vector<int64_t>& scales,
                                                                     int64_t resize_output_to_scale_idx, int64_t rows,
                                                                     int64_t cols);

// The llm tokenizer's chat template, as far as this port renders it: ChatML turns
// "<|im_start|>{role}\n{content}<|im_end|>\n", a default system turn when the template writes one (its text
// read from the template), and "<|im_start|>assistant\n" as the generation prompt.
struct ChatTemplate {
  std::string default_system;  // "" = the template adds no system turn of its own
};
// Throws mvb::Error naming `where` when the template is not ChatML (the only family NVILA's tokenizers use).
ChatTemplate parse_chat_template(const std::string& jinja, const std::string& where);
// apply_chat_template([system?, {"role": "user", "content": user}], add_generation_prompt=True, tokenize=False).
std::string render_prompt(const ChatTemplate& t, const std::string& user, const std::string& system_prompt = "");
// extract_media + tokenize_conversation's normalisation of the question: media tokens inside it removed (the
// part then stripped), "<image>" put before it, the whole value stripped.
std::string user_content(const std::string& question);

}  // namespace mvb::nvila
