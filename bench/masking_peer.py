"""fairseq's MaskTokensDataset masking (numpy, one sequence at a time) over the sequences the C++
benchmark dumped; prints tokens/s. Usage: masking_peer.py IDS LENGTHS MASK_ID VOCAB_END"""
import sys
import time

import numpy as np


def mask(item, rng, mask_id, vocab_end, mask_prob=0.15, random_prob=0.1, leave_prob=0.1):
    # As fairseq.data.MaskTokensDataset.__getitem__ (no whole-word masking).
    sz = len(item)
    special = item >= vocab_end
    mask = np.full(sz, False)
    num_mask = int(mask_prob * sz + rng.random())
    candidates = np.flatnonzero(~special)
    mask[rng.choice(candidates, min(num_mask, len(candidates)), replace=False)] = True
    target = np.full(sz, -100)
    target[mask] = item[mask]
    rand_or_unmask = mask & (rng.random(sz) < random_prob + leave_prob)
    unmask = rand_or_unmask & (rng.random(sz) < leave_prob / (random_prob + leave_prob))
    rand = rand_or_unmask & ~unmask
    mask = mask ^ unmask
    new_item = np.copy(item)
    new_item[mask] = mask_id
    if rand.any():
        new_item[rand] = rng.integers(0, vocab_end, rand.sum())
    return new_item, target


def main():
    ids = np.fromfile(sys.argv[1], dtype=np.int32)
    lengths = np.fromfile(sys.argv[2], dtype=np.int32)
    mask_id, vocab_end = int(sys.argv[3]), int(sys.argv[4])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    sequences = [ids[offsets[i]:offsets[i + 1]] for i in range(len(lengths))]
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    tokens = 0
    for seq in sequences:
        mask(seq, rng, mask_id, vocab_end)
        tokens += len(seq)
    print(tokens / (time.perf_counter() - start))


if __name__ == "__main__":
    main()
