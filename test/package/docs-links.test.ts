/** Every relative link in README.md and docs/**.md points at a file that exists (anchors not checked). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function markdown(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? markdown(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : []));
}

test('relative links in the docs resolve', () => {
  const broken: string[] = [];
  const files = [...markdown('docs'), 'README.md'];
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = m[1]!;
      if (/^(https?|mailto):/.test(target)) continue;
      if (!existsSync(join(dirname(f), target))) broken.push(`${f} → ${target}`);
    }
  }
  assert.ok(files.includes('docs/README.md') && files.includes('docs/errors.md'));
  assert.deepEqual(broken, []);
});
