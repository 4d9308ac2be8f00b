#!/usr/bin/env python3
"""Reference losses for tests/core/model_test.cpp ("the loss matches an independent PyTorch
model"), computed by Debian's python3-torch in float64.

The C++ test writes DIR/model.json (the ModelOptions, the parameter table and the batches) and
DIR/model.bin (every parameter as little-endian float64, at the offsets of the table), runs

    /usr/bin/python3 tests/data/model_reference.py DIR

and compares the printed JSON ({"losses": [{"mlm_loss", "nsp_loss", "loss"}, ...]}) with its own
float32 forward pass. Nothing is checked in: every run regenerates DIR. To inspect a failing case,
run the test with ABLATE_KEEP_REFERENCE_DIR=1, which keeps DIR and prints its path.

The model is written the way Hugging Face's RobertaForMaskedLM writes it (separate query/key/value
projections, an additive attention mask, cross-entropy at all positions with ignore_index -100),
not the way the C++ code does (fused qkv, masked-position gather), so that agreement checks the
math rather than one implementation against itself. Positions are 0..T-1 (ablate's convention,
not fairseq's offset by padding_idx + 1).
"""
import json
import math
import pathlib
import sys

import torch
import torch.nn.functional as F


def load(directory):
    manifest = json.loads((directory / "model.json").read_text())
    raw = bytearray((directory / "model.bin").read_bytes())
    values = torch.frombuffer(raw, dtype=torch.float64)
    params = {}
    for entry in manifest["parameters"]:
        count = math.prod(entry["shape"])
        params[entry["name"]] = values[entry["offset"]:entry["offset"] + count].view(entry["shape"])
    return manifest["options"], params, manifest["batches"]


def transpose_for_scores(x, heads):
    batch, positions, hidden = x.shape
    return x.view(batch, positions, heads, hidden // heads).permute(0, 2, 1, 3)


def losses(options, p, batch):
    hidden, heads, eps = options["hidden"], options["heads"], options["layer_norm_eps"]
    rows, cols = batch["rows"], batch["cols"]
    ids = torch.tensor(batch["input_ids"]).view(rows, cols)
    labels = torch.tensor(batch["labels"]).view(rows, cols)
    lengths = torch.tensor(batch["lengths"])

    x = F.embedding(ids, p["token_embedding.weight"]) + p["position_embedding.weight"][:cols]
    if options["type_vocab_size"] > 0:
        segments = torch.tensor(batch["segment_ids"]).view(rows, cols)
        x = x + F.embedding(segments, p["segment_embedding.weight"])
    x = F.layer_norm(x, (hidden,), p["embedding_norm.weight"], p["embedding_norm.bias"], eps)

    mask = (torch.arange(cols)[None, :] < lengths[:, None]).to(torch.float64)
    extended_mask = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float64).min

    for layer in range(options["layers"]):
        def w(name):
            return p[f"layers.{layer}.{name}"]
        q_w, k_w, v_w = w("qkv.weight").split(hidden)
        q_b, k_b, v_b = w("qkv.bias").split(hidden)
        query = transpose_for_scores(F.linear(x, q_w, q_b), heads)
        key = transpose_for_scores(F.linear(x, k_w, k_b), heads)
        value = transpose_for_scores(F.linear(x, v_w, v_b), heads)
        scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(hidden // heads)
        probs = torch.softmax(scores + extended_mask, dim=-1)
        context = torch.matmul(probs, value).permute(0, 2, 1, 3).reshape(rows, cols, hidden)
        attended = F.layer_norm(
            F.linear(context, w("attention_output.weight"), w("attention_output.bias")) + x,
            (hidden,), w("attention_norm.weight"), w("attention_norm.bias"), eps)
        expanded = F.gelu(F.linear(attended, w("ffn_in.weight"), w("ffn_in.bias")))
        x = F.layer_norm(F.linear(expanded, w("ffn_out.weight"), w("ffn_out.bias")) + attended,
                         (hidden,), w("ffn_norm.weight"), w("ffn_norm.bias"), eps)

    transformed = F.layer_norm(F.gelu(F.linear(x, p["mlm_dense.weight"], p["mlm_dense.bias"])),
                               (hidden,), p["mlm_norm.weight"], p["mlm_norm.bias"], eps)
    logits = F.linear(transformed, p["token_embedding.weight"], p["mlm_bias"])
    mlm = F.cross_entropy(logits.view(-1, options["vocab_size"]), labels.view(-1),
                          ignore_index=-100)
    out = {"mlm_loss": mlm.item(), "nsp_loss": 0.0, "loss": mlm.item()}
    nsp_labels = torch.tensor(batch["nsp_labels"])
    if options["type_vocab_size"] > 0 and bool((nsp_labels != -1).any()):
        pooled = torch.tanh(F.linear(x[:, 0], p["nsp_pooler.weight"], p["nsp_pooler.bias"]))
        nsp_logits = F.linear(pooled, p["nsp_classifier.weight"], p["nsp_classifier.bias"])
        nsp = F.cross_entropy(nsp_logits, nsp_labels, ignore_index=-1)
        out["nsp_loss"] = nsp.item()
        out["loss"] = mlm.item() + nsp.item()
    return out


def main():
    options, params, batches = load(pathlib.Path(sys.argv[1]))
    with torch.no_grad():
        print(json.dumps({"losses": [losses(options, params, b) for b in batches]}))


if __name__ == "__main__":
    main()
