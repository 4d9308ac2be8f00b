// Regenerates tests/data/gpt2_reference.json: GPT-2 token ids of tricky texts, computed by the
// reference implementations, for tests/core/bpe_tokenizer_test.cpp.
//
//   bash scripts/fetch-data && node tests/data/make_gpt2_reference.js
//
// The ids come from tiktoken's "gpt2" encoding (OpenAI's tokenizer, compiled to WASM), which
// matches GPT-2's own encoder.py. gpt-3-encoder (a JS port of encoder.py) is run too: its regex
// uses JavaScript's \s, which counts U+FEFF but not U+0085 as whitespace, unlike Python's and
// tiktoken's, so it differs on a few texts here; those are listed and kept with tiktoken's ids.
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
const dataDir = process.env.ABLATE_DATA_DIR || path.join(root, "data");
const modules = path.join(dataDir, "node", "node_modules");
const tiktoken = require(path.join(modules, "tiktoken"));
const gpt3Encoder = require(path.join(modules, "gpt-3-encoder"));

const texts = [
  "Hello world!",
  "",
  " ",
  "a",
  // Contractions: only lowercase 's 't 're 've 'm 'll 'd split off; 'S and curly quotes do not.
  "I'm sure you're right: we've seen they'll go, he'd say it's done, don't you?",
  "I'M SURE YOU'RE RIGHT: WE'VE SEEN THEY'LL GO, HE'D SAY IT'S DONE, DON'T YOU?",
  "the cat's toy, the CAT'S TOY, 'S 's 'Ll 'lL",
  "'s's's''''s",
  "rock'n'roll l'été qu'il",
  "it\u2019s curly, it\u02bcs a modifier letter",
  "'",
  "' s",
  "'m'm 'd'd 've've",
  // Whitespace: runs keep all but their last space apart from the next word.
  "a  b   c    d",
  "   leading spaces",
  "trailing spaces   ",
  "\t\ttabs\tand\t tabs",
  "line one\r\nline two\r\n\r\nline four\r\n",
  "\n\n\n",
  " \n \n ",
  "a \n b\n\n c",
  "end with newline\n",
  "\u00a0no-break\u00a0spaces\u00a0",
  "\u3000ideographic\u3000space",
  "\u2028line\u2029paragraph",
  "\u000b vertical \u000c feed",
  // Code points where regex engines disagree on \s (Unicode White_Space is the reference).
  " \u180ethe \u180e's x  \u180e\u180ey",
  " \ufeffthe \ufeff's",
  " \u0085the \u0085's",
  "\u001c\u001d\u001e\u001f separators",
  "zero\u200bwidth\u200cjoiners\u200d",
  // Numbers.
  "123 4567 89012345 0",
  "3.14159 -2.5e-10 1,000,000 $19.99 50%",
  "2024-01-01T12:00:00Z",
  "\u0663\u0664\u0665 \u2153 \u00b2 \u2460 \u216b",
  // Letters beyond ASCII.
  "caf\u00e9 na\u00efve r\u00e9sum\u00e9 Zo\u00eb",
  "cafe\u0301 combining: a\u0308 o\u0303 e\u0301\u0301\u0301",
  "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002\u3053\u3093\u306b\u3061\u306f\uff01",
  "\u4e2d\u6587\u5b57\u7b26\u6d4b\u8bd5\uff0c\u4f60\u597d\u4e16\u754c",
  "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
  "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
  "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
  "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
  "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",
  "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
  "\ud835\udd18\ud835\udd2b\ud835\udd26\ud835\udd20\ud835\udd2c\ud835\udd21\ud835\udd22 \u210c",
  // Emoji, including ZWJ sequences, skin tones, flags and variation selectors.
  "\ud83d\udc4d",
  "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66 family",
  "\ud83c\udff3\ufe0f\u200d\ud83c\udf08 \ud83d\udc4b\ud83c\udffd " +
      "\ud83c\uddfa\ud83c\uddf8\ud83c\uddeb\ud83c\uddf7",
  "a\ud83d\ude00b \ud83d\ude00\ud83d\ude00\ud83d\ude00 \u2764\ufe0f",
  // Symbols and punctuation runs.
  "\u2211\u222b\u221a\u221e \u2260 \u2264 \u2192 \u00a9\u00ae\u2122",
  "!!!??? ... ,,,,,, ---- ==== ____ ****",
  "<|endoftext|> is plain text here",
  "\u0000 nul \u007f del \u0001\u0002",
  "https://example.com/path?query=1&b=two#frag",
  "user@example.org (555) 123-4567",
  "<div class=\"x\">Hi &amp; bye</div>",
  "{\"key\": [1, 2.5, null, true], \"s\": \"v\"}",
  "def f(x):\n    return x ** 2  # square\n\n\tpass\n",
  "for (int i = 0; i < n; ++i) { a[i] += b[i]; }",
  "SGVsbG8gd29ybGQhIFRoaXMgaXMgYmFzZTY0Lg== e3b0c44298fc1c149afbf4c8996fb924",
  // Long words and runs (the tokenizer caches pieces up to 256 bytes; these go past it).
  "supercalifragilisticexpialidocious Pneumonoultramicroscopicsilicovolcanoconiosis",
  "a".repeat(1000),
  "ab".repeat(300),
  " ".repeat(300) + "x",
  "\n".repeat(100),
  "!".repeat(500),
  "\u00e9".repeat(200),
  "\ud83d\ude00".repeat(100),
  "1234567890".repeat(40),
  "The quick brown fox jumps over the lazy dog. " +
      "It was the best of times, it was the worst of times; it was the age of wisdom.\n\n" +
      "In 1998, RoBERTa didn't exist -- but BERT's successors would (see Liu et al., 2019).",
];

const encoding = tiktoken.get_encoding("gpt2");
const cases = texts.map((text) => ({text, ids: Array.from(encoding.encode_ordinary(text))}));
encoding.free();

const differing = cases.filter((c) => gpt3Encoder.encode(c.text).join(" ") !== c.ids.join(" "));
for (const c of differing) {
  console.log(`gpt-3-encoder differs (its JavaScript \\s) on ${JSON.stringify(c.text)}`);
}

// One case per line keeps diffs of a regenerated file readable.
const json = '{\n "reference": "tiktoken@1.0.22 get_encoding(\'gpt2\').encode_ordinary",\n' +
    ' "cases": [\n' + cases.map((c) => "  " + JSON.stringify(c)).join(",\n") + "\n ]\n}\n";
const file = path.join(__dirname, "gpt2_reference.json");
fs.writeFileSync(file, json);
console.log(`wrote ${cases.length} cases to ${path.relative(root, file)}`);
