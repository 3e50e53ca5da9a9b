/** Test helper: a copy of a model directory with every tensor rewritten in one dtype (round to nearest even). */
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadSafetensorsFile, writeSafetensorsFile, type TensorToWrite } from '../../src/io/safetensors.ts';

export interface Poison {
  /** Picks the tensor to poison from the checkpoint's names. */
  tensor: (names: string[]) => string;
  index: number;
  value: number;
}

/**
 * Copies `src` (config.json, model.safetensors and any tokenizer / generation files) into a fresh directory
 * under `root`, every tensor written as `dtype`, optionally with one element poisoned. Returns the directory.
 */
export function rewriteCheckpoint(src: string, dtype: 'BF16' | 'F16' | 'F32', root: string, poison?: Poison): string {
  const out = mkdtempSync(join(root, `${basename(src)}-`));
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
    if (existsSync(join(src, f))) copyFileSync(join(src, f), join(out, f));
  }
  const tensors = loadSafetensorsFile(join(src, 'model.safetensors'));
  const write: Record<string, TensorToWrite> = {};
  for (const [name, t] of tensors) write[name] = { dtype, shape: t.shape, data: t.data };
  if (poison) {
    const name = poison.tensor([...tensors.keys()]);
    (write[name]!.data as Float32Array)[poison.index] = poison.value;
  }
  writeSafetensorsFile(join(out, 'model.safetensors'), write);
  return out;
}
