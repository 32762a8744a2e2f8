// Transformer model shapes: decoder-only, pre-norm, RMSNorm, gated SiLU FFN (Llama family, Qwen2,
// Mistral, Mixtral), grouped-query attention, optional mixture of experts. Loaded from models/*.yaml,
// from a Hugging Face config.json, or from the seed's inline form {"H","L","nh","nkv","dh","dff"}.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace roofline {

struct MoeConfig {
  std::int64_t num_experts = 0;        ///< 0: dense FFN
  std::int64_t experts_per_token = 0;  ///< top-k
  bool enabled() const { return num_experts > 0; }
  bool operator==(const MoeConfig&) const = default;
};

struct ModelConfig {
  std::string name;
  std::string display_name;
  std::string source;
  std::int64_t hidden_size = 0;
  std::int64_t num_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t ffn_size = 0;     ///< per expert for MoE models
  std::int64_t vocab_size = 0;   ///< 0: unknown (inline form without "V"): no embedding or LM head ops
  bool tied_embeddings = false;
  bool qkv_bias = false;
  std::int64_t max_context_tokens = 0;  ///< 0: not stated
  std::optional<std::int64_t> sliding_window_tokens;
  MoeConfig moe;
  std::string file;  ///< where it was loaded from ("" for inline)
  bool operator==(const ModelConfig&) const = default;

  std::int64_t q_width() const { return num_attention_heads * head_dim; }   ///< Q projection outputs
  std::int64_t kv_width() const { return num_kv_heads * head_dim; }         ///< K (or V) projection outputs
  std::int64_t gqa_group() const { return num_attention_heads / num_kv_heads; }
};
std::ostream& operator<<(std::ostream& os, const ModelConfig& m);

/// Throws InvalidArgumentError when shapes are impossible (a KV head count that does not divide the query
/// heads, non-positive sizes, top-k above the expert count).
void validate_model(const ModelConfig& m);

/// Parameters of the whole model (embeddings, LM head unless tied, norms, all experts).
/// Llama-3-8B: 8.03e9.
double parameter_count(const ModelConfig& m);
/// Parameters touched per token (MoE: only experts_per_token experts). Mixtral 8x7B: 12.9e9 of 46.7e9.
double active_parameter_count(const ModelConfig& m);

/// One linear layer's weight shape W[out_features, in_features], y = x·Wᵀ.
struct LinearLayer {
  std::string name;                  ///< q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, lm_head, router
  std::int64_t out_features = 0;     ///< N
  std::int64_t in_features = 0;      ///< K
  std::int64_t count_per_layer = 1;  ///< instances per decoder layer (experts for MoE FFNs; 0 for lm_head)
  bool operator==(const LinearLayer&) const = default;
};
/// The distinct linear layers of one decoder layer plus the LM head (when the vocabulary is known).
std::vector<LinearLayer> linear_layers(const ModelConfig& m);

/// The seed's inline form: keys H, L, nh, nkv, dh, dff (required) and V (vocabulary), E (experts),
/// topk (optional). Unknown keys are an error.
ModelConfig model_from_inline(const std::map<std::string, std::int64_t>& fields, std::string name = "inline");
/// A models/*.yaml file; throws ConfigError with file:line:column and key path.
ModelConfig load_model_file(const std::filesystem::path& path);
/// A Hugging Face config.json (LlamaForCausalLM, Qwen2, Mistral, Mixtral); throws ConfigError.
ModelConfig load_hf_config(const std::filesystem::path& path);

class ModelRegistry {
 public:
  static ModelRegistry load_directory(const std::filesystem::path& dir);
  /// The shipped models (data_directory() / "models").
  static ModelRegistry load_default();
  /// Adds a model from a .yaml or a Hugging Face .json file; duplicate names are an error.
  const ModelConfig& add_file(const std::filesystem::path& path);
  void add(ModelConfig m);
  /// Throws UnknownNameError listing the known names.
  const ModelConfig& get(std::string_view name) const;
  const ModelConfig* find(std::string_view name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, ModelConfig, std::less<>>& all() const { return models_; }

 private:
  std::map<std::string, ModelConfig, std::less<>> models_;
};

}  // namespace roofline
