// The only translation unit that includes sentencepiece. Built as a MODULE (libmvb_spm.so) and
// dlopen'ed with RTLD_LOCAL|RTLD_DEEPBIND by src/text/spm_module.cpp (dlmopen'ed into a link-map
// namespace of its own in sanitizer builds, which refuse DEEPBIND): libsentencepiece bundles and
// exports its own protobuf, which crashes any process that also loads libtorch's protobuf
// (TOOLCHAIN.md pitfall 1). Only C types cross this boundary, and memory allocated here is freed here
// (mvb_spm_free): under dlmopen the module has its own libc and heap.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {
using Proc = sentencepiece::SentencePieceProcessor;
Proc* P(void* h) { return static_cast<Proc*>(h); }

void copy_out(const std::string& s, char* out, int cap) {
  if (!out || cap <= 0) return;
  const size_t n = std::min(s.size(), static_cast<size_t>(cap - 1));
  std::memcpy(out, s.data(), n);
  out[n] = '\0';
}
}  // namespace

extern "C" {

int mvb_spm_abi_version() { return 2; }

// Returns a handle, or null with the reason in err.
void* mvb_spm_load(const char* path, char* err, int errcap) {
  auto* p = new Proc();
  const auto status = p->Load(path);
  if (!status.ok()) {
    copy_out(status.ToString(), err, errcap);
    delete p;
    return nullptr;
  }
  return p;
}

// The model with normalizer_spec.add_dummy_prefix = false: what transformers' slow LlamaTokenizer /
// T5Tokenizer load when legacy=False (get_spm_processor merges NormalizerSpec(add_dummy_prefix=False)
// into the proto). Done on the wire format: a scalar field repeated at the end of a message wins.
void* mvb_spm_load_no_dummy_prefix(const char* path, char* err, int errcap) {
  std::string data;
  if (FILE* f = std::fopen(path, "rb")) {
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
    std::fclose(f);
  } else {
    copy_out(std::string("cannot read ") + path, err, errcap);
    return nullptr;
  }
  auto read_varint = [&](size_t& i, uint64_t& v) {
    v = 0;
    for (int shift = 0; i < data.size() && shift < 64; shift += 7) {
      const auto b = static_cast<unsigned char>(data[i++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  auto put_varint = [](std::string& out, uint64_t v) {
    while (v >= 0x80) {
      out += static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    out += static_cast<char>(v);
  };
  const std::string no_prefix("\x18\x00", 2);  // field 3 (add_dummy_prefix), varint 0
  std::string out;
  bool edited = false;
  for (size_t i = 0; i < data.size();) {
    const size_t start = i;
    uint64_t tag = 0, len = 0;
    if (!read_varint(i, tag)) break;
    const int wire = static_cast<int>(tag & 7);
    if (wire == 0) {
      if (!read_varint(i, len)) break;
    } else if (wire == 1) {
      i += 8;
    } else if (wire == 5) {
      i += 4;
    } else if (wire == 2) {
      if (!read_varint(i, len) || i + len > data.size()) break;
      if ((tag >> 3) == 3) {  // ModelProto.normalizer_spec
        put_varint(out, tag);
        put_varint(out, len + no_prefix.size());
        out.append(data, i, len);
        out += no_prefix;
        i += len;
        edited = true;
        continue;
      }
      i += len;
    } else {
      break;
    }
    out.append(data, start, i - start);
  }
  if (!edited) {  // no normalizer_spec: add one that holds only the flag
    out = data;
    put_varint(out, (3u << 3) | 2u);
    put_varint(out, no_prefix.size());
    out += no_prefix;
  }
  auto* p = new Proc();
  const auto status = p->LoadFromSerializedProto(out);
  if (!status.ok()) {
    copy_out(status.ToString(), err, errcap);
    delete p;
    return nullptr;
  }
  return p;
}

void mvb_spm_free(void* h) { delete P(h); }

// Writes up to cap ids; returns how many there are (call again with a larger buffer if more).
int mvb_spm_encode(void* h, const char* text, int len, int* out, int cap) {
  std::vector<int> ids;
  if (!P(h)->Encode(std::string(text, static_cast<size_t>(len)), &ids).ok()) return -1;
  const int n = static_cast<int>(ids.size());
  for (int i = 0; i < n && i < cap; ++i) out[i] = ids[i];
  return n;
}

// Writes up to cap bytes (no terminator needed); returns the decoded length.
int mvb_spm_decode(void* h, const int* ids, int n, char* out, int cap) {
  std::string s;
  if (!P(h)->Decode(std::vector<int>(ids, ids + n), &s).ok()) return -1;
  if (out && cap > 0) std::memcpy(out, s.data(), std::min(s.size(), static_cast<size_t>(cap)));
  return static_cast<int>(s.size());
}

// DecodePieces on piece strings (pieces[i] of lens[i] bytes), as sp_model.decode(list_of_str) does in
// transformers' convert_tokens_to_string, where a piece may have lost its leading "\u2581".
int mvb_spm_decode_pieces(void* h, const char* const* pieces, const int* lens, int n, char* out, int cap) {
  std::vector<std::string> v;
  v.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v.emplace_back(pieces[i], static_cast<size_t>(lens[i]));
  std::string s;
  if (!P(h)->Decode(v, &s).ok()) return -1;
  if (out && cap > 0) std::memcpy(out, s.data(), std::min(s.size(), static_cast<size_t>(cap)));
  return static_cast<int>(s.size());
}

int mvb_spm_piece_size(void* h) { return P(h)->GetPieceSize(); }

int mvb_spm_id_to_piece(void* h, int id, char* out, int cap) {
  const std::string& s = P(h)->IdToPiece(id);
  if (out && cap > 0) std::memcpy(out, s.data(), std::min(s.size(), static_cast<size_t>(cap)));
  return static_cast<int>(s.size());
}

int mvb_spm_piece_to_id(void* h, const char* piece, int len) {
  return P(h)->PieceToId(std::string(piece, static_cast<size_t>(len)));
}

// which: 0 bos, 1 eos, 2 unk, 3 pad.
int mvb_spm_special_id(void* h, int which) {
  switch (which) {
    case 0:
      return P(h)->bos_id();
    case 1:
      return P(h)->eos_id();
    case 2:
      return P(h)->unk_id();
    default:
      return P(h)->pad_id();
  }
}

// bit 0 control, bit 1 unknown, bit 2 byte, bit 3 unused.
int mvb_spm_piece_flags(void* h, int id) {
  return (P(h)->IsControl(id) ? 1 : 0) | (P(h)->IsUnknown(id) ? 2 : 0) | (P(h)->IsByte(id) ? 4 : 0) |
         (P(h)->IsUnused(id) ? 8 : 0);
}

// spm_train-style arguments ("--input=... --model_prefix=... --vocab_size=..."); 0 on success.
int mvb_spm_train(const char* args, char* err, int errcap) {
  const auto status = sentencepiece::SentencePieceTrainer::Train(args);
  if (!status.ok()) {
    copy_out(status.ToString(), err, errcap);
    return 1;
  }
  return 0;
}

}  // extern "C"
