#!/usr/bin/env bash
# Corpus preparation at scale (issue 26): peak memory and throughput of `ablate data prepare`, and
# the memory of a training run, on corpora of 1x, 4x and 16x the mixture (its 14 files copied K
# times with the document ids made distinct, "cK/..."; real text, generated under $BENCH_DIR and
# deleted afterwards, never committed). Prints
#   prepare_rss    peak RSS at 16x against 1x (GPT-2's tokenizer, --jobs 2), 4x in the unit text
#   prepare_jobs   tokens/s of --jobs 2 against --jobs 1 on the 4x corpus, and whether the two
#                  runs' shards are byte for byte the same
#   train_rss      peak RSS of a 300-update micro run (2 x 64, seq 32, batch 64) on the 16x
#                  corpus against the 1x
#   bpe_rss        peak RSS of training a bpe-1024 vocabulary (then preparing with it) on the 16x
#                  corpus against the 1x
# Needs build/bin/ablate(-train) and scripts/fetch-data's corpora. About 10 minutes on 2 cores.
#
# Usage: bench/prepare.sh            (BENCH_DIR: where the corpora go, default a fresh /tmp dir)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ablate="$root/build/bin/ablate"
corpora="$root/data/corpora"
work="${BENCH_DIR:-$(mktemp -d /tmp/ablate-prepare-bench.XXXXXX)}"
trap 'rm -rf "$work"' EXIT
[[ -x "$ablate" ]] || { echo "build first: cmake --build build -j2" >&2; exit 2; }
[[ -f "$corpora/kjv.jsonl" ]] || { echo "fetch the corpora first: scripts/fetch-data" >&2; exit 2; }
mixture="austen moby_dick tidytext_novels brown sotu kjv henry_commentary spurgeon_treasury foldoc
  jargon devils_dictionary debian_handbook python_docs kernel_docs"

data_dir() {  # DIR: an empty data directory with GPT-2's vocabulary
  mkdir -p "$1"
  ln -sfn "$root/data/gpt2" "$1/gpt2"
}

make_corpus() {  # DIR COPIES
  mkdir -p "$1"
  for ((k = 0; k < $2; k++)); do
    for name in $mixture; do
      sed "s|^{\"id\": \"|{\"id\": \"c$k/|" "$corpora/$name.jsonl" >"$1/c$k-$name.jsonl"
    done
  done
}

# Peak RSS in MB and wall seconds of a command: "RSS WALL".
measure() {
  /usr/bin/time -f "%M %e" -o "$work/time" "$@" >"$work/out" 2>"$work/err" ||
    { cat "$work/err" >&2; exit 1; }
  awk '{printf "%.0f %s\n", $1 / 1024, $2}' "$work/time"
}

tokens_of() {  # DATA_DIR -> train + held-out tokens of its one prepared corpus
  python3 -c 'import json, sys, glob
m = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/shards/*/*/meta.json")]
print(sum(x["train_tokens"] + x["valid_tokens"] for x in m))' "$1"
}

declare -A rss mb
for k in 1 4 16; do
  make_corpus "$work/x$k" "$k"
  mb[$k]=$(du -sm "$work/x$k" | cut -f1)
  data_dir "$work/d$k"
  read -r rss[$k] _ < <(measure "$ablate" data prepare --corpus "$work/x$k" --tokenizer gpt2 \
    --jobs 2 --data-dir "$work/d$k")
done
printf 'prepare_rss: ours=%s peer=%s ratio=%.2f (MB peak RSS of `ablate data prepare --tokenizer gpt2 --jobs 2` on 16x the mixture against 1x; 4x: %s MB; text %s / %s / %s MB)\n' \
  "${rss[16]}" "${rss[1]}" "$(echo "${rss[16]} / ${rss[1]}" | bc -l)" "${rss[4]}" "${mb[1]}" "${mb[4]}" "${mb[16]}"

for j in 1 2; do
  rm -rf "$work/j$j" && data_dir "$work/j$j"
  read -r _ wall[$j] < <(measure "$ablate" data prepare --corpus "$work/x4" --tokenizer gpt2 \
    --jobs "$j" --data-dir "$work/j$j")
done
tokens=$(tokens_of "$work/j1")
same=no
if cmp -s "$work"/j1/shards/*/gpt2/train.shard "$work"/j2/shards/*/gpt2/train.shard &&
  cmp -s "$work"/j1/shards/*/gpt2/valid.shard "$work"/j2/shards/*/gpt2/valid.shard; then
  same=yes
fi
printf 'prepare_jobs: ours=%.3g peer=%.3g ratio=%.2f (tokens/s of --jobs 2 against --jobs 1 on 4x the mixture, %s MB, %s tokens; shards byte for byte the same: %s)\n' \
  "$(echo "$tokens / ${wall[2]}" | bc -l)" "$(echo "$tokens / ${wall[1]}" | bc -l)" \
  "$(echo "${wall[1]} / ${wall[2]}" | bc -l)" "${mb[4]}" "$tokens" "$same"
rm -rf "$work/j1" "$work/j2" "$work/x4" "$work/d4"

config="$work/run.json"
"$ablate" expand "$root/experiments/roberta/micro.json" --format json |
  python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[0]["params"]))' >"$config"
for k in 1 16; do
  read -r train_rss[$k] _ < <(measure "$root/build/bin/ablate" train --config "$config" \
    --data-dir "$work/d$k" --run-dir "$work/run$k" --threads 1 --set "data.corpus=$work/x$k" \
    --set data.tokenizer=gpt2 --set train.steps=300 --set optim.warmup_steps=30 \
    --set eval.every=0 --set eval.tasks= --set eval.corpus= --set train.checkpoint_every=0)
done
printf 'train_rss: ours=%s peer=%s ratio=%.2f (MB peak RSS of a 300-update micro run, GPT-2 tokens, on 16x the mixture against 1x)\n' \
  "${train_rss[16]}" "${train_rss[1]}" "$(echo "${train_rss[16]} / ${train_rss[1]}" | bc -l)"

for k in 1 16; do
  read -r bpe_rss[$k] _ < <(measure "$ablate" data prepare --corpus "$work/x$k" --tokenizer bpe-1024 \
    --jobs 2 --data-dir "$work/d$k")
done
printf 'bpe_rss: ours=%s peer=%s ratio=%.2f (MB peak RSS of training a bpe-1024 vocabulary and preparing with it, 16x the mixture against 1x)\n' \
  "${bpe_rss[16]}" "${bpe_rss[1]}" "$(echo "${bpe_rss[16]} / ${bpe_rss[1]}" | bc -l)"
