import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = join(__dirname, '..', '..');

/**
 * A TypeScript program (source text importing from src/ with paths relative
 * to src/cli) bundled to one file, to run as a real process that a spec can
 * kill -9. Native modules stay external and resolve from the repository.
 */
export class ChildScript {
  private readonly dir = mkdtempSync(join(tmpdir(), 'vp-child-'));
  readonly file = join(this.dir, 'child.js');

  constructor(source: string) {
    buildSync({
      stdin: { contents: source, resolveDir: join(ROOT, 'src', 'cli'), loader: 'ts', sourcefile: 'child.ts' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile: this.file,
      external: ['@parcel/watcher', '@number0/iroh'],
      logLevel: 'silent',
    });
  }

  /** Runs it with `args`; `wrapper` is a command line that ends by running what follows it (e.g. `unshare -m sh -c '... exec "$@"'`). */
  start(args: string[], options: { uid?: number; gid?: number; wrapper?: string[] } = {}): RunningChild {
    const { wrapper = [], ...ids } = options;
    const [command, ...rest] = [...wrapper, process.execPath, this.file, ...args];
    const child = spawn(command!, rest, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
      ...ids,
    });
    return new RunningChild(child);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class RunningChild {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private partial = '';

  constructor(readonly process: ChildProcess) {
    process.stdout!.setEncoding('utf8').on('data', (data: string) => {
      const parts = (this.partial + data).split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
    });
    process.stderr!.setEncoding('utf8').on('data', (data: string) => (this.stderr += data));
    this.exited = new Promise((resolve) => process.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Waits until `condition` holds of the output so far (the child failing first is an error). */
  async waitFor(condition: (lines: readonly string[]) => boolean, what: string, limitMs = 60_000): Promise<void> {
    const deadline = Date.now() + limitMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (!condition(this.lines)) {
      if (exited) throw new Error(`The child exited before ${what}: ${this.stderr || this.lines.slice(-3).join(' | ')}`);
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}: ${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** kill -9, and wait until the process is gone (its pid no longer alive). */
  async kill(): Promise<void> {
    this.process.kill('SIGKILL');
    await this.exited;
  }
}
