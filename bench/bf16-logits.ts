/**
 * Logits of one prompt from a checkpoint, for bench/bf16_compute_parity.py (which compares them with PyTorch):
 *   node --import tsx bench/bf16-logits.ts <dir> f32|bf16 <id,id,...>
 * Prints {"vocab": V, "logits": [T·V numbers]} on stdout.
 */
import { loadModel } from '../src/model/load.ts';

const [dir, compute, idsArg] = process.argv.slice(2);
if (!dir || (compute !== 'f32' && compute !== 'bf16') || !idsArg) throw new Error('usage: bf16-logits.ts <dir> f32|bf16 <id,id,...>');
const m = await loadModel(dir, { noTokenizer: true, backend: 'blas', compute });
const ids = idsArg.split(',').map(Number);
const logits = m.forward(ids).logits!.data;
process.stdout.write(JSON.stringify({ vocab: m.spec.vocabSize, logits: Array.from(logits) }) + '\n');
