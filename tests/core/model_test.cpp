// torch before Catch: glog's CHECK would otherwise silently replace Catch's.
// clang-format off
#include <torch/types.h>
// clang-format on
#include "core/model.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "base/error.h"
#include "base/rng.h"
#include "core/batch_tensors.h"
#include "core/fused_ops.h"
#include "core/model_size.h"
#include "core/optimizer.h"
#include "tests/support.h"

using namespace ablate::core;
using ablate::Rng;
namespace fs = std::filesystem;

namespace {

constexpr int32_t kMaskId = 4;

ModelOptions NoDropout(ModelOptions options) {
  options.dropout = 0;
  options.attention_dropout = 0;
  return options;
}

// A batch as the data layer would build it: rows of random ordinary ids (>= 5), some shorter
// than the others when `padded`, about `mask_rate` of their tokens chosen for prediction (at least
// one per batch), segments and NSP labels when `nsp`.
Batch RandomBatch(int64_t rows, int64_t cols, int64_t vocab, uint64_t seed, bool nsp, bool padded,
                  double mask_rate = 0.3) {
  Rng rng({seed});
  Batch b;
  b.rows = rows;
  b.cols = cols;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t length = padded ? std::max<int64_t>(1, cols - (r * 3) % cols) : cols;
    for (int64_t t = 0; t < cols; ++t) {
      const bool real = t < length;
      int32_t token = real ? static_cast<int32_t>(5 + rng.Below(vocab - 5)) : 1;
      int32_t label = kIgnoreLabel;
      if (real && t > 0 && (rng.Uniform() < mask_rate || (r == 0 && t == 1))) {
        label = token;
        if (rng.Uniform() < 0.8) token = kMaskId;
      }
      b.input_ids.push_back(token);
      b.labels.push_back(label);
      b.segment_ids.push_back(nsp && real && t >= length / 2 ? 1 : 0);
      b.predictions += label != kIgnoreLabel;
    }
    b.lengths.push_back(static_cast<int32_t>(length));
    b.tokens += length;
    b.nsp_labels.push_back(nsp ? static_cast<int8_t>(rng.Below(2)) : kNoNspLabel);
  }
  return b;
}

// Spreads the weights well beyond the N(0, 0.02) init so that attention is far from uniform and
// every term of the loss moves when a weight does.
void Perturb(BertModel& model, uint64_t seed, double std) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.add_(torch::randn_like(p) * std);
}

std::map<std::string, torch::Tensor> Gradients(BertModel& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : model->named_parameters()) {
    out[item.key()] = item.value().grad().defined() ? item.value().grad().clone()
                                                    : torch::zeros_like(item.value());
  }
  return out;
}

double MaxDifference(const std::map<std::string, torch::Tensor>& a,
                     const std::map<std::string, torch::Tensor>& b) {
  double worst = 0;
  for (const auto& [name, t] : a) {
    worst = std::max(worst, (t - b.at(name)).abs().max().item<double>());
  }
  return worst;
}

// A tiny model trained 200 updates on one batch: its loss at the first update and the last.
std::pair<double, double> OverfitOneBatch(const AccumulateOptions& accumulate) {
  torch::manual_seed(7);
  ModelOptions options = NoDropout(ModelOptions::Tiny());
  options.vocab_size = 30;
  options.hidden = 32;
  options.ffn = 64;
  BertModel model(options);
  const auto batch = ToTensors(RandomBatch(4, 12, options.vocab_size, 8, true, true), torch::kCPU);
  AdamWOptions adam;
  adam.weight_decay = 0;
  AdamW optimizer(WeightDecayGroups(*model, adam.weight_decay), adam);
  double first = 0, last = 0;
  for (int step = 1; step <= 200; ++step) {
    optimizer.ZeroGrad();
    const auto stats = AccumulateGradients(model, {batch}, accumulate);
    optimizer.Step(3e-3);
    if (step == 1) first = stats.loss;
    last = stats.loss;
  }
  return {first, last};
}

}  // namespace

TEST_CASE("gradients match central finite differences in double precision", "[model]") {
  torch::manual_seed(1);
  BertModel model(NoDropout(ModelOptions::Tiny()));
  model->to(torch::kDouble);
  Perturb(model, 2, 0.3);
  auto batch =
      ToTensors(RandomBatch(3, 7, model->options().vocab_size, 3, true, true), torch::kCPU);
  REQUIRE(batch.padded);
  REQUIRE(batch.nsp_rows == 3);
  model->zero_grad();
  model->forward(batch).loss.backward();

  const double eps = 1e-6;
  int checked = 0;
  auto params = model->named_parameters();
  for (const char* name :
       {"token_embedding.weight", "position_embedding.weight", "segment_embedding.weight",
        "embedding_norm.weight", "layers.0.qkv.weight", "layers.0.qkv.bias",
        "layers.0.attention_output.weight", "layers.1.attention_norm.bias",
        "layers.1.ffn_in.weight", "layers.1.ffn_out.bias", "layers.1.ffn_norm.weight",
        "mlm_dense.weight", "mlm_norm.bias", "mlm_bias", "nsp_pooler.weight",
        "nsp_classifier.bias"}) {
    auto& p = params[name];
    const auto grad = p.grad().view(-1);
    for (int64_t k = 0; k < 3; ++k) {
      // Embedding rows of ids absent from the batch have zero gradient: probe rows in use.
      const int64_t index = std::string(name) == "token_embedding.weight"
                                ? batch.input_ids[0][k + 1].item<int64_t>() * p.size(1) + k
                                : (k * 7919) % p.numel();
      double plus, minus;
      {
        torch::NoGradGuard no_grad;
        auto flat = p.view(-1);
        const double original = flat[index].item<double>();
        flat[index] = original + eps;
        plus = model->forward(batch).loss.item<double>();
        flat[index] = original - eps;
        minus = model->forward(batch).loss.item<double>();
        flat[index] = original;
      }
      const double numeric = (plus - minus) / (2 * eps);
      const double analytic = grad[index].item<double>();
      INFO(name << "[" << index << "]: analytic " << analytic << " numeric " << numeric);
      CHECK(std::abs(numeric - analytic) <= 1e-7 + 1e-6 * std::abs(analytic));
      ++checked;
    }
  }
  CHECK(checked == 48);
}

TEST_CASE("the loss matches an independent PyTorch model (tests/data/model_reference.py)",
          "[model][reference]") {
  if (std::system((ablate::test::Python() + " -c 'import torch' >/dev/null 2>&1").c_str()) != 0) {
    WARN("skipped: " << ablate::test::Python()
                     << " cannot import torch (apt install python3-torch); the reference is "
                        "tests/data/model_reference.py");
    return;
  }
  torch::manual_seed(4);
  ModelOptions options = NoDropout(ModelOptions::Tiny());
  options.vocab_size = 41;
  BertModel model(options);
  Perturb(model, 5, 0.25);
  model->eval();
  std::vector<Batch> batches = {RandomBatch(4, 9, options.vocab_size, 6, true, true),
                                RandomBatch(3, 8, options.vocab_size, 7, true, false),
                                RandomBatch(2, 6, options.vocab_size, 8, false, true)};

  const fs::path dir =
      fs::temp_directory_path() / ("ablate_model_reference_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  nlohmann::json manifest;
  manifest["options"] = {{"vocab_size", options.vocab_size},
                         {"hidden", options.hidden},
                         {"layers", options.layers},
                         {"heads", options.heads},
                         {"type_vocab_size", options.type_vocab_size},
                         {"layer_norm_eps", options.layer_norm_eps}};
  {
    std::ofstream bin(dir / "model.bin", std::ios::binary);
    int64_t offset = 0;
    for (const auto& item : model->named_parameters()) {
      auto values = item.value().detach().to(torch::kDouble).contiguous();
      bin.write(reinterpret_cast<const char*>(values.data_ptr<double>()),
                values.numel() * sizeof(double));
      manifest["parameters"].push_back(
          {{"name", item.key()}, {"shape", item.value().sizes().vec()}, {"offset", offset}});
      offset += values.numel();
    }
  }
  for (const auto& b : batches) {
    manifest["batches"].push_back({{"rows", b.rows},
                                   {"cols", b.cols},
                                   {"input_ids", b.input_ids},
                                   {"labels", b.labels},
                                   {"segment_ids", b.segment_ids},
                                   {"lengths", b.lengths},
                                   {"nsp_labels", b.nsp_labels}});
  }
  std::ofstream(dir / "model.json") << manifest.dump();

  const std::string command = ablate::test::Python() + " " + std::string(ABLATE_SOURCE_DIR) +
                              "/tests/data/model_reference.py " + dir.string();
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  REQUIRE(pclose(pipe) == 0);
  if (std::getenv("ABLATE_KEEP_REFERENCE_DIR") != nullptr) {
    WARN("reference inputs kept in " << dir.string());
  } else {
    fs::remove_all(dir);
  }
  const auto reference = nlohmann::json::parse(output)["losses"];
  REQUIRE(reference.size() == batches.size());

  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < batches.size(); ++i) {
    const auto out = model->forward(ToTensors(batches[i], torch::kCPU));
    INFO("batch " << i);
    CHECK(out.mlm_loss.item<double>() ==
          Approx(reference[i]["mlm_loss"].get<double>()).margin(1e-5));
    CHECK(out.loss.item<double>() == Approx(reference[i]["loss"].get<double>()).margin(1e-5));
    if (out.nsp_loss.defined()) {
      CHECK(out.nsp_loss.item<double>() ==
            Approx(reference[i]["nsp_loss"].get<double>()).margin(1e-5));
    }
    // Near-uniform predictions would make any model agree; these are far from uniform.
    auto batch = ToTensors(batches[i], torch::kCPU);
    CHECK(model->AllPositionLogits(batch).std(-1).mean().item<double>() > 0.5);
  }
}

TEST_CASE("a tiny model overfits one batch", "[model]") {
  const auto [first, last] = OverfitOneBatch({});
  INFO("loss " << first << " -> " << last);
  CHECK(first > 2.0);
  CHECK(last < 0.05);
}

TEST_CASE("k accumulated micro-batches give the gradients of one batch k times as large",
          "[model]") {
  torch::manual_seed(9);
  BertModel model(NoDropout(ModelOptions::Tiny()));
  model->to(torch::kDouble);
  Perturb(model, 10, 0.2);
  // Uneven masking across rows, so per-micro-batch means would weight tokens unequally.
  Batch batch = RandomBatch(8, 10, model->options().vocab_size, 11, true, true, 0.35);
  auto micro = SplitBatch(batch, 4);
  REQUIRE(micro.size() == 4);
  CHECK(micro[0].predictions != micro[3].predictions);

  model->zero_grad();
  const auto whole = AccumulateGradients(model, {ToTensors(batch, torch::kCPU)});
  const auto expected = Gradients(model);

  model->zero_grad();
  std::vector<BatchTensors> parts;
  for (const auto& m : micro) parts.push_back(ToTensors(m, torch::kCPU));
  const auto accumulated = AccumulateGradients(model, parts);
  CHECK(MaxDifference(Gradients(model), expected) < 1e-9);
  CHECK(accumulated.loss == Approx(whole.loss).epsilon(1e-12));
  CHECK(accumulated.predictions == whole.predictions);
  CHECK(accumulated.nsp_rows == 8);
  CHECK(accumulated.nsp_correct == whole.nsp_correct);

  // The tempting alternative, averaging each micro-batch's mean loss, is measurably different.
  model->zero_grad();
  for (const auto& part : parts) (model->forward(part).loss / 4.0).backward();
  CHECK(MaxDifference(Gradients(model), expected) > 1e-4);
}

TEST_CASE("train.precision=bf16 computes in bf16, near fp32, and still trains", "[model][bf16]") {
  torch::manual_seed(21);
  BertModel model(NoDropout(ModelOptions::Tiny()));
  Perturb(model, 22, 0.05);
  // Padding (the attention mask's -inf under bf16) and NSP (its head's cast back to fp32).
  const auto batch =
      ToTensors(RandomBatch(8, 16, model->options().vocab_size, 23, true, true), torch::kCPU);
  model->zero_grad();
  const auto fp32 = AccumulateGradients(model, {batch});
  const auto expected = Gradients(model);
  double scale = 0;
  for (const auto& [name, g] : expected) scale = std::max(scale, g.abs().max().item<double>());

  AccumulateOptions bf16;
  bf16.bf16 = true;
  model->zero_grad();
  const auto low = AccumulateGradients(model, {batch}, bf16);
  const double difference = MaxDifference(Gradients(model), expected);
  INFO("loss " << fp32.loss << " vs " << low.loss << ", gradient difference " << difference
               << " of " << scale);
  CHECK(low.loss == Approx(fp32.loss).epsilon(1e-2));
  CHECK(difference < 0.05 * scale);
  CHECK(difference > 1e-4 * scale);  // the matmuls did run in bf16
  // The autocast region ended with the forward pass: a matmul outside it is fp32 again.
  CHECK(torch::mm(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type() == torch::kFloat);
  for (const auto& p : model->parameters()) CHECK(p.scalar_type() == torch::kFloat);

  // And it learns: the tiny model overfits one batch in bf16 as in fp32.
  const auto [first, last] = OverfitOneBatch(bf16);
  INFO("bf16 loss " << first << " -> " << last);
  CHECK(first > 2.0);
  CHECK(last < 0.1);
}

TEST_CASE("MLM at the masked positions equals all-position logits gathered", "[model]") {
  torch::manual_seed(12);
  ModelOptions options = ModelOptions::Tiny();
  options.type_vocab_size = 0;
  BertModel model(options);
  Perturb(model, 13, 0.2);
  model->eval();
  torch::NoGradGuard no_grad;
  Batch b = RandomBatch(5, 11, options.vocab_size, 14, false, true);
  auto batch = ToTensors(b, torch::kCPU);
  REQUIRE(batch.predictions == b.predictions);

  auto all = model->AllPositionLogits(batch);  // (B, T, V)
  auto gathered = all.view({-1, options.vocab_size}).index_select(0, batch.masked_positions);
  auto masked = model->MlmLogits(model->Encode(batch).index_select(0, batch.masked_positions));
  CHECK(torch::allclose(gathered, masked, 1e-6, 1e-6));

  auto reference = torch::cross_entropy_loss(all.view({-1, options.vocab_size}),
                                             batch.labels.view(-1));  // mean, ignore -100
  auto out = model->forward(batch);
  CHECK(out.mlm_loss.item<double>() == Approx(reference.item<double>()).epsilon(1e-6));
  CHECK_FALSE(out.nsp_loss.defined());
  CHECK(out.predictions == b.predictions);
}

TEST_CASE("under no-grad the forward pass scores each masked token, with gradients on it does not",
          "[model]") {
  torch::manual_seed(15);
  ModelOptions options = ModelOptions::Tiny();
  options.type_vocab_size = 0;
  BertModel model(options);
  Perturb(model, 16, 0.2);
  model->eval();
  Batch b = RandomBatch(5, 11, options.vocab_size, 17, false, true);
  const auto with_grad = model->forward(ToTensors(b, torch::kCPU));
  CHECK_FALSE(with_grad.mlm_token_losses.defined());
  CHECK_FALSE(with_grad.mlm_correct.defined());

  torch::NoGradGuard no_grad;
  // Every other masked label becomes the model's own prediction, so that some are right whatever
  // the weights (labels do not reach the encoder).
  const auto first = ToTensors(b, torch::kCPU);
  const auto predicted = model->AllPositionLogits(first).argmax(-1).view(-1);  // (B*T)
  int64_t planted = 0;
  for (int64_t i = 0, k = 0; i < b.rows * b.cols; ++i) {
    if (b.labels[i] == kIgnoreLabel || k++ % 2 != 0) continue;
    b.labels[i] = static_cast<int32_t>(predicted[i].item<int64_t>());
    ++planted;
  }
  const auto batch = ToTensors(b, torch::kCPU);
  // The reference: LibTorch's per-token cross-entropy and argmax on all-position logits.
  auto logits = model->AllPositionLogits(batch)
                    .view({-1, options.vocab_size})
                    .index_select(0, batch.masked_positions);  // (N, V)
  auto losses =
      torch::cross_entropy_loss(logits, batch.masked_labels, {}, at::Reduction::None);  // (N)
  auto right = logits.argmax(1).eq(batch.masked_labels);
  const auto out = model->forward(batch);
  REQUIRE(out.mlm_token_losses.defined());
  CHECK(torch::allclose(out.mlm_token_losses, losses, 1e-5, 1e-6));
  CHECK(out.mlm_loss_sum.item<double>() == Approx(losses.sum().item<double>()).epsilon(1e-6));
  CHECK(torch::equal(out.mlm_token_correct, right));
  CHECK(out.mlm_correct.item<int64_t>() == right.sum().item<int64_t>());
  CHECK(out.mlm_correct.item<int64_t>() >= planted);
  CHECK(out.mlm_correct.item<int64_t>() < out.predictions);
}

TEST_CASE("padding does not change the outputs at real positions", "[model]") {
  torch::manual_seed(15);
  BertModel model(NoDropout(ModelOptions::Tiny()));
  Perturb(model, 16, 0.2);
  model->eval();
  torch::NoGradGuard no_grad;
  Batch b = RandomBatch(3, 9, model->options().vocab_size, 17, true, true);
  auto padded = model->Encode(ToTensors(b, torch::kCPU)).view({3, 9, -1});
  // Each row alone, trimmed to its length: no padding at all.
  for (int64_t r = 0; r < 3; ++r) {
    const auto row = SplitBatch(b, 3)[r];  // trimmed to its own length
    REQUIRE(row.cols == row.lengths[0]);
    auto alone = model->Encode(ToTensors(row, torch::kCPU));
    CHECK(torch::allclose(padded[r].slice(0, 0, row.cols), alone, 1e-5, 1e-5));
  }
}

TEST_CASE("model sizes match BERT's parameter counts", "[model]") {
  ModelOptions base = ModelOptions::Base();
  base.vocab_size = 30522;  // BERT's WordPiece vocabulary, for comparison with its 110M
  base.type_vocab_size = 2;
  base.dropout = 0;
  BertModel model(base);
  // 109.48M for BertModel (with pooler) + MLM transform and bias + NSP classifier.
  const int64_t bert = 109482240 + (768 * 768 + 768) + 2 * 768 + 30522 + (768 * 2 + 2);
  CHECK(model->ParameterCount() == bert);
  // The count plans are made with (no model built) agrees, with and without the NSP parts.
  CHECK(ModelParameterCount({30522, base.max_positions, 12, 768, 3072, true}) == bert);
  ModelOptions tiny = ModelOptions::Tiny();
  tiny.type_vocab_size = 0;
  CHECK(ModelParameterCount({tiny.vocab_size, tiny.max_positions, tiny.layers, tiny.hidden,
                             tiny.ffn, false}) == BertModel(tiny)->ParameterCount());
  CHECK_THROWS_AS(BertModel([] {
                    ModelOptions o = ModelOptions::Tiny();
                    o.heads = 3;
                    return o;
                  }()),
                  ablate::InputError);
}

TEST_CASE("training-mode dropout is random, and reproducible under torch::manual_seed", "[model]") {
  torch::manual_seed(22);
  BertModel model(ModelOptions::Tiny());  // dropout 0.1
  Perturb(model, 23, 0.2);
  auto batch =
      ToTensors(RandomBatch(4, 9, model->options().vocab_size, 24, true, true), torch::kCPU);
  torch::NoGradGuard no_grad;
  torch::manual_seed(25);
  const double first = model->forward(batch).loss.item<double>();
  const double second = model->forward(batch).loss.item<double>();
  torch::manual_seed(25);
  CHECK(model->forward(batch).loss.item<double>() == first);
  CHECK(second != first);
  model->eval();
  CHECK(model->forward(batch).loss.item<double>() == model->forward(batch).loss.item<double>());
}

TEST_CASE("fused cross-entropy matches LibTorch's, value and gradient", "[model][fused]") {
  torch::manual_seed(18);
  auto logits = torch::randn({7, 13}, torch::kDouble).requires_grad_();
  auto targets = torch::randint(0, 13, {7}, torch::kLong);
  auto ours = CrossEntropySum(logits, targets) * 0.37;
  ours.backward();
  auto ours_grad = logits.grad().clone();
  logits.mutable_grad() = torch::Tensor();
  auto theirs = torch::cross_entropy_loss(logits, targets, {}, at::Reduction::Sum) * 0.37;
  theirs.backward();
  CHECK(ours.item<double>() == Approx(theirs.item<double>()).epsilon(1e-12));
  CHECK(torch::allclose(ours_grad, logits.grad(), 1e-12, 1e-12));
  // The backward reuses its saved log-probabilities: a second one must fail, not be wrong.
  auto again = CrossEntropySum(logits, targets);
  again.backward({}, /*retain_graph=*/true);
  CHECK_THROWS(again.backward());
  // The empty case (a micro-batch without masked tokens) is a zero loss, not NaN.
  auto none = CrossEntropySum(torch::zeros({0, 13}), torch::zeros({0}, torch::kLong));
  CHECK(none.item<double>() == 0);
}

TEST_CASE("fused dropout drops p, scales the rest, and backpropagates through its mask",
          "[model][fused]") {
  torch::manual_seed(19);
  auto x = (torch::rand({300, 500}) + 1).requires_grad_();  // no zeros of its own
  auto residual = torch::randn({300, 500}).requires_grad_();
  auto y = DropoutAdd(x, residual, 0.1, true);
  auto dropped = (y - residual).eq(0).to(torch::kDouble).mean().item<double>();
  CHECK(dropped == Approx(0.1).margin(0.005));
  auto kept = (y - residual).ne(0);
  CHECK(torch::allclose((y - residual).masked_select(kept), x.masked_select(kept) / 0.9, 1e-5));
  auto upstream = torch::randn_like(y);
  y.backward(upstream);
  CHECK(torch::allclose(residual.grad(), upstream));
  CHECK(torch::allclose(x.grad(), upstream * kept.to(torch::kFloat) / 0.9, 1e-5));
  // Reproducible under torch::manual_seed, different from draw to draw.
  torch::manual_seed(20);
  auto a = Dropout(x.detach(), 0.5, true);
  auto b = Dropout(x.detach(), 0.5, true);
  torch::manual_seed(20);
  CHECK(torch::equal(Dropout(x.detach(), 0.5, true), a));
  CHECK_FALSE(torch::equal(a, b));
  CHECK(torch::equal(Dropout(x.detach(), 0.5, false), x.detach()));
}

TEST_CASE("ToTensors and SplitBatch keep every token, label and row", "[model]") {
  Batch b = RandomBatch(5, 8, 50, 21, true, true);
  auto t = ToTensors(b, torch::kCPU);
  CHECK(t.input_ids.sizes() == torch::IntArrayRef({5, 8}));
  CHECK(t.predictions == b.predictions);
  CHECK(t.nsp_rows == 5);
  CHECK(t.padded);
  for (int64_t n = 0; n < t.predictions; ++n) {
    const int64_t flat = t.masked_positions[n].item<int64_t>();
    CHECK(t.masked_labels[n].item<int64_t>() == b.labels[flat]);
  }
  auto parts = SplitBatch(b, 2);
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].rows == 3);
  CHECK(parts[1].rows == 2);
  CHECK(parts[0].predictions + parts[1].predictions == b.predictions);
  CHECK(parts[0].tokens + parts[1].tokens == b.tokens);
  CHECK(parts[1].cols == *std::max_element(b.lengths.begin() + 3, b.lengths.end()));
  Batch unlabeled = RandomBatch(2, 4, 50, 22, false, false);
  CHECK_FALSE(ToTensors(unlabeled, torch::kCPU).nsp_labels.defined());
  CHECK_FALSE(ToTensors(unlabeled, torch::kCPU).padded);
}
