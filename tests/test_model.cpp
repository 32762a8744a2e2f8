#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include "roofline/errors.hpp"
#include "roofline/model.hpp"
#include "test_support.hpp"

using namespace roofline;
using roofline::test::bad;
using roofline::test::models;

TEST_CASE("every shipped model loads with its published shape") {
  CHECK(models().names() ==
        std::vector<std::string>{"llama3-70b", "llama3-8b", "llama3.1-405b", "mistral-7b", "mixtral-8x7b", "qwen2.5-7b"});
  const ModelConfig& m = models().get("llama3-8b");
  CHECK(m.hidden_size == 4096);
  CHECK(m.num_layers == 32);
  CHECK(m.num_attention_heads == 32);
  CHECK(m.num_kv_heads == 8);
  CHECK(m.head_dim == 128);
  CHECK(m.ffn_size == 14336);
  CHECK(m.vocab_size == 128256);
  CHECK(m.gqa_group() == 4);
  CHECK(models().get("mistral-7b").sliding_window_tokens == 4096);
  CHECK(models().get("qwen2.5-7b").qkv_bias);
}

TEST_CASE("parameter counts match the published sizes") {
  // Llama-3-8B: per layer q 4096² + k,v 2·1024·4096 + o 4096² + 3·14336·4096 + 2 norms = 218,112,000;
  // ×32 = 6,979,584,000; + embeddings and LM head 2·128256·4096 = 1,050,673,152; + final norm 4096.
  CHECK(parameter_count(models().get("llama3-8b")) == ROOFLINE_APPROX(8030261248.0));
  CHECK(parameter_count(models().get("llama3-70b")) == ROOFLINE_APPROX(70.55e9).epsilon(1e-3));
  CHECK(parameter_count(models().get("llama3.1-405b")) == ROOFLINE_APPROX(405.85e9).epsilon(1e-3));
  CHECK(parameter_count(models().get("mistral-7b")) == ROOFLINE_APPROX(7.24e9).epsilon(1e-3));
  CHECK(parameter_count(models().get("qwen2.5-7b")) == ROOFLINE_APPROX(7.62e9).epsilon(1e-3));
  // Mixtral 8x7B: 46.7B total, 12.9B active (Mistral AI's announcement).
  CHECK(parameter_count(models().get("mixtral-8x7b")) == ROOFLINE_APPROX(46.7e9).epsilon(2e-3));
  CHECK(active_parameter_count(models().get("mixtral-8x7b")) == ROOFLINE_APPROX(12.9e9).epsilon(3e-3));
}

TEST_CASE("linear layers of a GQA model") {
  const auto layers = linear_layers(models().get("llama3-8b"));
  REQUIRE(layers.size() == 8);
  CHECK(layers[1] == LinearLayer{"k_proj", 1024, 4096, 1});
  CHECK(layers[6] == LinearLayer{"down_proj", 4096, 14336, 1});
  CHECK(layers[7] == LinearLayer{"lm_head", 128256, 4096, 0});
  const auto moe = linear_layers(models().get("mixtral-8x7b"));
  CHECK(moe[4].count_per_layer == 8);
  CHECK(moe[7].name == "router");
}

TEST_CASE("the seed's inline form and a Hugging Face config.json") {
  const ModelConfig inl = model_from_inline({{"H", 4096}, {"L", 32}, {"nh", 32}, {"nkv", 8}, {"dh", 128}, {"dff", 14336}});
  CHECK(inl.q_width() == 4096);
  CHECK(inl.vocab_size == 0);
  CHECK_THROWS_WITH_AS(model_from_inline({{"H", 4096}, {"L", 32}}),
                       "inline model: missing key 'nh' (required: H, L, nh, nkv, dh, dff)", InvalidArgumentError);
  CHECK_THROWS_WITH_AS(
      model_from_inline({{"H", 4096}, {"L", 32}, {"nh", 32}, {"nkv", 5}, {"dh", 128}, {"dff", 14336}}),
      "model 'inline': num_attention_heads (32) must be a multiple of num_kv_heads (5)", InvalidArgumentError);
  const ModelConfig hf = load_hf_config(roofline::test::data("hf/config.json"));
  const ModelConfig& shipped = models().get("qwen2.5-7b");
  CHECK(hf.hidden_size == shipped.hidden_size);
  CHECK(hf.num_layers == shipped.num_layers);
  CHECK(hf.num_kv_heads == shipped.num_kv_heads);
  CHECK(hf.head_dim == shipped.head_dim);
  CHECK(hf.ffn_size == shipped.ffn_size);
  CHECK(hf.vocab_size == shipped.vocab_size);
  CHECK(hf.qkv_bias);
  CHECK_FALSE(hf.sliding_window_tokens.has_value());  // use_sliding_window: false
  CHECK(parameter_count(hf) == ROOFLINE_APPROX(parameter_count(shipped)));
}

namespace {
std::string error_of(const std::string& file) {
  try {
    load_model_file(bad(file));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("every bad model file fails with its message") {
  CHECK(error_of("model_kv_heads_not_divide.yaml") ==
        bad("model_kv_heads_not_divide.yaml").string() + ":9:15: num_kv_heads: must divide num_attention_heads (32), got 5");
  CHECK(error_of("model_negative_layers.yaml") ==
        bad("model_negative_layers.yaml").string() + ":7:13: num_layers: must be >= 1, got -5");
  CHECK(error_of("model_unknown_key.yaml") ==
        bad("model_unknown_key.yaml").string() +
            ":15:1: rope_theta: unknown key (allowed: display_name, ffn_size, head_dim, hidden_size, max_context_tokens, moe, "
            "name, num_attention_heads, num_kv_heads, num_layers, qkv_bias, schema_version, sliding_window_tokens, source, "
            "tied_embeddings, vocab_size)");
  CHECK(error_of("model_missing_vocab.yaml") == bad("model_missing_vocab.yaml").string() +
                                                     ":2:1: missing required key 'vocab_size'");
}

TEST_CASE("an unknown model name lists the known ones") {
  CHECK_THROWS_WITH_AS(models().get("llama4"),
                       "unknown model 'llama4'; known: llama3-70b, llama3-8b, llama3.1-405b, mistral-7b, mixtral-8x7b, "
                       "qwen2.5-7b",
                       UnknownNameError);
}
