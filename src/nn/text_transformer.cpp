#include "medvlmbench/nn/text_transformer.h"

#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"

namespace mvb::nn {

TextEmbeddingsImpl::TextEmbeddingsImpl(const TextTransformerOptions& o) {
  token_embedding = register_module("token_embedding", torch::nn::Embedding(o.vocab_size, o.layer.dim));
  position_embedding = register_module("position_embedding", torch::nn::Embedding(o.max_positions, o.layer.dim));
}

at::Tensor TextEmbeddingsImpl::forward(const at::Tensor& input_ids) {
  return token_embedding->forward(input_ids) + position_embedding->weight.slice(0, 0, input_ids.size(1)).unsqueeze(0);
}

TextTransformerImpl::TextTransformerImpl(const TextTransformerOptions& o) : opts(o) {
  const int64_t d = o.layer.dim;
  embeddings = register_module("embeddings", TextEmbeddings(o));
  encoder = register_module("encoder", TransformerEncoder(o.layer, o.num_layers));
  final_layer_norm =
      register_module("final_layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(o.layer.eps)));
  if (o.head_dim > 0) head = register_module("head", Linear(d, o.head_dim, /*bias=*/true));
}

at::Tensor TextTransformerImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask) {
  const int64_t len = input_ids.size(1);
  MVB_CHECK(len <= opts.max_positions, "text of ", len, " tokens exceeds the model's ", opts.max_positions,
            " positions");
  at::Tensor ids = input_ids.to(embeddings->token_embedding->weight.device(), at::kLong);
  at::Tensor x = embeddings->forward(ids);
  at::Tensor mask;
  if (attention_mask.defined()) mask = additive_padding_mask(attention_mask.to(x.device()), x.scalar_type());
  x = final_layer_norm->forward(encoder->forward(x, mask, opts.causal));
  at::Tensor pooled = opts.pool == TextTransformerOptions::Pool::kLast ? x.select(1, len - 1) : eos_pool(x, ids);
  return head ? head->forward(pooled) : pooled;
}

at::Tensor TextTransformerImpl::eos_pool(const at::Tensor& x, const at::Tensor& ids) const {
  at::Tensor rows = at::arange(x.size(0), ids.options());
  // transformers' CLIPTextTransformer: configs written before its PR #24773 say eos_token_id=2, and
  // then it pools at the largest id of each row (the original vocabulary's end-of-text, 49407);
  // otherwise at the first position holding eos_token_id (the pad id may equal it).
  at::Tensor pos;
  if (opts.eos_token_id == 2)
    pos = ids.argmax(-1);
  else
    pos = (ids == opts.eos_token_id).to(at::kInt).argmax(-1);
  return x.index({rows, pos});
}

}  // namespace mvb::nn
