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
