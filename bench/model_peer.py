#!/usr/bin/env python3
"""Peer of bench/model_bench.cpp: one pretraining step (forward, backward, AdamW) of the same
architecture as ablate's BertModel, written the way Hugging Face's RobertaForMaskedLM writes it
(modeling_roberta.py: separate query/key/value Linears, transpose_for_scores, matmul, scale, add
the extended attention mask, softmax, dropout, matmul; dense + dropout + LayerNorm(x + residual);
the LM head tied to the word embeddings), trained with torch.optim.AdamW (its 1.13 default: the
single-tensor loop) and zero_grad() as a 1.13 user gets them.

Usage: model_peer.py HIDDEN:LAYERS:HEADS:FFN:POSITIONS
POSITIONS is "masked" (the LM head runs on the masked positions only, as ablate does) or "all"
(logits at every position, as HF does). Builds the model, prints "ready", then runs one training
step per line read from stdin and prints its milliseconds: the C++ side alternates its own steps
with these, so that both see the same machine load.
The batch matches the C++ side's: 32 x 128 tokens, 19 masked per row, no padding, no NSP.
"""
import math
import sys
import time

import torch
from torch import nn

VOCAB, POSITIONS, BATCH, SEQ, MASKED_PER_ROW = 50265, 512, 32, 128, 19


class Embeddings(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, hidden, padding_idx=1)
        self.position_embeddings = nn.Embedding(POSITIONS, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-5)
        self.dropout = nn.Dropout(0.1)
        self.register_buffer("position_ids", torch.arange(POSITIONS).expand((1, -1)))

    def forward(self, input_ids):
        position_ids = self.position_ids[:, :input_ids.size(1)]
        embeddings = self.word_embeddings(input_ids) + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class SelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.num_attention_heads = heads
        self.attention_head_size = hidden // heads
        self.all_head_size = hidden
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(0.1)

    def transpose_for_scores(self, x):
        new_x_shape = x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)
        return x.view(new_x_shape).permute(0, 2, 1, 3)

    def forward(self, hidden_states, attention_mask):
        query_layer = self.transpose_for_scores(self.query(hidden_states))
        key_layer = self.transpose_for_scores(self.key(hidden_states))
        value_layer = self.transpose_for_scores(self.value(hidden_states))
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(self.attention_head_size)
        attention_scores = attention_scores + attention_mask
        attention_probs = nn.functional.softmax(attention_scores, dim=-1)
        attention_probs = self.dropout(attention_probs)
        context_layer = torch.matmul(attention_probs, value_layer)
        context_layer = context_layer.permute(0, 2, 1, 3).contiguous()
        new_context_layer_shape = context_layer.size()[:-2] + (self.all_head_size,)
        return context_layer.view(new_context_layer_shape)


class Output(nn.Module):
    """RobertaSelfOutput and RobertaOutput: dense, dropout, LayerNorm(x + input)."""

    def __init__(self, inner, hidden):
        super().__init__()
        self.dense = nn.Linear(inner, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-5)
        self.dropout = nn.Dropout(0.1)

    def forward(self, hidden_states, input_tensor):
        hidden_states = self.dropout(self.dense(hidden_states))
        return self.LayerNorm(hidden_states + input_tensor)


class Layer(nn.Module):
    def __init__(self, hidden, heads, ffn):
        super().__init__()
        self.attention = SelfAttention(hidden, heads)
        self.attention_output = Output(hidden, hidden)
        self.intermediate = nn.Linear(hidden, ffn)
        self.output = Output(ffn, hidden)

    def forward(self, hidden_states, attention_mask):
        attention_output = self.attention_output(
            self.attention(hidden_states, attention_mask), hidden_states)
        intermediate = nn.functional.gelu(self.intermediate(attention_output))
        return self.output(intermediate, attention_output)


class LMHead(nn.Module):
    def __init__(self, hidden, word_embeddings):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.layer_norm = nn.LayerNorm(hidden, eps=1e-5)
        self.decoder = nn.Linear(hidden, VOCAB)
        self.decoder.weight = word_embeddings.weight  # tied, as HF's tie_weights does
        self.bias = nn.Parameter(torch.zeros(VOCAB))
        self.decoder.bias = self.bias

    def forward(self, features):
        x = nn.functional.gelu(self.dense(features))
        # Under CPU bf16 autocast LibTorch 1.13's layer norm takes only its weights' dtype.
        x = self.layer_norm(x.to(self.layer_norm.weight.dtype))
        return self.decoder(x)


class RobertaForMaskedLM(nn.Module):
    def __init__(self, hidden, layers, heads, ffn, masked_only):
        super().__init__()
        self.embeddings = Embeddings(hidden)
        self.layer = nn.ModuleList(Layer(hidden, heads, ffn) for _ in range(layers))
        self.lm_head = LMHead(hidden, self.embeddings.word_embeddings)
        self.masked_only = masked_only
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def forward(self, input_ids, attention_mask, labels):
        dtype = self.embeddings.word_embeddings.weight.dtype
        extended = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        hidden_states = self.embeddings(input_ids)
        for layer in self.layer:
            hidden_states = layer(hidden_states, extended)
        if self.masked_only:
            selected = labels != -100
            logits = self.lm_head(hidden_states[selected])
            return nn.functional.cross_entropy(logits, labels[selected])
        logits = self.lm_head(hidden_states)
        return nn.functional.cross_entropy(logits.view(-1, VOCAB), labels.view(-1))


def synthetic_batch(generator):
    input_ids = torch.randint(4, VOCAB, (BATCH, SEQ), generator=generator)
    labels = torch.full((BATCH, SEQ), -100, dtype=torch.long)
    for row in range(BATCH):
        positions = torch.randperm(SEQ - 1, generator=generator)[:MASKED_PER_ROW] + 1
        labels[row, positions] = input_ids[row, positions]
        input_ids[row, positions] = VOCAB - 1  # <mask>
    return input_ids, torch.ones(BATCH, SEQ, dtype=torch.long), labels


def build(hidden, layers, heads, ffn, masked_only):
    torch.manual_seed(0)
    model = RobertaForMaskedLM(hidden, layers, heads, ffn, masked_only)
    model.train()
    no_decay = ["bias", "LayerNorm.weight", "layer_norm.weight"]
    groups = [
        {"params": [p for n, p in model.named_parameters()
                    if not any(nd in n for nd in no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters()
                    if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.999), eps=1e-6)
    return model, optimizer


def main():
    torch.set_num_threads(2)
    hidden, layers, heads, ffn, positions = sys.argv[1].split(":")
    masked_only = positions.startswith("masked")
    bf16 = positions.endswith("-bf16")  # the forward pass under CPU bf16 autocast
    model, optimizer = build(int(hidden), int(layers), int(heads), int(ffn), masked_only)
    input_ids, attention_mask, labels = synthetic_batch(torch.Generator().manual_seed(1))
    print("ready", flush=True)
    for _ in sys.stdin:
        start = time.perf_counter()
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids, attention_mask, labels)
        loss.backward()
        optimizer.step()
        print(f"{(time.perf_counter() - start) * 1e3:.3f}", flush=True)


if __name__ == "__main__":
    main()
