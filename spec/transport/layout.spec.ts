/**
 * The transport's own boundaries: only the iroh adapter modules touch the
 * binding; the protocol, framing and timing modules are pure (rxjs and the
 * core's ports, errors and messages), so specs feed them hostile input and
 * virtual time directly.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(__dirname, '..', '..', 'src', 'transport');
const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

function importsOf(file: string): string[] {
  const text = readFileSync(join(dir, file), 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

const PURE = ['admission.ts', 'bind.ts', 'control-protocol.ts', 'deadline.ts', 'diagnostics.ts', 'framing.ts', 'heartbeat.ts', 'incoming-streams.ts', 'options.ts'];

describe('src/transport layout', () => {
  it('knows every module', () => {
    expect(files.length).toBeGreaterThanOrEqual(PURE.length + 6);
  });

  it.each(PURE)('%s is pure: no iroh, no I/O', (file) => {
    for (const specifier of importsOf(file)) {
      if (specifier.startsWith('.')) expect(specifier).toMatch(/^\.\/[\w-]+$|^\.\.\/core\/(ports|errors|messages|model)$/);
      else expect(specifier).toBe('rxjs');
    }
  });

  it.each(files)('%s is at most 400 lines', (file) => {
    expect(readFileSync(join(dir, file), 'utf8').split('\n').length).toBeLessThanOrEqual(400);
  });

  it('loads the iroh binding in one place only', () => {
    const loaders = files.filter((file) => /require\(\s*['"]@number0\/iroh/.test(readFileSync(join(dir, file), 'utf8')));
    expect(loaders).toEqual(['iroh-module.ts']);
  });
});
