// The values a restricted pickle machine may build: plain data, plus a few torch objects
// that are reconstructed natively (never by running anything from the file).
//
// All objects live in an Arena and refer to each other by plain pointers. Pickle memo
// references make the graph a DAG and can even close cycles (a list appended to itself);
// owning everything from one flat arena means destruction never recurses and never leaks,
// however deep or tangled the input made the graph.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/dtype.h"

namespace lmforge::pickle {

enum class Kind : uint8_t {
  None,
  Bool,
  Int,     // fits in int64
  BigInt,  // wider than int64: little-endian two's complement bytes in `str`
  Float,
  Str,     // UTF-8 text
  Bytes,
  List,
  Tuple,
  Set,
  Dict,    // ordered; also OrderedDict and argparse.Namespace
  Global,  // an allow-listed module.name reference (callable or class, never called for real)
  Storage, // a storage reference made by BINPERSID
  Tensor,  // the result of torch._utils._rebuild_tensor*
};

// What an allow-listed global stands for.
enum class GlobalRole : uint8_t {
  StorageType,      // torch.FloatStorage, ... (storage_dtype set); torch.UntypedStorage
  DTypeObject,      // torch.float32, ... (dtype set)
  RebuildTensor,    // torch._utils._rebuild_tensor
  RebuildTensorV2,  // torch._utils._rebuild_tensor_v2
  RebuildTensorV3,  // torch._utils._rebuild_tensor_v3
  RebuildParameter, // torch._utils._rebuild_parameter[_with_state], torch.nn.parameter.Parameter
  OrderedDict,      // collections.OrderedDict
  Namespace,        // argparse.Namespace: becomes a dict of its attributes
  Size,             // torch.Size: becomes a tuple
  Device,           // torch.device: becomes a string such as "cuda:0"
  CodecsEncode,     // _codecs.encode: (str, 'latin1') -> bytes
  Set,              // builtins.set / builtins.frozenset
};

struct Object;

struct StorageInfo {
  std::string key;       // record name under data/ (zip) or the legacy key
  DType dtype = DType::U8;
  bool untyped = false;  // torch.UntypedStorage: numel counts bytes
  std::string location;  // "cpu", "cuda:0", ...
  uint64_t numel = 0;    // elements of `dtype`
  // Legacy files only: this storage is a view [view_offset, view_offset + view_numel) of
  // the root storage `key` (which has `numel` elements).
  std::optional<std::pair<uint64_t, uint64_t>> view;
};

struct TensorInfoP {
  const Object* storage = nullptr;  // Kind::Storage
  DType dtype = DType::F32;
  uint64_t storage_offset = 0;      // elements of dtype
  std::vector<uint64_t> size;
  std::vector<uint64_t> stride;
};

// Rarely used parts, kept out of line so that the common small objects stay small.
struct ObjectExtra {
  std::unordered_set<std::string> dict_keys;  // Dict: encoded keys, to refuse duplicates
  StorageInfo storage;                        // Storage
  TensorInfoP tensor;                         // Tensor
};

struct Object {
  Kind kind = Kind::None;
  bool flag = false;  // Bool value; Dict: true for an OrderedDict; Global: untyped storage
  GlobalRole role = GlobalRole::StorageType;  // Global
  DType dtype = DType::F32;                   // Global (StorageType, DTypeObject)
  int64_t i = 0;                              // Int
  double f = 0;                               // Float
  uint64_t offset = 0;  // absolute byte offset of the opcode that made it (for errors)
  std::string str;      // Str, Bytes, BigInt bytes; Global module
  std::string name;     // Global name
  std::vector<Object*> items;                     // List, Tuple, Set
  std::vector<std::pair<Object*, Object*>> dict;  // Dict, in insertion order
  std::unique_ptr<ObjectExtra> extra;             // Dict, Storage, Tensor

  ObjectExtra& ext() {
    if (!extra) extra = std::make_unique<ObjectExtra>();
    return *extra;
  }
  const StorageInfo& storage() const { return extra->storage; }
  const TensorInfoP& tensor() const { return extra->tensor; }
};

// Owns every object of one or more pickles. Deque: stable addresses, flat destruction.
class Arena {
 public:
  Object* make(Kind k, uint64_t offset) {
    objects_.emplace_back();
    Object* o = &objects_.back();
    o->kind = k;
    o->offset = offset;
    return o;
  }
  size_t size() const { return objects_.size(); }

 private:
  std::deque<Object> objects_;
};

const char* kind_name(Kind k);

}  // namespace lmforge::pickle
