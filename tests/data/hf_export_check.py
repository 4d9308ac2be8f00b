#!/usr/bin/env python3
"""Checks an `ablate export` directory the way Hugging Face `transformers` would read it, with
Debian's python3-torch and the standard library only (tests/runner/hf_export_test.cpp runs it).

    /usr/bin/python3 tests/data/hf_export_check.py EXPORT_DIR CASE.json [--transformers]

CASE.json (written by the C++ test) holds a batch in ablate's token ids with ablate's MLM logits
at every position, and text lines with the ids `ablate tokenize` gave them. The script

  * reads model.safetensors itself (8-byte little-endian header length, JSON header, raw
    little-endian float32), and config.json;
  * runs the model as Hugging Face's RobertaForMaskedLM / BertForMaskedLM compute it, by their
    parameter names: separate query/key/value, positions from padding_idx + 1 for RoBERTa, token
    types, post-LayerNorm layers, the LM head with its tied decoder and bias;
  * compares the logits with ablate's (rows permuted to Hugging Face's vocabulary order);
  * encodes the text lines with a GPT-2 byte-level BPE built from vocab.json and merges.txt alone
    (ASCII text: the pre-tokenizer pattern without Unicode classes) and compares the ids.

With --transformers (where Hugging Face's `transformers` is installed: the GPU machine's image)
it also loads the export with transformers itself, AutoModelForMaskedLM and AutoTokenizer, and
compares that model's logits and that tokenizer's ids with ablate's too.

Prints one JSON line {"max_logit_diff": ..., "tokens_checked": ..., "token_mismatches": ...}
(and "transformers_max_logit_diff", "transformers_token_mismatches" with --transformers) and
exits 1 when a check fails.
"""
import json
import math
import pathlib
import re
import struct
import sys

import torch
import torch.nn.functional as F


def read_safetensors(path):
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    data = bytearray(raw[8 + length:])
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", entry
        begin, end = entry["data_offsets"]
        tensors[name] = torch.frombuffer(data[begin:end], dtype=torch.float32).view(entry["shape"])
    return tensors


def hf_logits(config, p, ids, lengths, segments):
    bert = config["model_type"] == "bert"
    base = "bert." if bert else "roberta."
    hidden, heads, eps = config["hidden_size"], config["num_attention_heads"], config["layer_norm_eps"]
    rows, cols = ids.shape
    mask = torch.arange(cols)[None, :] < lengths[:, None]
    if bert:
        positions = torch.arange(cols)[None, :].expand(rows, cols)
    else:
        # RobertaEmbeddings.create_position_ids_from_input_ids: padding_idx + 1 onwards.
        pad = config["pad_token_id"]
        not_pad = (ids != pad).long()
        positions = torch.cumsum(not_pad, dim=1) * not_pad + pad
    x = (F.embedding(ids, p[base + "embeddings.word_embeddings.weight"])
         + F.embedding(positions, p[base + "embeddings.position_embeddings.weight"])
         + F.embedding(segments, p[base + "embeddings.token_type_embeddings.weight"]))
    x = F.layer_norm(x, (hidden,), p[base + "embeddings.LayerNorm.weight"],
                     p[base + "embeddings.LayerNorm.bias"], eps)
    additive = (~mask)[:, None, None, :].float() * torch.finfo(torch.float32).min
    for i in range(config["num_hidden_layers"]):
        q = base + f"encoder.layer.{i}."

        def linear(name, t):
            return F.linear(t, p[q + name + ".weight"], p[q + name + ".bias"])

        def split(t):
            return t.view(rows, cols, heads, hidden // heads).permute(0, 2, 1, 3)

        query = split(linear("attention.self.query", x))
        key = split(linear("attention.self.key", x))
        value = split(linear("attention.self.value", x))
        scores = query @ key.transpose(-1, -2) / math.sqrt(hidden // heads) + additive
        context = (scores.softmax(-1) @ value).permute(0, 2, 1, 3).reshape(rows, cols, hidden)
        x = F.layer_norm(linear("attention.output.dense", context) + x, (hidden,),
                         p[q + "attention.output.LayerNorm.weight"],
                         p[q + "attention.output.LayerNorm.bias"], eps)
        inner = F.gelu(linear("intermediate.dense", x))
        x = F.layer_norm(linear("output.dense", inner) + x, (hidden,),
                         p[q + "output.LayerNorm.weight"], p[q + "output.LayerNorm.bias"], eps)
    head = "cls.predictions." if bert else "lm_head."
    dense = "transform.dense" if bert else "dense"
    norm = "transform.LayerNorm" if bert else "layer_norm"
    h = F.gelu(F.linear(x, p[head + dense + ".weight"], p[head + dense + ".bias"]))
    h = F.layer_norm(h, (hidden,), p[head + norm + ".weight"], p[head + norm + ".bias"], eps)
    decoder = p[head + "decoder.weight"]
    assert torch.equal(decoder, p[base + "embeddings.word_embeddings.weight"]), "decoder is tied"
    return F.linear(h, decoder) + p[head + "bias"]


def bytes_to_unicode():
    """GPT-2's map of the 256 bytes to printable characters (encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


# GPT-2's pre-tokenizer pattern with the Unicode classes narrowed to ASCII.
PATTERN = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def encode(text, vocab, ranks, byte_map):
    ids = []
    for piece in PATTERN.findall(text):
        word = [byte_map[b] for b in piece.encode("utf-8")]
        while len(word) > 1:
            pairs = [(ranks.get((word[i], word[i + 1]), math.inf), i) for i in range(len(word) - 1)]
            rank, i = min(pairs)
            if rank == math.inf:
                break
            first, second = word[i], word[i + 1]
            merged, j = [], 0
            while j < len(word):
                if j < len(word) - 1 and word[j] == first and word[j + 1] == second:
                    merged.append(first + second)
                    j += 2
                else:
                    merged.append(word[j])
                    j += 1
            word = merged
        ids.extend(vocab[token] for token in word)
    return ids


def main():
    export, case_path = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    case = json.loads(case_path.read_text())
    config = json.loads((export / "config.json").read_text())
    params = read_safetensors(export / "model.safetensors")
    vocab = json.loads((export / "vocab.json").read_text())
    size = config["vocab_size"]
    bpe = size - 5

    def hf_id(ours):
        if ours < bpe:
            return ours + 4
        return size - 1 if ours == bpe + 4 else ours - bpe

    rows, cols = case["rows"], case["cols"]
    ids = torch.tensor([hf_id(i) for i in case["input_ids"]]).view(rows, cols)
    lengths = torch.tensor(case["lengths"])
    segments = torch.tensor(case["segment_ids"]).view(rows, cols)
    theirs = hf_logits(config, params, ids, lengths, segments)
    ours = torch.tensor(case["logits"]).view(rows, cols, size)
    order = torch.tensor([[i for i in range(size) if hf_id(i) == h][0] for h in range(size)])
    ours = ours[:, :, order]
    mask = torch.arange(cols)[None, :] < lengths[:, None]
    diff = (theirs - ours).abs()[mask].max().item()

    merges = (export / "merges.txt").read_text(encoding="utf-8").splitlines()
    ranks = {tuple(line.split(" ")): i for i, line in enumerate(m for m in merges
                                                               if m and not m.startswith("#"))}
    byte_map = bytes_to_unicode()
    checked = mismatches = 0
    for line, expected in zip(case["texts"], case["text_ids"]):
        got = encode(line, vocab, ranks, byte_map)
        checked += len(expected)
        if got != [hf_id(i) for i in expected]:
            mismatches += 1
    report = {"max_logit_diff": diff, "tokens_checked": checked,
              "token_mismatches": mismatches,
              "specials": [vocab["<s>"], vocab["<pad>"], vocab["</s>"], vocab["<unk>"],
                           vocab["<mask>"]]}
    ok = diff <= 1e-4 and mismatches == 0 and checked > 0
    if "--transformers" in sys.argv[3:]:
        ok = check_with_transformers(export, case, ids, lengths, segments, ours, mask,
                                     hf_id, report) and ok
    print(json.dumps(report))
    sys.exit(0 if ok else 1)


def check_with_transformers(export, case, ids, lengths, segments, ours, mask, hf_id, report):
    """The same comparisons through transformers' own loading code."""
    import transformers

    model = transformers.AutoModelForMaskedLM.from_pretrained(str(export)).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(export))
    attention = mask.long()
    with torch.no_grad():
        kwargs = {"input_ids": ids, "attention_mask": attention}
        if model.config.model_type == "bert":
            kwargs["token_type_ids"] = segments
        theirs = model(**kwargs).logits.float()
    diff = (theirs - ours).abs()[mask].max().item()
    mismatches = 0
    for line, expected in zip(case["texts"], case["text_ids"]):
        got = tokenizer(line, add_special_tokens=False)["input_ids"]
        if got != [hf_id(i) for i in expected]:
            mismatches += 1
    report["transformers_version"] = transformers.__version__
    report["transformers_max_logit_diff"] = diff
    report["transformers_token_mismatches"] = mismatches
    return diff <= 1e-4 and mismatches == 0


if __name__ == "__main__":
    main()
