// A trained model in the files Hugging Face `transformers` loads: config.json, model.safetensors
// under its parameter names, the tokenizer (vocab.json, merges.txt and its special tokens). Packed
// formats export as RoBERTa (RobertaForMaskedLM), NSP formats as BERT's pretraining layout
// (BertForPreTraining: token types and the NSP head), both with this BPE tokenizer. It maps the
// layouts; it reads no database and trains nothing (runner/cmd_export.cpp does the rest).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "core/bpe_tokenizer.h"
#include "core/model.h"

namespace ablate::core {

// Hugging Face's vocabulary puts <s> <pad> </s> <unk> first and <mask> last; ours appends the
// specials after the BPE tokens (bpe_tokenizer.h). Its id of our id `id`:
int64_t HfTokenId(const BpeTokenizer& tokenizer, int64_t id);

// The tensors under Hugging Face's names (rows of the vocabulary in its order, positions offset by
// RoBERTa's padding_idx + 1), on the CPU, contiguous float32.
std::map<std::string, torch::Tensor> HfTensors(BertModel& model, const BpeTokenizer& tokenizer);

// Writes `tensors` as a safetensors file (8-byte little-endian header length, JSON header, raw
// little-endian data).
void WriteSafetensors(const std::filesystem::path& path,
                      const std::map<std::string, torch::Tensor>& tensors);

// config.json, model.safetensors, vocab.json, merges.txt, tokenizer_config.json and
// special_tokens_map.json into `dir` (created if missing).
void ExportHuggingFace(BertModel& model, BpeTokenizer& tokenizer, int64_t seq_len,
                       const std::filesystem::path& dir);

}  // namespace ablate::core
