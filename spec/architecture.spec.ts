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

/** What src/sync may import: rxjs, its own libraries, its own files, and these core modules. */
const SYNC_PACKAGES = ['rxjs', 'yjs', 'diff-match-patch', 'node-diff3', 'fflate'];
const SYNC_CORE = ['ports', 'errors', 'messages', 'remote-text', 'bytes', 'model'];

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

describe('src/sync', () => {
  const sync = sourceFiles(join(root, 'src/sync'));

  it('finds the sync sources', () => {
    expect(sync.length).toBeGreaterThan(10);
  });

  it.each(sync.map((file) => [relative(root, file), file]))(
    '%s imports only rxjs, yjs/lib0, diff-match-patch, node-diff3, fflate, its own files and core ports, errors, messages, remote-text, bytes, model',
    (_name, file) => {
      for (const specifier of importsOf(file)) {
        expect(specifier).not.toMatch(/^(obsidian|@number0\/iroh|node:|fs$|path$|crypto$|electron)/);
        if (specifier.startsWith('../core/')) expect(SYNC_CORE).toContain(specifier.slice('../core/'.length));
        else if (specifier.startsWith('.')) expect(specifier).toMatch(/^\.\/[^/]+$/);
        else if (specifier.startsWith('lib0/')) expect(specifier).toMatch(/^lib0\/(encoding|decoding)$/);
        else expect(SYNC_PACKAGES).toContain(specifier);
      }
    },
  );

  it.each(sync.map((file) => [relative(root, file), file]))('%s stays under 400 lines', (_name, file) => {
    expect(readFileSync(file, 'utf8').split('\n').length).toBeLessThanOrEqual(400);
  });
});
