#include "formats/pickle/pickle_machine.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "core/byte_reader.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "formats/pickle/pickle_globals.h"

namespace lmforge::pickle {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Set: return "set";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "value";
}

namespace {

// Opcode bytes, from CPython's Lib/pickle.py.
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I',
  BININT = 'J', BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P',
  BINPERSID = 'Q', REDUCE = 'R', STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U',
  UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd',
  EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h', INST = 'i', LONG_BINGET = 'j',
  LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q', LONG_BINPUT = 'r',
  SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85,
  TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
  BINBYTES = 'B', SHORT_BINBYTES = 'C', SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e, EMPTY_SET = 0x8f, ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95, BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97,
  READONLY_BUFFER = 0x98,
};

constexpr size_t kMaxTextLine = 1024;  // GLOBAL names and protocol-0 numbers

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    i += len;
  }
  return true;
}

// A name from the file, made safe to print.
std::string printable(std::string_view s, size_t max = 200) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x20 || u >= 0x7f || u == '\'') {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += static_cast<char>(u);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

class Machine {
 public:
  Machine(Arena& arena, std::span<const uint8_t> bytes, const std::string& file, uint64_t base,
          const PickleLimits& limits)
      : arena_(arena), r_(bytes, file, base), file_(file), base_(base), limits_(limits) {}

  PickleResult run();

 private:
  [[noreturn]] void bad(const std::string& what) const { fail(file_, what, base_ + op_pos_); }

  Object* make(Kind k) {
    if (++made_ > limits_.max_objects) {
      bad("pickle builds more than " + std::to_string(limits_.max_objects) + " objects");
    }
    return arena_.make(k, base_ + op_pos_);
  }
  // Calls that copy a container (set(list), torch.Size(t), Namespace BUILD) could be
  // repeated on one big memoized value for a few bytes each; their copying is budgeted.
  void charge_copy(size_t n) {
    copied_ += n;
    if (copied_ > limits_.max_objects) bad("pickle copies more than " + std::to_string(limits_.max_objects) + " values");
  }
  Object* make_int(int64_t v) {
    Object* o = make(Kind::Int);
    o->i = v;
    return o;
  }
  Object* make_bool(bool v) {
    Object* o = make(Kind::Bool);
    o->flag = v;
    return o;
  }
  Object* make_str(std::string s, Kind k = Kind::Str) {
    if (k == Kind::Str && !valid_utf8(s)) bad("pickle string is not valid UTF-8");
    Object* o = make(k);
    o->str = std::move(s);
    return o;
  }

  void push(Object* o) {
    if (stack_.size() >= limits_.max_stack) {
      bad("pickle stack grows past " + std::to_string(limits_.max_stack) + " values");
    }
    stack_.push_back(o);
  }
  Object* pop() {
    if (stack_.size() <= floor()) bad("pickle stack underflow");
    Object* o = stack_.back();
    stack_.pop_back();
    return o;
  }
  Object* top() {
    if (stack_.size() <= floor()) bad("pickle stack underflow");
    return stack_.back();
  }
  // Values above the innermost MARK belong to it; ops other than the mark-consuming ones
  // must not reach below it.
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<Object*> pop_mark() {
    if (marks_.empty()) bad("pickle opcode needs a MARK but there is none");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Object*> items(stack_.begin() + static_cast<ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }

  std::string read_line() {
    const uint64_t avail = r_.remaining();
    const uint8_t* p = r_.take(0, "line").data();
    const uint64_t look = avail < kMaxTextLine ? avail : kMaxTextLine;
    const void* nl = look ? std::memchr(p, '\n', look) : nullptr;
    if (!nl) bad("pickle text argument has no newline within " + std::to_string(kMaxTextLine) + " bytes");
    const uint64_t len = static_cast<const uint8_t*>(nl) - p;
    std::string s = r_.str(len, "text line");
    r_.skip(1);
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return s;
  }

  int64_t parse_decimal(std::string s, const char* what) {
    if (!s.empty() && s.back() == 'L') s.pop_back();
    if (s.empty()) bad(std::string("empty ") + what);
    size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (i == s.size()) bad(std::string("bad ") + what);
    for (size_t k = i; k < s.size(); ++k)
      if (s[k] < '0' || s[k] > '9') bad(std::string("bad ") + what + " '" + printable(s) + "'");
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno == ERANGE) bad(std::string(what) + " does not fit in 64 bits");
    return v;
  }

  uint64_t memo_index_text() {
    const int64_t v = parse_decimal(read_line(), "memo index");
    if (v < 0) bad("negative memo index");
    return static_cast<uint64_t>(v);
  }

  void put(uint64_t idx) {
    Object* o = top();
    auto it = memo_.find(idx);
    if (it != memo_.end()) {
      it->second = o;
      return;
    }
    if (memo_.size() >= limits_.max_memo) {
      bad("pickle memo grows past " + std::to_string(limits_.max_memo) + " entries");
    }
    memo_.emplace(idx, o);
  }
  void get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) bad("pickle refers to memo entry " + std::to_string(idx) + ", which was never stored");
    push(it->second);
  }

  Object* from_long_bytes(std::span<const uint8_t> b) {
    if (b.empty()) return make_int(0);
    if (b.size() <= 8) {
      uint64_t v = 0;
      for (size_t k = 0; k < b.size(); ++k) v |= static_cast<uint64_t>(b[k]) << (8 * k);
      if (b.size() < 8 && (b.back() & 0x80)) v |= ~uint64_t{0} << (8 * b.size());
      return make_int(static_cast<int64_t>(v));
    }
    Object* o = make(Kind::BigInt);
    o->str.assign(reinterpret_cast<const char*>(b.data()), b.size());
    return o;
  }

  void global(std::string module, std::string name) {
    auto g = resolve_global(module, name);
    if (!g) {
      bad("refusing to load: the pickle references '" + printable(module) + "." + printable(name) +
          "', which is not an allowed global");
    }
    Object* o = make(Kind::Global);
    o->str = std::move(module);
    o->name = std::move(name);
    o->role = g->role;
    o->dtype = g->dtype;
    o->flag = g->untyped;
    push(o);
  }

  static std::string gname(const Object* g) { return "'" + g->str + "." + g->name + "'"; }

  void set_item(Object* d, Object* k, Object* v) {
    std::string key;
    switch (k->kind) {
      case Kind::Str: key = "s" + k->str; break;
      case Kind::Int: key = "i" + std::to_string(k->i); break;
      case Kind::Bool: key = "i" + std::to_string(k->flag ? 1 : 0); break;
      case Kind::Bytes: key = "b" + k->str; break;
      case Kind::None: key = "n"; break;
      default: bad(std::string("dict keys of type ") + kind_name(k->kind) + " are not supported");
    }
    if (!d->ext().dict_keys.insert(std::move(key)).second) {
      bad("pickle dict has a duplicate key" + (k->kind == Kind::Str ? " '" + printable(k->str) + "'" : std::string()));
    }
    d->dict.emplace_back(k, v);
  }

  Object* require_dict(Object* o, const char* op) {
    if (o->kind != Kind::Dict) bad(std::string(op) + " on " + describe(o) + "; only a dict may take items");
    return o;
  }
  Object* require_list(Object* o, const char* op) {
    if (o->kind != Kind::List) bad(std::string(op) + " on " + describe(o) + "; only a list may be appended to");
    return o;
  }

  static bool is_int(const Object* o) { return o->kind == Kind::Int; }
  uint64_t nonneg(const Object* o, const char* what) {
    if (!is_int(o) || o->i < 0) bad(std::string(what) + " must be a non-negative integer, got " + describe(o));
    return static_cast<uint64_t>(o->i);
  }
  std::string text_of(const Object* o, const char* what) {
    if (o->kind == Kind::Str) return o->str;
    // Old files may hold these strings as (ASCII) bytes.
    if (o->kind == Kind::Bytes && valid_utf8(o->str)) return o->str;
    bad(std::string(what) + " must be a string, got " + describe(o));
  }
  std::vector<uint64_t> int_tuple(const Object* o, const char* what) {
    if (o->kind != Kind::Tuple && o->kind != Kind::List) bad(std::string("tensor ") + what + " must be a tuple, got " + describe(o));
    if (o->items.size() > limits_.max_rank) {
      bad(std::string("tensor ") + what + " has " + std::to_string(o->items.size()) + " dimensions (limit " +
          std::to_string(limits_.max_rank) + ")");
    }
    std::vector<uint64_t> v;
    v.reserve(o->items.size());
    for (const Object* x : o->items) v.push_back(nonneg(x, (std::string("tensor ") + what + " entry").c_str()));
    return v;
  }

  Object* persistent_load(Object* pid);
  Object* call(Object* fn, Object* args, const char* op);
  Object* rebuild_tensor(Object* fn, const std::vector<Object*>& a);
  void build(Object* target, Object* state);

  Arena& arena_;
  ByteReader r_;
  const std::string& file_;
  uint64_t base_;
  PickleLimits limits_;
  uint64_t op_pos_ = 0;
  size_t made_ = 0;
  size_t copied_ = 0;
  std::vector<Object*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Object*> memo_;

 public:
  std::vector<const Object*> storages_;
};

std::string describe_impl(const Object* o) {
  if (!o) return "nothing";
  switch (o->kind) {
    case Kind::Global: return "the global '" + printable(o->str) + "." + printable(o->name) + "'";
    case Kind::Int:
    case Kind::BigInt: return "an int";
    case Kind::None: return "None";
    default: {
      const std::string n = kind_name(o->kind);
      return std::string("a") + (n[0] == 'i' ? "n " : " ") + n;
    }
  }
}

Object* Machine::persistent_load(Object* pid) {
  if (pid->kind != Kind::Tuple || pid->items.empty()) {
    bad("persistent id must be a ('storage', ...) tuple, got " + describe(pid));
  }
  const auto& t = pid->items;
  const std::string tag = text_of(t[0], "persistent id tag");
  if (tag != "storage") {
    bad("persistent id of kind '" + printable(tag) + "' is not allowed (only 'storage')");
  }
  if (t.size() != 5 && t.size() != 6) {
    bad("storage persistent id has " + std::to_string(t.size()) + " fields, expected 5 or 6");
  }
  const Object* type = t[1];
  if (type->kind != Kind::Global || type->role != GlobalRole::StorageType) {
    bad("storage persistent id names " + describe(type) + " instead of a storage type");
  }
  Object* s = make(Kind::Storage);
  storages_.push_back(s);
  StorageInfo& si = s->ext().storage;
  si.dtype = type->dtype;
  si.untyped = type->flag;
  if (t[2]->kind == Kind::Int) {
    si.key = std::to_string(nonneg(t[2], "storage key"));
  } else {
    si.key = text_of(t[2], "storage key");
  }
  if (si.key.empty() || si.key.size() > 64) bad("storage key has a bad length");
  for (char c : si.key) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-' || c == '.';
    if (!ok) bad("storage key '" + printable(si.key) + "' has characters other than letters, digits, '_', '-' and '.'");
  }
  si.location = text_of(t[3], "storage location");
  si.numel = nonneg(t[4], "storage size");
  if (t.size() == 6 && t[5]->kind != Kind::None) {
    const Object* v = t[5];
    if (v->kind != Kind::Tuple || v->items.size() != 3) bad("storage view metadata must be a 3-tuple");
    const uint64_t off = nonneg(v->items[1], "storage view offset");
    const uint64_t n = nonneg(v->items[2], "storage view size");
    const auto end = checked_add(off, n);
    if (!end || *end > si.numel) bad("storage view [" + std::to_string(off) + ", +" + std::to_string(n) + ") is outside its storage of " + std::to_string(si.numel) + " elements");
    si.view = std::make_pair(off, n);
  }
  return s;
}

Object* Machine::rebuild_tensor(Object* fn, const std::vector<Object*>& a) {
  const GlobalRole role = fn->role;
  const size_t min_args = role == GlobalRole::RebuildTensor ? 4 : role == GlobalRole::RebuildTensorV2 ? 6 : 7;
  const size_t max_args = role == GlobalRole::RebuildTensor ? 4 : min_args + 1;
  if (a.size() < min_args || a.size() > max_args) {
    bad(gname(fn) + " takes " + std::to_string(min_args) + (max_args > min_args ? " or " + std::to_string(max_args) : std::string()) +
        " arguments, got " + std::to_string(a.size()));
  }
  if (a[0]->kind != Kind::Storage) bad(gname(fn) + " needs a storage as its first argument, got " + describe(a[0]));
  Object* t = make(Kind::Tensor);
  TensorInfoP& ti = t->ext().tensor;
  ti.storage = a[0];
  ti.storage_offset = nonneg(a[1], "tensor storage offset");
  ti.size = int_tuple(a[2], "size");
  ti.stride = int_tuple(a[3], "stride");
  if (ti.size.size() != ti.stride.size()) {
    bad("tensor has " + std::to_string(ti.size.size()) + " sizes but " + std::to_string(ti.stride.size()) + " strides");
  }
  ti.dtype = a[0]->storage().dtype;
  if (role == GlobalRole::RebuildTensorV3) {
    const Object* d = a[6];
    if (d->kind != Kind::Global || d->role != GlobalRole::DTypeObject) bad(gname(fn) + " needs a dtype as its 7th argument, got " + describe(d));
    ti.dtype = d->dtype;
  } else if (a[0]->storage().untyped) {
    bad(gname(fn) + " on an untyped storage needs _rebuild_tensor_v3 with a dtype");
  }
  if (role != GlobalRole::RebuildTensor && a.size() == max_args) {
    // Optional metadata dict of flags; conj/neg bits would change the values we return.
    const Object* m = a.back();
    if (m->kind == Kind::Dict) {
      for (const auto& [k, v] : m->dict) {
        if (v->kind == Kind::Bool && v->flag) {
          bad("tensor uses the '" + (k->kind == Kind::Str ? printable(k->str) : std::string("?")) +
              "' flag, which is not supported");
        }
      }
    } else if (m->kind != Kind::None) {
      bad(gname(fn) + " metadata must be a dict, got " + describe(m));
    }
  }
  return t;
}

Object* Machine::call(Object* fn, Object* args, const char* op) {
  if (fn->kind != Kind::Global) bad(std::string(op) + " on " + describe(fn) + ", which is not an allowed callable");
  if (args->kind != Kind::Tuple) bad(std::string(op) + " arguments must be a tuple, got " + describe(args));
  const auto& a = args->items;
  switch (fn->role) {
    case GlobalRole::RebuildTensor:
    case GlobalRole::RebuildTensorV2:
    case GlobalRole::RebuildTensorV3:
      return rebuild_tensor(fn, a);
    case GlobalRole::RebuildParameter:
      // A Parameter is its tensor; requires_grad, hooks and state do not change the data.
      if (a.empty() || a.size() > 4 || a[0]->kind != Kind::Tensor) {
        bad(gname(fn) + " needs a tensor as its first argument");
      }
      return a[0];
    case GlobalRole::OrderedDict:
    case GlobalRole::Namespace: {
      Object* d = make(Kind::Dict);
      d->flag = fn->role == GlobalRole::OrderedDict;
      if (a.empty()) return d;
      if (fn->role == GlobalRole::OrderedDict && a.size() == 1 && (a[0]->kind == Kind::List || a[0]->kind == Kind::Tuple)) {
        charge_copy(a[0]->items.size());
        for (Object* pair : a[0]->items) {
          if ((pair->kind != Kind::Tuple && pair->kind != Kind::List) || pair->items.size() != 2) {
            bad("OrderedDict items must be (key, value) pairs");
          }
          set_item(d, pair->items[0], pair->items[1]);
        }
        return d;
      }
      bad(gname(fn) + " called with unsupported arguments");
    }
    case GlobalRole::Size: {
      if (a.size() != 1 || (a[0]->kind != Kind::Tuple && a[0]->kind != Kind::List)) bad("torch.Size needs one tuple argument");
      Object* t = make(Kind::Tuple);
      charge_copy(a[0]->items.size());
      for (Object* x : a[0]->items) {
        if (!is_int(x)) bad("torch.Size entries must be integers, got " + describe(x));
        t->items.push_back(x);
      }
      return t;
    }
    case GlobalRole::Device: {
      if (a.empty() || a.size() > 2) bad("torch.device takes 1 or 2 arguments");
      std::string s = text_of(a[0], "device type");
      if (a.size() == 2 && a[1]->kind != Kind::None) s += ":" + std::to_string(nonneg(a[1], "device index"));
      return make_str(std::move(s));
    }
    case GlobalRole::CodecsEncode: {
      if (a.size() != 2 || a[0]->kind != Kind::Str || a[1]->kind != Kind::Str) bad("_codecs.encode needs (str, encoding)");
      const std::string& enc = a[1]->str;
      if (enc == "utf-8" || enc == "utf8") return make_str(a[0]->str, Kind::Bytes);
      if (enc != "latin1" && enc != "latin-1" && enc != "iso-8859-1") {
        bad("_codecs.encode with encoding '" + printable(enc) + "' is not supported");
      }
      // Protocol 2 writes bytes b as the str b.decode('latin1'): code points < 256 map back
      // to one byte each. The string was checked to be UTF-8 when it was read.
      std::string out;
      const std::string& s = a[0]->str;
      for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
          out += static_cast<char>(c);
          i += 1;
        } else if ((c & 0xE0) == 0xC0 && c <= 0xC3) {
          out += static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F));
          i += 2;
        } else {
          bad("_codecs.encode: character is not representable in latin1");
        }
      }
      return make_str(std::move(out), Kind::Bytes);
    }
    case GlobalRole::Set: {
      Object* s = make(Kind::Set);
      if (a.empty()) return s;
      if (a.size() == 1 && (a[0]->kind == Kind::List || a[0]->kind == Kind::Tuple || a[0]->kind == Kind::Set)) {
        charge_copy(a[0]->items.size());
        s->items = a[0]->items;
        return s;
      }
      bad("set() called with unsupported arguments");
    }
    case GlobalRole::StorageType:
    case GlobalRole::DTypeObject:
      break;
  }
  bad(std::string(op) + " on " + describe(fn) + " is not allowed");
}

void Machine::build(Object* target, Object* state) {
  if (target->kind == Kind::Dict) {
    if (target->flag) return;  // OrderedDict: state is the module's _metadata, not data
    // argparse.Namespace: state is its __dict__; keep the attributes as items.
    if (state->kind == Kind::Dict) {
      charge_copy(state->dict.size());
      for (const auto& [k, v] : state->dict) set_item(target, k, v);
      return;
    }
    if (state->kind == Kind::None) return;
    bad("BUILD on a Namespace needs a dict state, got " + describe(state));
  }
  if (target->kind == Kind::Tensor) return;  // Python attributes on a tensor: not data we need
  bad("BUILD on " + describe(target) + " is not allowed");
}

PickleResult Machine::run() {
  PickleResult res;
  bool first = true;
  while (true) {
    op_pos_ = r_.pos();
    if (r_.at_end()) bad("pickle ends without a STOP opcode");
    const uint8_t op = r_.u8();
    const bool was_first = first;
    first = false;
    switch (op) {
      case PROTO: {
        const uint8_t v = r_.u8("protocol version");
        if (!was_first) bad("PROTO opcode after the start of the pickle");
        if (v > 5) bad("pickle protocol " + std::to_string(v) + " is not supported (0-5)");
        res.protocol = v;
        break;
      }
      case FRAME: {
        const uint64_t n = r_.u64("frame length");
        if (n > r_.remaining()) bad("pickle frame of " + std::to_string(n) + " bytes runs past the end");
        break;
      }
      case STOP: {
        if (!marks_.empty()) bad("pickle STOP inside an unclosed MARK");
        if (stack_.size() != 1) bad("pickle STOP with " + std::to_string(stack_.size()) + " values on the stack, expected 1");
        res.root = stack_.back();
        res.end = r_.pos();
        return res;
      }
      case MARK:
        if (marks_.size() >= limits_.max_marks) bad("pickle MARKs nest deeper than " + std::to_string(limits_.max_marks));
        marks_.push_back(stack_.size());
        break;

      case NONE: push(make(Kind::None)); break;
      case NEWTRUE: push(make_bool(true)); break;
      case NEWFALSE: push(make_bool(false)); break;
      case BININT: push(make_int(r_.i32("BININT"))); break;
      case BININT1: push(make_int(r_.u8("BININT1"))); break;
      case BININT2: push(make_int(r_.u16("BININT2"))); break;
      case LONG1: {
        const uint8_t n = r_.u8("LONG1 length");
        push(from_long_bytes(r_.take(n, "LONG1")));
        break;
      }
      case LONG4: {
        const int32_t n = r_.i32("LONG4 length");
        if (n < 0) bad("negative LONG4 length");
        if (n > 64) bad("LONG4 integer of " + std::to_string(n) + " bytes is too large");
        push(from_long_bytes(r_.take(static_cast<uint64_t>(n), "LONG4")));
        break;
      }
      case INT: {
        const std::string s = read_line();
        if (s == "00") push(make_bool(false));
        else if (s == "01") push(make_bool(true));
        else push(make_int(parse_decimal(s, "INT")));
        break;
      }
      case LONG: push(make_int(parse_decimal(read_line(), "LONG"))); break;
      case FLOAT: {
        const std::string s = read_line();
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size()) bad("bad FLOAT '" + printable(s) + "'");
        Object* o = make(Kind::Float);
        o->f = d;
        push(o);
        break;
      }
      case BINFLOAT: {
        r_.set_big_endian(true);
        const double d = r_.f64("BINFLOAT");
        r_.set_big_endian(false);
        Object* o = make(Kind::Float);
        o->f = d;
        push(o);
        break;
      }

      case BINUNICODE: push(make_str(r_.str(r_.u32("BINUNICODE length"), "BINUNICODE"))); break;
      case SHORT_BINUNICODE: push(make_str(r_.str(r_.u8("SHORT_BINUNICODE length"), "SHORT_BINUNICODE"))); break;
      case BINUNICODE8: push(make_str(r_.str(r_.u64("BINUNICODE8 length"), "BINUNICODE8"))); break;
      // Python 2 str: torch.load decodes them as UTF-8.
      case SHORT_BINSTRING: push(make_str(r_.str(r_.u8("SHORT_BINSTRING length"), "SHORT_BINSTRING"))); break;
      case BINSTRING: {
        const int32_t n = r_.i32("BINSTRING length");
        if (n < 0) bad("negative BINSTRING length");
        push(make_str(r_.str(static_cast<uint64_t>(n), "BINSTRING")));
        break;
      }
      case SHORT_BINBYTES: push(make_str(r_.str(r_.u8("SHORT_BINBYTES length"), "SHORT_BINBYTES"), Kind::Bytes)); break;
      case BINBYTES: push(make_str(r_.str(r_.u32("BINBYTES length"), "BINBYTES"), Kind::Bytes)); break;
      case BINBYTES8: push(make_str(r_.str(r_.u64("BINBYTES8 length"), "BINBYTES8"), Kind::Bytes)); break;
      case BYTEARRAY8: push(make_str(r_.str(r_.u64("BYTEARRAY8 length"), "BYTEARRAY8"), Kind::Bytes)); break;

      case EMPTY_TUPLE: push(make(Kind::Tuple)); break;
      case EMPTY_LIST: push(make(Kind::List)); break;
      case EMPTY_DICT: push(make(Kind::Dict)); break;
      case EMPTY_SET: push(make(Kind::Set)); break;
      case TUPLE1:
      case TUPLE2:
      case TUPLE3: {
        const size_t n = op - TUPLE1 + 1;
        if (stack_.size() < floor() + n) bad("pickle stack underflow");
        Object* t = make(Kind::Tuple);
        t->items.assign(stack_.end() - static_cast<ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        push(t);
        break;
      }
      case TUPLE:
      case LIST:
      case FROZENSET: {
        auto items = pop_mark();
        Object* t = make(op == TUPLE ? Kind::Tuple : op == LIST ? Kind::List : Kind::Set);
        t->items = std::move(items);
        push(t);
        break;
      }
      case DICT: {
        auto items = pop_mark();
        if (items.size() % 2) bad("DICT with an odd number of values");
        Object* d = make(Kind::Dict);
        for (size_t k = 0; k < items.size(); k += 2) set_item(d, items[k], items[k + 1]);
        push(d);
        break;
      }
      case APPEND: {
        Object* v = pop();
        require_list(top(), "APPEND")->items.push_back(v);
        break;
      }
      case APPENDS: {
        auto items = pop_mark();
        Object* l = require_list(top(), "APPENDS");
        l->items.insert(l->items.end(), items.begin(), items.end());
        break;
      }
      case SETITEM: {
        Object* v = pop();
        Object* k = pop();
        set_item(require_dict(top(), "SETITEM"), k, v);
        break;
      }
      case SETITEMS: {
        auto items = pop_mark();
        Object* d = require_dict(top(), "SETITEMS");
        if (items.size() % 2) bad("SETITEMS with an odd number of values");
        for (size_t k = 0; k < items.size(); k += 2) set_item(d, items[k], items[k + 1]);
        break;
      }
      case ADDITEMS: {
        auto items = pop_mark();
        Object* s = top();
        if (s->kind != Kind::Set) bad("ADDITEMS on " + describe(s) + "; only a set may take items");
        s->items.insert(s->items.end(), items.begin(), items.end());
        break;
      }

      case BINPUT: put(r_.u8("BINPUT index")); break;
      case LONG_BINPUT: put(r_.u32("LONG_BINPUT index")); break;
      case PUT: put(memo_index_text()); break;
      case MEMOIZE: put(memo_.size()); break;
      case BINGET: get(r_.u8("BINGET index")); break;
      case LONG_BINGET: get(r_.u32("LONG_BINGET index")); break;
      case GET: get(memo_index_text()); break;

      case GLOBAL: {
        std::string module = read_line();
        std::string name = read_line();
        global(std::move(module), std::move(name));
        break;
      }
      case STACK_GLOBAL: {
        Object* name = pop();
        Object* module = pop();
        if (module->kind != Kind::Str || name->kind != Kind::Str) bad("STACK_GLOBAL needs two strings");
        global(module->str, name->str);
        break;
      }
      case REDUCE: {
        Object* args = pop();
        Object* fn = pop();
        push(call(fn, args, "REDUCE"));
        break;
      }
      case NEWOBJ: {
        Object* args = pop();
        Object* cls = pop();
        if (cls->kind == Kind::Global && cls->role != GlobalRole::OrderedDict && cls->role != GlobalRole::Namespace &&
            cls->role != GlobalRole::RebuildParameter && cls->role != GlobalRole::Set) {
          bad("NEWOBJ on " + describe(cls) + " is not allowed");
        }
        push(call(cls, args, "NEWOBJ"));
        break;
      }
      case NEWOBJ_EX: {
        Object* kwargs = pop();
        Object* args = pop();
        Object* cls = pop();
        if (kwargs->kind != Kind::Dict || !kwargs->dict.empty()) bad("NEWOBJ_EX with keyword arguments is not allowed");
        if (cls->kind == Kind::Global && cls->role != GlobalRole::OrderedDict && cls->role != GlobalRole::Namespace &&
            cls->role != GlobalRole::Set) {
          bad("NEWOBJ_EX on " + describe(cls) + " is not allowed");
        }
        push(call(cls, args, "NEWOBJ_EX"));
        break;
      }
      case BUILD: {
        Object* state = pop();
        build(top(), state);
        break;
      }
      case BINPERSID: push(persistent_load(pop())); break;

      case INST: bad("refusing to load: the pickle uses INST, which creates arbitrary objects");
      case OBJ: bad("refusing to load: the pickle uses OBJ, which creates arbitrary objects");
      case EXT1:
      case EXT2:
      case EXT4: bad("refusing to load: the pickle uses an extension-registry opcode (EXT1/2/4)");
      case PERSID: bad("refusing to load: the pickle uses a text PERSID, which checkpoints never need");
      case POP:
      case POP_MARK:
      case DUP: bad("pickle uses POP/POP_MARK/DUP, which torch.save never writes; refusing to load");
      case NEXT_BUFFER:
      case READONLY_BUFFER: bad("pickle uses out-of-band buffers, which are not supported");
      case STRING:
      case UNICODE: bad("pickle uses protocol-0 quoted strings, which are not supported");
      default: {
        static const char* hex = "0123456789abcdef";
        bad(std::string("unknown pickle opcode 0x") + hex[op >> 4] + hex[op & 15]);
      }
    }
  }
}

}  // namespace

std::string describe(const Object* o) { return describe_impl(o); }

PickleResult run_pickle(Arena& arena, std::span<const uint8_t> bytes, const std::string& file, uint64_t base,
                        const PickleLimits& limits) {
  Machine m(arena, bytes, file, base, limits);
  PickleResult res = m.run();
  res.storages = std::move(m.storages_);
  return res;
}

}  // namespace lmforge::pickle
