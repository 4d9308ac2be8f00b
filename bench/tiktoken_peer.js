// The peer of bench/tokenizer_bench.cpp: encodes a UTF-8 text file with tiktoken's "gpt2"
// encoding (OpenAI's tokenizer compiled to WASM), single-threaded, best of REPS runs.
// Prints MB/s (10^6 bytes of UTF-8 per second) and writes the ids as little-endian uint32.
//
//   node tiktoken_peer.js NODE_MODULES TEXT_FILE IDS_OUT REPS
"use strict";
const fs = require("fs");
const path = require("path");

const [modules, textFile, idsOut, reps] = process.argv.slice(2);
const tiktoken = require(path.resolve(modules, "tiktoken"));

const text = fs.readFileSync(textFile, "utf8");
const bytes = Buffer.byteLength(text, "utf8");
const encoding = tiktoken.get_encoding("gpt2");
let best = Infinity;
let ids;
for (let rep = 0; rep < Number(reps); ++rep) {
  const start = process.hrtime.bigint();
  ids = encoding.encode_ordinary(text);
  best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
}
encoding.free();
fs.writeFileSync(idsOut, Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength));
console.log((bytes / 1e6 / best).toFixed(3));
