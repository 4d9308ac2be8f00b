#!/usr/bin/env python3
"""The peer of bench/gpu_bench.cpp: the same BERT-base pretraining step as Hugging Face writes it,
in the GPU machine's PyTorch. RobertaForMaskedLM from `transformers` (vocabulary 50265, 12 layers
of 768, seq 512, SDPA attention), bf16 autocast over the forward pass with fp32 weights, fused
AdamW, on full-length rows with 15% of positions predicted. Prints one line:

    gpu_peer: tokens/s=... step_ms=... (batch B, transformers X, torch Y)

Usage: python3 bench/gpu_peer.py [BATCH [STEPS]]  (defaults 32 and 10 timed steps after 3 warm-up)
"""
import sys
import time

import torch
import transformers


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    seq, vocab = 512, 50265
    torch.backends.cuda.matmul.allow_tf32 = True
    config = transformers.RobertaConfig(
        vocab_size=vocab, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, max_position_embeddings=seq + 2, type_vocab_size=1,
        attn_implementation="sdpa")
    model = transformers.RobertaForMaskedLM(config).cuda().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, fused=True)
    generator = torch.Generator().manual_seed(7)
    ids = torch.randint(4, vocab - 1, (rows, seq), generator=generator)
    masked = torch.rand((rows, seq), generator=generator) < 0.15
    masked[:, 0] = False
    labels = torch.where(masked, ids, torch.full_like(ids, -100)).cuda()
    inputs = torch.where(masked, torch.full_like(ids, vocab - 1), ids).cuda()
    for step in range(3 + steps):
        if step == 3:
            torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=inputs, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    print(f"gpu_peer: tokens/s={rows * seq / seconds:.0f} step_ms={seconds * 1e3:.1f} "
          f"(batch {rows}, transformers {transformers.__version__}, torch {torch.__version__}, "
          f"loss {loss.item():.3f})")


if __name__ == "__main__":
    main()
