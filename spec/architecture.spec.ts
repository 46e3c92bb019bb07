import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

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
  const coreDir = join(root, 'src/core');
  const core = sourceFiles(coreDir);
  /** Where inside src/core a file lives: '' for the shared root, or its sub-area ('link', 'pairing'). */
  const areaOf = (file: string): string => {
    const path = relative(coreDir, file);
    return path.includes('/') ? path.split('/')[0]! : '';
  };
  /** The root files that put the sub-areas together; every other root file is shared by all. */
  const composition = new Set(['peer-manager.ts', 'peer-links.ts']);

  it('finds the core sources, in the shared root and its two sub-areas', () => {
    expect(core.length).toBeGreaterThan(5);
    expect(new Set(core.map(areaOf))).toEqual(new Set(['', 'link', 'pairing']));
  });

  it.each(core.map((file) => [relative(root, file), file]))('%s imports neither obsidian, iroh nor Node built-ins, nor anything outside core', (_name, file) => {
    for (const specifier of importsOf(file)) {
      expect(specifier).not.toMatch(/^(obsidian|@number0\/iroh|node:|fs$|path$|electron)/);
      if (specifier.startsWith('.')) expect(resolve(dirname(file), specifier).startsWith(coreDir)).toBe(true);
      else expect(['rxjs']).toContain(specifier);
    }
  });

  it.each(core.map((file) => [relative(root, file), file]))('%s keeps to its area: link and pairing do not import each other, shared files import neither', (_name, file) => {
    const area = areaOf(file);
    const isComposition = area === '' && composition.has(relative(coreDir, file));
    for (const specifier of importsOf(file).filter((s) => s.startsWith('.'))) {
      const target = areaOf(resolve(dirname(file), specifier) + '.ts');
      if (isComposition) continue;
      // A sub-area reaches the shared root and itself; a shared root file only the shared root.
      expect([area, '']).toContain(target);
      if (area === '') expect(target).toBe('');
    }
  });

  it('the shared root does not import the composition files', () => {
    for (const file of core.filter((f) => areaOf(f) === '' && !composition.has(relative(coreDir, f)))) {
      for (const specifier of importsOf(file).filter((s) => s.startsWith('.'))) {
        expect(composition.has(`${relative(coreDir, resolve(dirname(file), specifier))}.ts`)).toBe(false);
      }
    }
  });

  it('no core source is over 400 lines', () => {
    const long = core.filter((file) => readFileSync(file, 'utf8').split('\n').length > 400).map((file) => relative(root, file));
    expect(long).toEqual([]);
  });
});

describe('the shared wiring and the shells', () => {
  const app = sourceFiles(join(root, 'src/app'));
  const cli = sourceFiles(join(root, 'src/cli'));
  const plugin = [...sourceFiles(join(root, 'src/plugin')), join(root, 'src/main.ts')];

  it.each(app.map((file) => [relative(root, file), file]))('%s (shared by both shells) imports neither obsidian nor Node built-ins nor either shell', (_name, file) => {
    for (const specifier of importsOf(file)) {
      expect(specifier).not.toMatch(/^(obsidian|node:|fs$|path$|os$|electron|\.\.\/(cli|plugin|main))/);
    }
  });

  it.each(cli.map((file) => [relative(root, file), file]))('%s (the headless peer) imports neither obsidian nor the plugin', (_name, file) => {
    for (const specifier of importsOf(file)) expect(specifier).not.toMatch(/^(obsidian|electron)$|\.\.\/(plugin|main)\b/);
  });

  it.each(plugin.map((file) => [relative(root, file), file]))('%s (the plugin) does not import the headless peer', (_name, file) => {
    for (const specifier of importsOf(file)) expect(specifier).not.toMatch(/\/cli\//);
  });

  it('the plugin entry only wires: at most 100 lines', () => {
    expect(readFileSync(join(root, 'src/main.ts'), 'utf8').split('\n').length).toBeLessThanOrEqual(100);
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
