#!/usr/bin/env python3
"""Reference Multi-Bootstrap for tests/base/multibootstrap_test.cpp ("the multi-bootstrap agrees
with an independent Python implementation"), plain Python (no numpy).

The C++ test writes FILE, runs

    /usr/bin/python3 tests/data/multibootstrap_reference.py FILE

and compares the printed JSON ({"results": [{"estimate", "low", "high", "p_greater", "p_less",
"samples", "paired"}, ...]}, one per comparison) with base/multibootstrap.cpp. FILE holds
{"comparisons": [{"options": {"samples", "confidence", "seed", "transform": "identity" | "exp",
"pair_seeds"}, "a": ROW, "b": ROW}, ...]}, a ROW being [{"seed", "replicates": [{"numerator":
[...], "denominator": [...]}, ...]}, ...].

Written from Sellam et al. (2022), "The MultiBERTs", section 3 (nboot samples, each resampling
the evaluation examples once for both systems, the seeds jointly when the systems share them and
independently when not; p-value = fraction of sampled differences <= 0; percentile interval), with
the nested resampling of fine-tuning replicates within a drawn seed, and the random draws that
base/multibootstrap.h documents: the generator of base/rng.h re-implemented from its definition.
Sums are plain left-to-right loops, never sum() (Python 3.12 compensates it), so the doubles are
the ones the C++ code gets.
"""
import json
import math
import sys

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15

# Rng coordinates of the three kinds of draws ("bexm", "brun", "brep" in ASCII).
EXAMPLE_DOMAIN = int.from_bytes(b"bexm", "big")
RUN_DOMAIN = int.from_bytes(b"brun", "big")
REPLICATE_DOMAIN = int.from_bytes(b"brep", "big")


def mix64(x):
    """The SplitMix64 finalizer."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


class Stream:
    """A counter-based stream named by its coordinates (base/rng.h's Rng)."""

    def __init__(self, *coordinates):
        state = 0x243F6A8885A308D3
        for c in coordinates:
            state = mix64(state ^ mix64((c + GOLDEN_GAMMA) & MASK64))
        self.state = state

    def below(self, n):
        """Uniform in [0, n): the high 64 bits of the 128-bit product of a draw and n."""
        self.state = (self.state + GOLDEN_GAMMA) & MASK64
        return (mix64(self.state) * n) >> 64


def ratio_metric(replicate, examples, transform):
    numerator = 0.0
    denominator = 0.0
    for e in examples:
        numerator += replicate["numerator"][e]
        denominator += replicate["denominator"][e]
    value = numerator / denominator
    return math.exp(value) if transform == "exp" else value


def system_score(chosen, examples, transform):
    """Mean over the chosen seeds of the mean over each seed's chosen replicates.

    chosen: [(run, [replicate index, ...]), ...] in draw order."""
    over_seeds = 0.0
    for run, replicate_indices in chosen:
        over_replicates = 0.0
        for q in replicate_indices:
            over_replicates += ratio_metric(run["replicates"][q], examples, transform)
        over_seeds += over_replicates / len(replicate_indices)
    return over_seeds / len(chosen)


def quantile(values, q):
    """R's type 7 (numpy's default): linear between the order statistics around q (n - 1)."""
    ordered = sorted(values)
    h = q * (len(ordered) - 1)
    lower = math.floor(h)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (h - lower) * (ordered[upper] - ordered[lower])


def compare(a, b, options):
    runs = [sorted(a, key=lambda run: run["seed"]), sorted(b, key=lambda run: run["seed"])]
    seeds = [[run["seed"] for run in side] for side in runs]
    paired = bool(options["pair_seeds"]) and seeds[0] == seeds[1]
    transform = options["transform"]
    seed = options["seed"]
    examples = len(runs[0][0]["replicates"][0]["numerator"])

    everything = range(examples)
    full = [system_score([(run, range(len(run["replicates"]))) for run in side], everything,
                         transform) for side in runs]
    estimate = full[0] - full[1]

    differences = []
    for s in range(options["samples"]):
        draw = Stream(seed, EXAMPLE_DOMAIN, s)
        sampled_examples = [draw.below(examples) for _ in range(examples)]
        scores = []
        for side in (0, 1):
            # Paired systems read the same seed stream, so they get the same seeds.
            seed_draw = Stream(seed, RUN_DOMAIN, s, 0 if paired else side)
            picks = [seed_draw.below(len(runs[side])) for _ in runs[side]]
            chosen = []
            for j, pick in enumerate(picks):
                run = runs[side][pick]
                count = len(run["replicates"])
                replicate_draw = Stream(seed, REPLICATE_DOMAIN, s, side, j)
                chosen.append((run, [replicate_draw.below(count) for _ in range(count)]))
            scores.append(system_score(chosen, sampled_examples, transform))
        differences.append(scores[0] - scores[1])

    n = len(differences)
    confidence = options["confidence"]
    return {
        "estimate": estimate,
        "low": quantile(differences, (1 - confidence) / 2),
        "high": quantile(differences, (1 + confidence) / 2),
        "p_greater": len([d for d in differences if d <= 0]) / n,
        "p_less": len([d for d in differences if d >= 0]) / n,
        "samples": n,
        "paired": paired,
    }


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    results = [compare(c["a"], c["b"], c["options"]) for c in spec["comparisons"]]
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
