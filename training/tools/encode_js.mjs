// Encode texts with the @huggingface/tokenizers JS library (the tokenizer the
// TypeScript engine uses).  Usage (run from the repo root so node_modules resolves):
//   node training/tools/encode_js.mjs <model_dir> <texts.json> <out.json>
// texts.json: JSON array of strings.  out.json: {ids: number[][], decoded: string[]}
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const [dir, inPath, outPath] = process.argv.slice(2);
const tj = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
const tc = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
const tok = new Tokenizer(tj, tc);
const texts = JSON.parse(readFileSync(inPath, "utf8"));
const ids = [];
const decoded = [];
for (const t of texts) {
  const e = tok.encode(t);
  ids.push(Array.from(e.ids));
  decoded.push(tok.decode(e.ids, { skip_special_tokens: true }));
}
writeFileSync(outPath, JSON.stringify({ ids, decoded }));
