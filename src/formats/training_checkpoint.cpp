#include "formats/training_checkpoint.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"

namespace lmforge {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::string top_key(const std::string& path) { return path.substr(0, path.find('.')); }

// Where a checkpoint keeps its model weights, and how their names are cleaned.
struct WeightsPlan {
  std::string kind;        // "lightning", "model+optimizer", "state_dict"; empty: not a training checkpoint
  std::string root;        // "state_dict", "model", ... (empty for a bare state_dict)
  std::string stripped;    // wrapper prefixes removed from every weight name, e.g. "model.module."
  std::vector<size_t> weights;  // indices of the model tensors in the source
  std::vector<std::string> names;  // their cleaned names
};

// Keys that mark a dict as the state of a training run rather than a model.
const std::set<std::string>& training_keys() {
  static const std::set<std::string> k = {"optimizer", "optimizer_state_dict", "optimizer_states", "epoch", "global_step",
                                          "step", "iteration", "scheduler", "lr_scheduler", "lr_schedulers", "scaler"};
  return k;
}

WeightsPlan plan_weights(const TensorSource& src) {
  WeightsPlan plan;
  const auto& ts = src.tensors();
  std::set<std::string> tops;
  for (const auto& t : ts) tops.insert(top_key(t.name));
  const nlohmann::json md = src.metadata();
  if (md.is_object() && md.contains("values") && md["values"].is_object())
    for (const auto& [path, v] : md["values"].items()) tops.insert(top_key(path));

  const bool lightning = tops.count("pytorch-lightning_version") ||
                         (tops.count("state_dict") && (tops.count("optimizer_states") || tops.count("global_step")));
  bool training = false;
  for (const auto& k : training_keys()) training = training || tops.count(k);
  if (lightning) {
    plan.kind = "lightning";
    plan.root = "state_dict";
  } else if (training) {
    for (const char* root : {"model_state_dict", "model", "state_dict", "module"}) {
      const std::string p = std::string(root) + ".";
      if (std::any_of(ts.begin(), ts.end(), [&](const TensorInfo& t) { return starts_with(t.name, p); })) {
        plan.kind = "model+optimizer";
        plan.root = root;
        break;
      }
    }
  }
  const std::string root_prefix = plan.root.empty() ? "" : plan.root + ".";
  for (size_t i = 0; i < ts.size(); ++i) {
    if (!starts_with(ts[i].name, root_prefix)) continue;
    plan.weights.push_back(i);
    plan.names.push_back(ts[i].name.substr(root_prefix.size()));
  }
  // Wrapper prefixes go only when every weight has them: DDP's "module.", torch.compile's
  // "_orig_mod.", and inside a training checkpoint the attribute that holds the network
  // ("model."). A bare state_dict keeps "model.", which is part of Hugging Face's names.
  std::vector<std::string> wrappers = {"module.", "_orig_mod."};
  if (!plan.kind.empty()) wrappers.push_back("model.");
  for (bool again = !plan.names.empty(); again;) {
    again = false;
    for (const auto& w : wrappers) {
      if (std::all_of(plan.names.begin(), plan.names.end(), [&](const std::string& n) { return starts_with(n, w) && n.size() > w.size(); })) {
        for (auto& n : plan.names) n = n.substr(w.size());
        plan.stripped += w;
        again = true;
      }
    }
  }
  if (plan.kind.empty() && !plan.stripped.empty()) plan.kind = "state_dict";
  if (plan.kind.empty() || plan.weights.empty()) return {};
  return plan;
}

// A training checkpoint seen through its model weights only, under cleaned names.
class WeightsOnlySource : public TensorSource {
 public:
  WeightsOnlySource(std::unique_ptr<TensorSource> inner, WeightsPlan plan, nlohmann::json summary)
      : inner_(std::move(inner)), plan_(std::move(plan)), summary_(std::move(summary)) {
    for (size_t k = 0; k < plan_.weights.size(); ++k) {
      TensorInfo t = inner_->tensors()[plan_.weights[k]];
      t.name = plan_.names[k];
      infos_.push_back(std::move(t));
    }
  }
  std::string format_description() const override { return inner_->format_description() + ", model weights only"; }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  TensorBytes read(size_t index) const override {
    if (index >= plan_.weights.size()) fail(inner_->tensors().empty() ? "" : inner_->tensors()[0].file, "tensor index out of range");
    return inner_->read(plan_.weights[index]);
  }
  nlohmann::json metadata() const override {
    nlohmann::json md = inner_->metadata();
    if (md.is_object()) md["training_checkpoint"] = summary_;
    return md;
  }
  std::vector<std::string> warnings() const override { return inner_->warnings(); }

 private:
  std::unique_ptr<TensorSource> inner_;
  WeightsPlan plan_;
  nlohmann::json summary_;
  std::vector<TensorInfo> infos_;
};

// The last component of a path ("optimizer.state.3.exp_avg" -> "exp_avg").
std::string last_key(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

}  // namespace

nlohmann::json describe_training_checkpoint(const TensorSource& src) {
  const WeightsPlan plan = plan_weights(src);
  if (plan.kind.empty()) return nullptr;
  const auto& ts = src.tensors();
  nlohmann::json out = nlohmann::json::object();
  out["kind"] = plan.kind;

  uint64_t w_params = 0, w_bytes = 0;
  std::vector<bool> is_weight(ts.size(), false);
  for (size_t i : plan.weights) {
    is_weight[i] = true;
    w_params += ts[i].numel();
    w_bytes += ts[i].nbytes;
  }
  out["weights"] = {{"root", plan.root}, {"prefix_stripped", plan.stripped}, {"tensors", plan.weights.size()},
                    {"parameters", w_params}, {"bytes", w_bytes}};

  // Optimizer state: Lightning keeps a list under optimizer_states, plain dicts one optimizer.
  const std::string opt_root = plan.kind == "lightning" ? "optimizer_states" : "optimizer";
  nlohmann::json moments = nlohmann::json::object();
  std::set<std::string> params_with_state;
  uint64_t o_tensors = 0, o_elems = 0, o_bytes = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> dropped;  // top key -> tensors, bytes
  for (size_t i = 0; i < ts.size(); ++i) {
    if (is_weight[i]) continue;
    const std::string top = top_key(ts[i].name);
    auto& d = dropped[top];
    d.first += 1;
    d.second += ts[i].nbytes;
    if (top != opt_root && top != "optimizer_state_dict") continue;
    ++o_tensors;
    o_elems += ts[i].numel();
    o_bytes += ts[i].nbytes;
    const std::string moment = last_key(ts[i].name);
    moments[moment] = moments.value(moment, 0) + 1;
    const size_t st = ts[i].name.find(".state.");
    if (st != std::string::npos) {
      const std::string rest = ts[i].name.substr(0, ts[i].name.find('.', st + 7));
      params_with_state.insert(rest);
    }
  }
  const nlohmann::json md = src.metadata();
  const nlohmann::json values = md.is_object() && md.contains("values") && md["values"].is_object() ? md["values"] : nlohmann::json::object();
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& [path, v] : values.items()) {
    const std::string top = top_key(path);
    if (top != opt_root && top != "optimizer_state_dict") continue;
    const std::string key = last_key(path);
    if (key == "step" && v.is_number()) moments["step"] = moments.value("step", 0) + 1;
    if ((key == "lr" || key == "weight_decay") && path.find(".param_groups.") != std::string::npos) groups.push_back({{"path", path}, {key, v}});
  }
  if (o_tensors > 0 || !groups.empty() || moments.contains("step"))
    out["optimizer"] = {{"tensors", o_tensors}, {"elements", o_elems}, {"bytes", o_bytes},
                        {"parameters_with_state", params_with_state.size()}, {"moments", moments}, {"param_groups", groups}};

  // Counters and hyper-parameters are plain values at the top of the dict.
  nlohmann::json counters = nlohmann::json::object();
  nlohmann::json hparams = nlohmann::json::object();
  for (const auto& [path, v] : values.items()) {
    if (path.find('.') == std::string::npos && v.is_number_integer() && training_keys().count(path)) counters[path] = v;
    for (const char* hp : {"hyper_parameters.", "hparams.", "args.", "config."})
      if (starts_with(path, hp) && hparams.size() < 200) hparams[path.substr(std::string(hp).size())] = v;
  }
  if (values.contains("pytorch-lightning_version")) out["pytorch_lightning_version"] = values["pytorch-lightning_version"];
  out["counters"] = counters;
  if (!hparams.empty()) out["hyper_parameters"] = hparams;
  nlohmann::json drop = nlohmann::json::object();
  for (const auto& [top, d] : dropped) drop[top] = {{"tensors", d.first}, {"bytes", d.second}};
  out["dropped_on_convert"] = drop;
  return out;
}

std::unique_ptr<TensorSource> training_checkpoint_weights(std::unique_ptr<TensorSource> checkpoint) {
  WeightsPlan plan = plan_weights(*checkpoint);
  if (plan.kind.empty()) return checkpoint;
  nlohmann::json summary = describe_training_checkpoint(*checkpoint);
  return std::make_unique<WeightsOnlySource>(std::move(checkpoint), std::move(plan), std::move(summary));
}

}  // namespace lmforge
