#include "formats/pickle/checkpoint_tree.h"

#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"

namespace lmforge::pickle {

namespace {

std::string key_text(const Object* k) {
  switch (k->kind) {
    case Kind::Str: return k->str;
    case Kind::Int: return std::to_string(k->i);
    case Kind::Bool: return k->flag ? "True" : "False";
    case Kind::None: return "None";
    case Kind::Bytes: {
      // Keys are for display and lookup; show bytes as hex so the name stays valid UTF-8.
      static const char* hex = "0123456789abcdef";
      std::string s = "0x";
      for (unsigned char c : k->str) {
        s += hex[c >> 4];
        s += hex[c & 15];
      }
      return s;
    }
    default: return "?";
  }
}

bool has_control(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

std::string shown(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Cuts a UTF-8 string at a character boundary.
std::string truncated(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

// Children share their parent's path and build their own only when they are visited, so a
// wide container under a long key never holds many long strings at once.
struct Item {
  const Object* obj;
  std::shared_ptr<const std::string> parent;
  const Object* key;  // dict key, or null for a list/tuple index
  size_t index;
  size_t depth;
};

}  // namespace

CheckpointTree walk_checkpoint(const Object* root, const std::string& file, const TreeLimits& limits) {
  CheckpointTree out;
  std::unordered_set<const Object*> expanded;
  std::unordered_map<std::string, size_t> names;
  bool values_full = false;
  bool warned_shared = false;

  auto join = [](const std::string& path, const std::string& comp) {
    return path.empty() ? comp : path + "." + comp;
  };
  auto record = [&](const std::string& path, nlohmann::json v) {
    if (out.values.size() >= limits.max_values) {
      if (!values_full) out.warnings.push_back("only the first " + std::to_string(limits.max_values) + " plain values are shown");
      values_full = true;
      return;
    }
    out.values[path.empty() ? "(root)" : path] = std::move(v);
  };

  std::vector<Item> todo;
  todo.push_back({root, nullptr, nullptr, 0, 0});
  while (!todo.empty()) {
    Item it = std::move(todo.back());
    todo.pop_back();
    const Object* o = it.obj;
    const std::string path = !it.parent ? std::string() : join(*it.parent, it.key ? key_text(it.key) : std::to_string(it.index));
    if (path.size() > limits.max_path) {
      fail(file, "checkpoint has a key path longer than " + std::to_string(limits.max_path) + " bytes ('" +
                     shown(path.substr(0, 64)) + "...')", o->offset);
    }
    switch (o->kind) {
      case Kind::Tensor: {
        std::string name = path.empty() ? "tensor" : path;
        if (has_control(name)) fail(file, "tensor name '" + shown(name) + "' contains a control character", o->offset);
        if (!names.emplace(name, out.tensors.size()).second) {
          fail(file, "tensor name '" + shown(name) + "' appears twice", o->offset);
        }
        out.tensors.push_back({std::move(name), o});
        break;
      }
      case Kind::Dict:
      case Kind::List:
      case Kind::Tuple:
      case Kind::Set: {
        const bool is_dict = o->kind == Kind::Dict;
        const bool empty = is_dict ? o->dict.empty() : o->items.empty();
        if (empty) {
          record(path, is_dict ? nlohmann::json::object() : nlohmann::json::array());
          break;
        }
        if (!expanded.insert(o).second) {
          // Shared (or cyclic) containers are listed once, under their first path.
          if (!warned_shared) out.warnings.push_back("a container is referenced more than once; '" + shown(path) + "' is listed only under its first name");
          warned_shared = true;
          break;
        }
        if (it.depth >= limits.max_depth) {
          fail(file, "checkpoint nests containers deeper than " + std::to_string(limits.max_depth) + " levels", o->offset);
        }
        // Pushed in reverse so that items come out in the pickle's order.
        auto parent = std::make_shared<const std::string>(path);
        if (is_dict) {
          for (size_t k = o->dict.size(); k-- > 0;) {
            todo.push_back({o->dict[k].second, parent, o->dict[k].first, k, it.depth + 1});
          }
        } else {
          for (size_t k = o->items.size(); k-- > 0;) todo.push_back({o->items[k], parent, nullptr, k, it.depth + 1});
        }
        break;
      }
      case Kind::None: record(path, nullptr); break;
      case Kind::Bool: record(path, o->flag); break;
      case Kind::Int: record(path, o->i); break;
      case Kind::BigInt: record(path, "<" + std::to_string(o->str.size() * 8) + "-bit integer>"); break;
      case Kind::Float: record(path, o->f); break;
      case Kind::Str: record(path, truncated(o->str, limits.max_string)); break;
      case Kind::Bytes: record(path, "<" + std::to_string(o->str.size()) + " bytes>"); break;
      case Kind::Global: record(path, o->str + "." + o->name); break;
      case Kind::Storage: record(path, "<storage '" + o->storage().key + "'>"); break;
    }
  }
  return out;
}

}  // namespace lmforge::pickle
