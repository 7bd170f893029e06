#include "medvlmbench/io/state_dict.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/io/torch_checkpoint.h"

namespace fs = std::filesystem;

namespace mvb::io {

namespace {

// Live mappings by start address, so release_mapped_pages() can tell whether a tensor's bytes lie
// on one of our private mappings (and never madvises memory that is not).
struct MappingTable {
  std::mutex mu;
  std::map<uintptr_t, const MappedFile*> by_start;
};
MappingTable& mappings() {
  static MappingTable* t = new MappingTable();  // never destroyed: mappings may outlive static teardown
  return *t;
}

}  // namespace

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  MVB_CHECK(fd >= 0, "cannot open weights file ", path, ": ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("cannot open weights file " + path + ": not a regular file");
  }
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->path_ = path;
  m->size_ = static_cast<uint64_t>(st.st_size);
  if (m->size_ > 0) {
    // Private + writable: in-place ops on zero-copy tensors copy the page instead of faulting, and
    // never reach the file.
    void* p = ::mmap(nullptr, m->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      throw Error("cannot map weights file " + path + ": " + std::strerror(e));
    }
    m->data_ = static_cast<uint8_t*>(p);
    std::lock_guard<std::mutex> lock(mappings().mu);
    mappings().by_start[reinterpret_cast<uintptr_t>(m->data_)] = m.get();
  }
  ::close(fd);
  return m;
}

MappedFile::~MappedFile() {
  if (!data_) return;
  {
    std::lock_guard<std::mutex> lock(mappings().mu);
    mappings().by_start.erase(reinterpret_cast<uintptr_t>(data_));
  }
  ::munmap(data_, size_);
}

void release_mapped_pages(const at::Tensor& t) {
  if (!t.defined() || !t.device().is_cpu() || t.numel() == 0 || !t.has_storage()) return;
  // The bytes the view spans (strides are never negative in torch).
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  const auto begin = reinterpret_cast<uintptr_t>(t.data_ptr());
  const uint64_t bytes = static_cast<uint64_t>(last + 1) * t.element_size();
  std::lock_guard<std::mutex> lock(mappings().mu);
  auto& table = mappings().by_start;
  auto it = table.upper_bound(begin);
  if (it == table.begin()) return;
  --it;
  const MappedFile* f = it->second;
  const uintptr_t start = it->first;
  if (begin + bytes > start + f->size()) return;  // not (entirely) on this mapping
  f->release(begin - start, bytes);
}

void MappedFile::release(uint64_t offset, uint64_t bytes) const {
  if (!data_ || bytes == 0) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  // Only whole pages inside the range: neighbours may still be in use.
  const uint64_t begin = (offset + page - 1) / page * page;
  const uint64_t end = std::min(offset + bytes, size_) / page * page;
  if (end > begin) ::madvise(data_ + begin, end - begin, MADV_DONTNEED);
}

int64_t TensorRecord::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "F32";
    case at::kHalf:
      return "F16";
    case at::kBFloat16:
      return "BF16";
    case at::kDouble:
      return "F64";
    case at::kLong:
      return "I64";
    case at::kInt:
      return "I32";
    case at::kShort:
      return "I16";
    case at::kChar:
      return "I8";
    case at::kByte:
      return "U8";
    case at::kBool:
      return "BOOL";
    default:
      return c10::toString(t);
  }
}

void StateDict::add(const std::string& name, TensorRecord rec) {
  MVB_CHECK(!contains(name), "duplicate tensor name '", name, "' in ", rec.file ? rec.file->path() : source_);
  names_.push_back(name);
  index_.emplace(name, std::move(rec));
}

void StateDict::merge(const StateDict& other) {
  for (const auto& n : other.names_) {
    const TensorRecord& r = other.index_.at(n);
    if (contains(n)) {
      const auto& mine = index_.at(n);
      throw Error("tensor '" + n + "' appears in both " + (mine.file ? mine.file->path() : source_) + " and " +
                  (r.file ? r.file->path() : other.source_));
    }
    add(n, r);
  }
}

const TensorRecord& StateDict::record(const std::string& name) const {
  auto it = index_.find(name);
  MVB_CHECK(it != index_.end(), "checkpoint ", source_, " has no tensor '", name, "'");
  return it->second;
}

at::Tensor StateDict::get(const std::string& name, std::optional<at::ScalarType> dtype) const {
  const TensorRecord& r = record(name);
  const int64_t elem = static_cast<int64_t>(c10::elementSize(r.dtype));
  const int64_t storage_numel = static_cast<int64_t>(r.bytes) / elem;
  // The view must stay inside its storage (validated here once more, whatever the format checked).
  int64_t last = r.storage_offset;
  bool empty = false;
  for (size_t d = 0; d < r.shape.size(); ++d) {
    if (r.shape[d] == 0) empty = true;
    const int64_t stride = r.strides.empty() ? 0 : r.strides[d];
    if (r.shape[d] > 0) last += (r.shape[d] - 1) * stride;
  }
  if (r.strides.empty()) last = r.storage_offset + r.numel() - 1;
  MVB_CHECK(empty || (r.storage_offset >= 0 && last < storage_numel), "tensor '", name, "' in ", r.file->path(),
            " reaches outside its storage (corrupt checkpoint)");
  uint8_t* base = r.file->mutable_data() + r.offset;
  auto opts = at::TensorOptions().dtype(r.dtype);
  at::Tensor t;
  if (reinterpret_cast<uintptr_t>(base) % elem == 0) {
    std::shared_ptr<const MappedFile> keep = r.file;
    at::Tensor storage = at::from_blob(
        base, {storage_numel}, [keep](void*) mutable { keep.reset(); }, opts);
    t = r.strides.empty() ? storage.as_strided(r.shape, at::detail::defaultStrides(r.shape), r.storage_offset)
                          : storage.as_strided(r.shape, r.strides, r.storage_offset);
  } else {
    // Misaligned data (allowed by safetensors): copy the storage bytes into aligned memory.
    at::Tensor storage = at::empty({storage_numel}, opts);
    // A zero-size tensor has no data pointer: memcpy from/to null is undefined even for 0 bytes (UBSan).
    if (storage_numel > 0) std::memcpy(storage.data_ptr(), base, static_cast<size_t>(storage_numel * elem));
    t = r.strides.empty() ? storage.as_strided(r.shape, at::detail::defaultStrides(r.shape), r.storage_offset)
                          : storage.as_strided(r.shape, r.strides, r.storage_offset);
  }
  if (dtype && *dtype != r.dtype) t = t.to(*dtype);
  return t;
}

StateDict StateDict::remap(const std::vector<RenameRule>& rules) const {
  std::vector<std::regex> compiled(rules.size());
  for (size_t i = 0; i < rules.size(); ++i)
    if (rules[i].regex) compiled[i] = std::regex(rules[i].from);
  StateDict out;
  out.source_ = source_;
  std::unordered_map<std::string, std::string> origin;
  for (const auto& n : names_) {
    std::string mapped = n;
    bool drop = false;
    for (size_t i = 0; i < rules.size(); ++i) {
      const RenameRule& r = rules[i];
      if (r.regex) {
        if (!std::regex_search(n, compiled[i])) continue;
        if (r.to == "<drop>")
          drop = true;
        else
          mapped = std::regex_replace(n, compiled[i], r.to);
      } else {
        if (!starts_with(n, r.from)) continue;
        if (r.to == "<drop>")
          drop = true;
        else
          mapped = r.to + n.substr(r.from.size());
      }
      break;
    }
    if (drop) continue;
    auto [it, fresh] = origin.emplace(mapped, n);
    MVB_CHECK(fresh, "rename rules map both '", it->second, "' and '", n, "' to '", mapped, "' in ", source_);
    out.add(mapped, index_.at(n));
  }
  return out;
}

StateDict StateDict::subtree(const std::string& prefix) const {
  StateDict out;
  out.source_ = source_;
  for (const auto& n : names_)
    if (starts_with(n, prefix)) out.add(n.substr(prefix.size()), index_.at(n));
  return out;
}

int64_t StateDict::num_parameters() const {
  int64_t n = 0;
  for (const auto& kv : index_) n += kv.second.numel();
  return n;
}

std::map<std::string, int64_t> StateDict::dtype_counts() const {
  std::map<std::string, int64_t> out;
  for (const auto& kv : index_) ++out[dtype_name(kv.second.dtype)];
  return out;
}

namespace {

bool is_weights_name(const std::string& f) {
  return ends_with(f, ".safetensors") || ends_with(f, ".bin") || ends_with(f, ".pt") || ends_with(f, ".pth") ||
         ends_with(f, ".ckpt");
}

StateDict open_file(const std::string& path) {
  MVB_CHECK(exists(path), "missing weights file ", path);
  if (ends_with(path, ".index.json")) return open_sharded_index(path);
  if (ends_with(path, ".safetensors")) return open_safetensors(path);
  return open_torch_checkpoint(path);
}

}  // namespace

std::vector<std::string> StateDict::weight_files(const std::string& dir) {
  // Preference order follows transformers' from_pretrained: safetensors first, sharded or not.
  for (const char* f : {"model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json",
                        "pytorch_model.bin", "open_clip_model.safetensors", "open_clip_pytorch_model.bin"}) {
    const std::string p = join_path(dir, f);
    if (exists(p)) return {p};
  }
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && is_weights_name(e.path().filename().string())) found.push_back(e.path().string());
  std::sort(found.begin(), found.end());
  return found;
}

StateDict StateDict::open(const std::string& path) {
  if (!is_directory(path)) return open_file(path);
  const auto files = weight_files(path);
  MVB_CHECK(!files.empty(), "no weights in ", path,
            " (expected model.safetensors, pytorch_model.bin, their .index.json, or a .pt/.pth file)");
  MVB_CHECK(files.size() == 1, "several weights files in ", path, " (", files.front(), ", ", files[1],
            " ...) and no index.json saying which to use; pass the file itself as --model_path");
  return open_file(files.front());
}

}  // namespace mvb::io
