import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  return found;
}

const root = join(__dirname, '..');

describe('import direction', () => {
  const core = sourceFiles(join(root, 'src/core'));

  it('finds the core sources', () => {
    expect(core.length).toBeGreaterThan(5);
  });

  it.each(core.map((file) => [relative(root, file), file]))('%s imports neither obsidian, iroh nor Node built-ins, nor anything outside core', (_name, file) => {
    for (const specifier of importsOf(file)) {
      expect(specifier).not.toMatch(/^(obsidian|@number0\/iroh|node:|fs$|path$|electron)/);
      if (specifier.startsWith('.')) expect(specifier).toMatch(/^\.\/[^/]+$/);
      else expect(['rxjs']).toContain(specifier);
    }
  });
});
