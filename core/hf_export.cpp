#include "core/hf_export.h"

#include <torch/torch.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/error.h"

namespace ablate::core {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// Hugging Face's id of each of our ids, as a permutation index: hf_row[h] = our row for HF id h.
torch::Tensor HfRows(const BpeTokenizer& tok) {
  const int64_t vocab = tok.vocab_size(), bpe = tok.bpe_vocab_size();
  std::vector<int64_t> rows(static_cast<size_t>(vocab));
  rows[0] = tok.bos_id();
  rows[1] = tok.pad_id();
  rows[2] = tok.eos_id();
  rows[3] = tok.unk_id();
  for (int64_t id = 0; id < bpe; ++id) rows[static_cast<size_t>(id + 4)] = id;
  rows[static_cast<size_t>(vocab - 1)] = tok.mask_id();
  return torch::tensor(rows, torch::kInt64);
}

}  // namespace

int64_t HfTokenId(const BpeTokenizer& tok, int64_t id) {
  if (id < tok.bpe_vocab_size()) return id + 4;
  if (id == tok.mask_id()) return tok.vocab_size() - 1;
  return id - tok.bpe_vocab_size();  // <s> <pad> </s> <unk> -> 0 1 2 3
}

std::map<std::string, torch::Tensor> HfTensors(BertModel& model, const BpeTokenizer& tokenizer) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> ours;
  for (const auto& item : model->named_parameters())
    ours[item.key()] = item.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
  auto take = [&](const std::string& name) {
    auto it = ours.find(name);
    ABLATE_CHECK(it != ours.end(), "the model has no parameter " + name);
    return it->second;
  };
  const bool bert = ours.count("segment_embedding.weight") > 0;
  const std::string base = bert ? "bert." : "roberta.";
  const torch::Tensor rows = HfRows(tokenizer);
  std::map<std::string, torch::Tensor> hf;
  auto put = [&](const std::string& name, const torch::Tensor& t) { hf[name] = t.contiguous(); };

  const torch::Tensor words = take("token_embedding.weight").index_select(0, rows);
  put(base + "embeddings.word_embeddings.weight", words);
  const torch::Tensor positions = take("position_embedding.weight");
  const int64_t hidden = positions.size(1);
  if (bert) {
    put(base + "embeddings.position_embeddings.weight", positions);
    put(base + "embeddings.token_type_embeddings.weight", take("segment_embedding.weight"));
  } else {
    // RoBERTa numbers positions from padding_idx + 1 = 2: two unused rows first.
    put(base + "embeddings.position_embeddings.weight",
        torch::cat({torch::zeros({2, hidden}), positions}));
    put(base + "embeddings.token_type_embeddings.weight", torch::zeros({1, hidden}));
  }
  put(base + "embeddings.LayerNorm.weight", take("embedding_norm.weight"));
  put(base + "embeddings.LayerNorm.bias", take("embedding_norm.bias"));
  for (int64_t i = 0;; ++i) {
    const std::string ours_prefix = "layers." + std::to_string(i) + ".";
    if (!ours.count(ours_prefix + "qkv.weight")) break;
    const std::string p = base + "encoder.layer." + std::to_string(i) + ".";
    const auto qkv_w = take(ours_prefix + "qkv.weight").chunk(3, 0);  // (3H, H): q, k, v rows
    const auto qkv_b = take(ours_prefix + "qkv.bias").chunk(3, 0);
    const char* names[] = {"query", "key", "value"};
    for (int j = 0; j < 3; ++j) {
      put(p + "attention.self." + names[j] + ".weight", qkv_w[static_cast<size_t>(j)]);
      put(p + "attention.self." + names[j] + ".bias", qkv_b[static_cast<size_t>(j)]);
    }
    const std::pair<const char*, const char*> renames[] = {
        {"attention_output", "attention.output.dense"},
        {"attention_norm", "attention.output.LayerNorm"},
        {"ffn_in", "intermediate.dense"},
        {"ffn_out", "output.dense"},
        {"ffn_norm", "output.LayerNorm"}};
    for (const auto& [from, to] : renames) {
      put(p + to + ".weight", take(ours_prefix + from + ".weight"));
      put(p + to + ".bias", take(ours_prefix + from + ".bias"));
    }
  }
  const torch::Tensor bias = take("mlm_bias").index_select(0, rows);
  if (bert) {
    put("cls.predictions.transform.dense.weight", take("mlm_dense.weight"));
    put("cls.predictions.transform.dense.bias", take("mlm_dense.bias"));
    put("cls.predictions.transform.LayerNorm.weight", take("mlm_norm.weight"));
    put("cls.predictions.transform.LayerNorm.bias", take("mlm_norm.bias"));
    put("cls.predictions.decoder.weight", words);
    put("cls.predictions.bias", bias);
    put("bert.pooler.dense.weight", take("nsp_pooler.weight"));
    put("bert.pooler.dense.bias", take("nsp_pooler.bias"));
    put("cls.seq_relationship.weight", take("nsp_classifier.weight"));
    put("cls.seq_relationship.bias", take("nsp_classifier.bias"));
  } else {
    put("lm_head.dense.weight", take("mlm_dense.weight"));
    put("lm_head.dense.bias", take("mlm_dense.bias"));
    put("lm_head.layer_norm.weight", take("mlm_norm.weight"));
    put("lm_head.layer_norm.bias", take("mlm_norm.bias"));
    put("lm_head.decoder.weight", words);
    put("lm_head.bias", bias);
  }
  return hf;
}

void WriteSafetensors(const fs::path& path, const std::map<std::string, torch::Tensor>& tensors) {
  ordered_json header = ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  int64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    ABLATE_CHECK(t.scalar_type() == torch::kFloat32 && t.is_contiguous(),
                 "safetensors export takes contiguous float32: " + name);
    const auto bytes = static_cast<int64_t>(t.nbytes());
    header[name] = {
        {"dtype", "F32"}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';  // the data starts 8-byte aligned
  AtomicFile out(path);
  uint64_t length = text.size();
  unsigned char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(length >> (8 * i));
  out.Write(le, 8);
  out.Write(text);
  for (const auto& [name, t] : tensors) {
    // float32 is little-endian on every machine LibTorch builds for here (x86-64, aarch64).
    out.Write(t.data_ptr(), t.nbytes());
  }
  out.Commit();
}

void ExportHuggingFace(BertModel& model, BpeTokenizer& tokenizer, int64_t seq_len,
                       const fs::path& dir) {
  fs::create_directories(dir);
  const auto& o = model->options();
  const bool bert = o.type_vocab_size > 0;
  ordered_json config = {{"architectures", {bert ? "BertForPreTraining" : "RobertaForMaskedLM"}},
                         {"model_type", bert ? "bert" : "roberta"},
                         {"vocab_size", o.vocab_size},
                         {"hidden_size", o.hidden},
                         {"num_hidden_layers", o.layers},
                         {"num_attention_heads", o.heads},
                         {"intermediate_size", o.ffn},
                         {"hidden_act", "gelu"},
                         {"hidden_dropout_prob", o.dropout},
                         {"attention_probs_dropout_prob", o.attention_dropout},
                         {"max_position_embeddings", bert ? seq_len : seq_len + 2},
                         {"type_vocab_size", bert ? 2 : 1},
                         {"initializer_range", o.init_std},
                         {"layer_norm_eps", o.layer_norm_eps},
                         {"pad_token_id", 1},
                         {"bos_token_id", 0},
                         {"eos_token_id", 2},
                         {"position_embedding_type", "absolute"},
                         {"torch_dtype", "float32"}};
  WriteFileAtomically(dir / "config.json", config.dump(2) + "\n");
  WriteSafetensors(dir / "model.safetensors", HfTensors(model, tokenizer));

  // The tokenizer: GPT-2's files with Hugging Face's ids (specials first, <mask> last).
  const ScratchDirectory scratch_dir(dir, ".tokenizer.");
  const fs::path& scratch = scratch_dir.path();
  tokenizer.Save(scratch);
  std::ifstream encoder_in(scratch / "encoder.json");
  const json encoder = json::parse(encoder_in);
  ordered_json vocab = ordered_json::object();
  vocab["<s>"] = 0;
  vocab["<pad>"] = 1;
  vocab["</s>"] = 2;
  vocab["<unk>"] = 3;
  std::vector<std::string> by_id(static_cast<size_t>(tokenizer.bpe_vocab_size()));
  for (const auto& [token, id] : encoder.items()) by_id[id.get<size_t>()] = token;
  for (size_t id = 0; id < by_id.size(); ++id) vocab[by_id[id]] = static_cast<int64_t>(id + 4);
  vocab["<mask>"] = tokenizer.vocab_size() - 1;
  WriteFileAtomically(dir / "vocab.json", vocab.dump() + "\n");
  std::ifstream merges_in(scratch / "vocab.bpe", std::ios::binary);
  const std::string merges((std::istreambuf_iterator<char>(merges_in)), {});
  WriteFileAtomically(dir / "merges.txt", merges);
  const ordered_json specials = {
      {"bos_token", "<s>"},   {"eos_token", "</s>"}, {"unk_token", "<unk>"},  {"sep_token", "</s>"},
      {"pad_token", "<pad>"}, {"cls_token", "<s>"},  {"mask_token", "<mask>"}};
  ordered_json tokenizer_config = specials;
  tokenizer_config["tokenizer_class"] = "RobertaTokenizer";
  tokenizer_config["model_max_length"] = seq_len;
  tokenizer_config["add_prefix_space"] = false;
  tokenizer_config["errors"] = "replace";
  WriteFileAtomically(dir / "tokenizer_config.json", tokenizer_config.dump(2) + "\n");
  WriteFileAtomically(dir / "special_tokens_map.json", specials.dump(2) + "\n");
}

}  // namespace ablate::core
