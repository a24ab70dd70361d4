#include "formats/sharded_source.h"

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/error.h"

namespace lmforge {

namespace {

class ShardedSource final : public TensorSource {
 public:
  ShardedSource(std::vector<std::unique_ptr<TensorSource>> shards, std::string description)
      : shards_(std::move(shards)), description_(std::move(description)) {
    std::unordered_map<std::string, size_t> seen;  // name -> shard
    for (size_t s = 0; s < shards_.size(); ++s) {
      if (!shards_[s]) fail("", "sharded source given an empty shard");
      const auto& ts = shards_[s]->tensors();
      for (size_t i = 0; i < ts.size(); ++i) {
        auto [it, fresh] = seen.emplace(ts[i].name, s);
        if (!fresh) {
          const auto& first = shards_[it->second]->tensors();
          const auto j = shards_[it->second]->find(ts[i].name);
          fail(ts[i].file,
               "tensor '" + ts[i].name + "' is also in " +
                   (j >= 0 ? first[static_cast<size_t>(j)].file : std::string("another shard")));
        }
        tensors_.push_back(ts[i]);
        where_.push_back({s, i});
      }
    }
  }

  std::string format_description() const override { return description_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  TensorBytes read(size_t index) const override {
    const auto& w = where_.at(index);
    return shards_[w.shard]->read(w.index);
  }
  nlohmann::json metadata() const override {
    nlohmann::json shards = nlohmann::json::array();
    for (const auto& s : shards_) {
      const auto& ts = s->tensors();
      shards.push_back({{"format", s->format_description()},
                        {"file", ts.empty() ? std::string() : ts.front().file},
                        {"tensors", ts.size()},
                        {"metadata", s->metadata()}});
    }
    return {{"shards", shards}};
  }
  std::vector<std::string> warnings() const override {
    std::vector<std::string> w;
    for (const auto& s : shards_)
      for (auto& x : s->warnings()) w.push_back(std::move(x));
    return w;
  }

 private:
  struct Where {
    size_t shard, index;
  };
  std::vector<std::unique_ptr<TensorSource>> shards_;
  std::string description_;
  std::vector<TensorInfo> tensors_;
  std::vector<Where> where_;
};

}  // namespace

std::unique_ptr<TensorSource> make_sharded_source(std::vector<std::unique_ptr<TensorSource>> shards,
                                                  std::string description) {
  return std::make_unique<ShardedSource>(std::move(shards), std::move(description));
}

}  // namespace lmforge
