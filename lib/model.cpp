#include "roofline/model.hpp"

#include <algorithm>
#include <fstream>
#include <ostream>
#include <sstream>

#include "detail/json_reader.hpp"
#include "detail/yaml_reader.hpp"
#include "roofline/errors.hpp"
#include "roofline/hardware.hpp"

namespace roofline {

std::ostream& operator<<(std::ostream& os, const ModelConfig& m) {
  os << "ModelConfig{" << m.name << ": H=" << m.hidden_size << " L=" << m.num_layers << " nh=" << m.num_attention_heads
     << " nkv=" << m.num_kv_heads << " dh=" << m.head_dim << " dff=" << m.ffn_size << " V=" << m.vocab_size;
  if (m.moe.enabled()) os << " experts=" << m.moe.num_experts << " top" << m.moe.experts_per_token;
  return os << "}";
}

void validate_model(const ModelConfig& m) {
  const std::string who = "model '" + m.name + "': ";
  auto positive = [&](const char* what, std::int64_t v) {
    if (v < 1) throw InvalidArgumentError(who + what + ": must be >= 1, got " + std::to_string(v));
  };
  positive("hidden_size", m.hidden_size);
  positive("num_layers", m.num_layers);
  positive("num_attention_heads", m.num_attention_heads);
  positive("num_kv_heads", m.num_kv_heads);
  positive("head_dim", m.head_dim);
  positive("ffn_size", m.ffn_size);
  if (m.vocab_size < 0) throw InvalidArgumentError(who + "vocab_size: must be >= 0");
  if (m.num_attention_heads % m.num_kv_heads != 0) {
    throw InvalidArgumentError(who + "num_attention_heads (" + std::to_string(m.num_attention_heads) +
                               ") must be a multiple of num_kv_heads (" + std::to_string(m.num_kv_heads) + ")");
  }
  if (m.moe.enabled()) {
    if (m.moe.experts_per_token < 1 || m.moe.experts_per_token > m.moe.num_experts) {
      throw InvalidArgumentError(who + "moe.experts_per_token must be in [1, num_experts=" +
                                 std::to_string(m.moe.num_experts) + "], got " + std::to_string(m.moe.experts_per_token));
    }
  }
  if (m.sliding_window_tokens && *m.sliding_window_tokens < 1)
    throw InvalidArgumentError(who + "sliding_window_tokens: must be >= 1");
}

namespace {
double attention_params(const ModelConfig& m) {
  const double h = double(m.hidden_size);
  double p = h * m.q_width() + 2.0 * h * m.kv_width() + double(m.q_width()) * h;
  if (m.qkv_bias) p += double(m.q_width() + 2 * m.kv_width());
  return p;
}
double expert_params(const ModelConfig& m) { return 3.0 * double(m.hidden_size) * double(m.ffn_size); }
double embedding_params(const ModelConfig& m) {
  const double e = double(m.vocab_size) * double(m.hidden_size);
  return m.tied_embeddings ? e : 2.0 * e;
}
}  // namespace

double parameter_count(const ModelConfig& m) {
  const double experts = m.moe.enabled() ? double(m.moe.num_experts) : 1.0;
  const double router = m.moe.enabled() ? double(m.hidden_size) * double(m.moe.num_experts) : 0.0;
  const double per_layer = attention_params(m) + experts * expert_params(m) + router + 2.0 * double(m.hidden_size);
  return double(m.num_layers) * per_layer + embedding_params(m) + double(m.hidden_size);
}

double active_parameter_count(const ModelConfig& m) {
  const double experts = m.moe.enabled() ? double(m.moe.experts_per_token) : 1.0;
  const double router = m.moe.enabled() ? double(m.hidden_size) * double(m.moe.num_experts) : 0.0;
  const double per_layer = attention_params(m) + experts * expert_params(m) + router + 2.0 * double(m.hidden_size);
  return double(m.num_layers) * per_layer + embedding_params(m) + double(m.hidden_size);
}

std::vector<LinearLayer> linear_layers(const ModelConfig& m) {
  const std::int64_t experts = m.moe.enabled() ? m.moe.num_experts : 1;
  std::vector<LinearLayer> out = {
      {"q_proj", m.q_width(), m.hidden_size, 1},        {"k_proj", m.kv_width(), m.hidden_size, 1},
      {"v_proj", m.kv_width(), m.hidden_size, 1},       {"o_proj", m.hidden_size, m.q_width(), 1},
      {"gate_proj", m.ffn_size, m.hidden_size, experts}, {"up_proj", m.ffn_size, m.hidden_size, experts},
      {"down_proj", m.hidden_size, m.ffn_size, experts},
  };
  if (m.moe.enabled()) out.push_back({"router", m.moe.num_experts, m.hidden_size, 1});
  if (m.vocab_size > 0) out.push_back({"lm_head", m.vocab_size, m.hidden_size, 0});
  return out;
}

ModelConfig model_from_inline(const std::map<std::string, std::int64_t>& fields, std::string name) {
  static const std::vector<std::string> required = {"H", "L", "nh", "nkv", "dh", "dff"};
  static const std::vector<std::string> optional = {"V", "E", "topk"};
  for (const auto& [k, v] : fields) {
    if (std::find(required.begin(), required.end(), k) == required.end() &&
        std::find(optional.begin(), optional.end(), k) == optional.end()) {
      throw InvalidArgumentError("inline model: unknown key '" + k + "' (keys: H, L, nh, nkv, dh, dff, V, E, topk)");
    }
  }
  for (const std::string& k : required)
    if (!fields.count(k)) throw InvalidArgumentError("inline model: missing key '" + k + "' (required: H, L, nh, nkv, dh, dff)");
  ModelConfig m;
  m.name = std::move(name);
  m.display_name = m.name;
  m.source = "inline configuration";
  m.hidden_size = fields.at("H");
  m.num_layers = fields.at("L");
  m.num_attention_heads = fields.at("nh");
  m.num_kv_heads = fields.at("nkv");
  m.head_dim = fields.at("dh");
  m.ffn_size = fields.at("dff");
  m.vocab_size = fields.count("V") ? fields.at("V") : 0;
  if (fields.count("E")) {
    m.moe.num_experts = fields.at("E");
    m.moe.experts_per_token = fields.count("topk") ? fields.at("topk") : 2;
  }
  validate_model(m);
  return m;
}

namespace {
constexpr int model_schema_version = 1;

ModelConfig parse_model_yaml(const YAML::Node& doc, const std::string& file) {
  using detail::YamlMap;
  const YamlMap root = detail::root_map(doc, file);
  root.allow_only({"schema_version", "name", "display_name", "source", "hidden_size", "num_layers",
                   "num_attention_heads", "num_kv_heads", "head_dim", "ffn_size", "vocab_size", "tied_embeddings",
                   "qkv_bias", "max_context_tokens", "sliding_window_tokens", "moe"});
  const std::int64_t version = root.integer("schema_version");
  if (version != model_schema_version)
    root.fail("schema_version", "unsupported schema version " + std::to_string(version) + " (this library reads 1)");
  ModelConfig m;
  m.file = file;
  m.name = root.string("name");
  m.display_name = root.string("display_name");
  m.source = root.string("source");
  m.hidden_size = root.positive_integer("hidden_size");
  m.num_layers = root.positive_integer("num_layers");
  m.num_attention_heads = root.positive_integer("num_attention_heads");
  m.num_kv_heads = root.positive_integer("num_kv_heads");
  m.head_dim = root.positive_integer("head_dim");
  m.ffn_size = root.positive_integer("ffn_size");
  m.vocab_size = root.positive_integer("vocab_size");
  m.tied_embeddings = root.boolean("tied_embeddings");
  m.qkv_bias = root.boolean("qkv_bias");
  m.max_context_tokens = root.positive_integer("max_context_tokens");
  m.sliding_window_tokens = root.optional_positive_integer("sliding_window_tokens");
  if (root.has("moe")) {
    const YamlMap moe = root.map("moe");
    moe.allow_only({"num_experts", "experts_per_token"});
    m.moe.num_experts = moe.positive_integer("num_experts");
    m.moe.experts_per_token = moe.positive_integer("experts_per_token");
    if (m.moe.experts_per_token > m.moe.num_experts)
      moe.fail("experts_per_token", "must be <= num_experts (" + std::to_string(m.moe.num_experts) + ")");
  }
  if (m.num_attention_heads % m.num_kv_heads != 0) {
    root.fail("num_kv_heads", "must divide num_attention_heads (" + std::to_string(m.num_attention_heads) + "), got " +
                                  std::to_string(m.num_kv_heads));
  }
  return m;
}
}  // namespace

ModelConfig load_model_file(const std::filesystem::path& path) {
  return parse_model_yaml(detail::load_yaml_file(path), path.string());
}

ModelConfig load_hf_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError({path.string(), 0, 0}, "", "cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw ConfigError({path.string(), 0, 0}, "", "empty file");
  const nlohmann::json j = detail::parse_json(text, path.string());
  const detail::JsonObject o(j, path.string(), 0, "");
  ModelConfig m;
  m.file = path.string();
  m.name = path.parent_path().filename().string();
  if (m.name.empty() || m.name == ".") m.name = path.stem().string();
  m.display_name = o.has("_name_or_path") && j["_name_or_path"].is_string() ? j["_name_or_path"].get<std::string>() : m.name;
  m.source = "Hugging Face config.json: " + path.string();
  m.hidden_size = o.positive_integer("hidden_size");
  m.num_layers = o.positive_integer("num_hidden_layers");
  m.num_attention_heads = o.positive_integer("num_attention_heads");
  m.num_kv_heads = o.optional_positive_integer("num_key_value_heads").value_or(m.num_attention_heads);
  if (o.has("head_dim") && !j["head_dim"].is_null()) {
    m.head_dim = o.positive_integer("head_dim");
  } else {
    if (m.hidden_size % m.num_attention_heads != 0) o.fail("head_dim", "absent and hidden_size is not a multiple of num_attention_heads");
    m.head_dim = m.hidden_size / m.num_attention_heads;
  }
  m.ffn_size = o.positive_integer("intermediate_size");
  m.vocab_size = o.positive_integer("vocab_size");
  m.tied_embeddings = o.optional_boolean("tie_word_embeddings").value_or(false);
  const std::string type = o.has("model_type") ? o.string("model_type") : std::string();
  // Qwen2 has q/k/v biases by construction (no config key); Llama exposes attention_bias.
  m.qkv_bias = type == "qwen2" || o.optional_boolean("attention_bias").value_or(false);
  m.max_context_tokens = o.optional_positive_integer("max_position_embeddings").value_or(0);
  const bool sliding = !o.has("use_sliding_window") || o.optional_boolean("use_sliding_window").value_or(false);
  if (sliding && o.has("sliding_window") && !j["sliding_window"].is_null())
    m.sliding_window_tokens = o.positive_integer("sliding_window");
  if (o.has("num_local_experts")) {
    m.moe.num_experts = o.positive_integer("num_local_experts");
    m.moe.experts_per_token = o.positive_integer("num_experts_per_tok");
  }
  if (m.num_attention_heads % m.num_kv_heads != 0) o.fail("num_key_value_heads", "must divide num_attention_heads");
  if (m.moe.enabled() && m.moe.experts_per_token > m.moe.num_experts)
    o.fail("num_experts_per_tok", "must be <= num_local_experts");
  return m;
}

ModelRegistry ModelRegistry::load_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw ConfigError({dir.string(), 0, 0}, "", "model directory not found");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ModelRegistry r;
  for (const auto& f : files) r.add_file(f);
  return r;
}

ModelRegistry ModelRegistry::load_default() { return load_directory(data_directory() / "models"); }

const ModelConfig& ModelRegistry::add_file(const std::filesystem::path& path) {
  ModelConfig m = path.extension() == ".json" ? load_hf_config(path) : load_model_file(path);
  if (models_.count(m.name)) {
    throw ConfigError({path.string(), 0, 0}, "name", "model name '" + m.name + "' is already defined by " + models_.at(m.name).file);
  }
  std::string name = m.name;
  return models_.emplace(std::move(name), std::move(m)).first->second;
}

void ModelRegistry::add(ModelConfig m) {
  validate_model(m);
  if (models_.count(m.name)) throw InvalidArgumentError("model name '" + m.name + "' is already defined");
  std::string name = m.name;
  models_.emplace(std::move(name), std::move(m));
}

const ModelConfig* ModelRegistry::find(std::string_view name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : &it->second;
}

const ModelConfig& ModelRegistry::get(std::string_view name) const {
  if (const ModelConfig* m = find(name)) return *m;
  throw UnknownNameError("model", std::string(name), names());
}

std::vector<std::string> ModelRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [n, m] : models_) out.push_back(n);
  return out;
}

}  // namespace roofline
