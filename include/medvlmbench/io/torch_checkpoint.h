// PyTorch checkpoints written by torch.save (.bin/.pt/.pth/.ckpt): the zip format of torch >= 1.6 and
// the legacy pickle stream before it (also written by _use_new_zipfile_serialization=False).
//
// The pickle inside is read by a restricted unpickler (torch_pickle.h) that understands only the
// state-dict subset: dicts/OrderedDicts, lists, tuples, scalars, strings and tensors rebuilt from
// persistent storages. Any other global is refused, so, unlike Python's torch.load, a checkpoint can
// never run code. Tensor storages are mapped from the file (torch.save stores them uncompressed), so
// loading is lazy and never holds a second copy of the weights, like safetensors.
#pragma once

#include <string>
#include <vector>

#include "medvlmbench/io/state_dict.h"

namespace mvb::io {

// All tensors in the checkpoint. A top-level training wrapper ({"state_dict": {...}}, {"model": ...},
// {"module": ...}, {"model_state_dict": ...}) is unwrapped, dropping its siblings (optimizer state,
// epoch ...); any other nesting is flattened to dotted names ("encoder.layer.0.weight").
StateDict open_torch_checkpoint(const std::string& path);

// Told by the file's first bytes, never its extension. kTar is the format of the earliest torch
// releases, which is refused.
enum class TorchCheckpointFormat { kZip, kLegacy, kTar, kUnknown };
TorchCheckpointFormat torch_checkpoint_format(const std::string& path);

// True when the file starts like a zip archive (torch >= 1.6) rather than the legacy format.
bool is_zip_checkpoint(const std::string& path);

}  // namespace mvb::io
