/**
 * A tool's process, started inside a namespace. Each output line is stamped
 * with the harness's clock when it arrives, so "connected" is timed from the
 * tool's own words but by our clock, the same way for both tools. Output is
 * kept in a log file for when something goes wrong.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { onCleanup } from './cleanup';

export interface Line {
  readonly at: number;
  readonly text: string;
}

export interface Memory {
  /** Resident set size now, bytes. */
  readonly rss: number;
  /** The highest resident set size so far, bytes. */
  readonly hwm: number;
  /** Resident memory of the process's own (anonymous) pages now, bytes: RSS without the shared code pages of its binary and libraries. */
  readonly anon: number;
}

/** VmRSS and VmHWM of a process, or null once it is gone. */
export function memoryOf(pid: number): Memory | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon') };
  } catch {
    return null;
  }
}

/** The command name of a process (/proc/PID/comm), or null once it is gone. */
export function commandOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** User plus system CPU time of a process so far, in seconds (children not included). */
export function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

export class ToolProcess {
  readonly lines: Line[] = [];
  private readonly child: ChildProcess;
  private readonly waiters = new Set<{ test: (line: Line) => boolean; resolve: (line: Line) => void }>();
  private exitWaiters: ((code: number | null) => void)[] = [];
  private exited = false;
  private exitCode: number | null = null;
  private readonly forget: () => void;

  constructor(
    readonly label: string,
    argv: readonly string[],
    private readonly logFile: string,
    env: Record<string, string> = {},
  ) {
    appendFileSync(logFile, `\n=== ${new Date().toISOString()} ${argv.join(' ')}\n`);
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const pid = this.child.pid;
    this.forget = onCleanup(`${label} (pid ${pid})`, () => {
      if (!this.exited && pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let buffer = '';
      stream.on('data', (chunk: Buffer) => {
        const at = performance.now();
        buffer += chunk.toString('utf8');
        const parts = buffer.split('\n');
        buffer = parts.pop() ?? '';
        for (const text of parts) this.onLine({ at, text });
      });
    }
    this.child.once('exit', (code) => {
      this.exited = true;
      this.exitCode = code;
      appendFileSync(logFile, `=== exited with ${code}\n`);
      for (const waiter of this.exitWaiters.splice(0)) waiter(code);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return !this.exited;
  }

  private onLine(line: Line): void {
    this.lines.push(line);
    appendFileSync(this.logFile, `[${this.label} ${(line.at / 1000).toFixed(3)}] ${line.text}\n`);
    for (const waiter of [...this.waiters]) {
      if (waiter.test(line)) {
        this.waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  }

  /** The first line from `from` (a performance.now() time) on that passes `test`. */
  waitForLine(test: (text: string) => boolean, ms: number, from = 0, what = 'a line'): Promise<Line> {
    const seen = this.lines.find((l) => l.at >= from && test(l.text));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        test: (l: Line) => l.at >= from && test(l.text),
        resolve: (l: Line) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.label}: no ${what} within ${ms} ms (log: ${this.logFile})`));
      }, ms);
      this.waiters.add(waiter);
      if (this.exited) {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        reject(new Error(`${this.label} exited with ${this.exitCode} before ${what} (log: ${this.logFile})`));
      }
      this.exitWaiters.push(() => {
        if (!this.waiters.has(waiter)) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        reject(new Error(`${this.label} exited with ${this.exitCode} before ${what} (log: ${this.logFile})`));
      });
    });
  }

  /** Sends `signal`; after `graceMs` without an exit, SIGKILL. Resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<number | null> {
    if (this.exited) {
      this.forget();
      return this.exitCode;
    }
    const exited = new Promise<number | null>((resolve) => this.exitWaiters.push(resolve));
    this.child.kill(signal);
    const timer = setTimeout(() => {
      if (!this.exited) this.child.kill('SIGKILL');
    }, graceMs);
    const code = await exited;
    clearTimeout(timer);
    this.forget();
    return code;
  }
}

/** Runs a short command to its end; throws with its output when it fails. */
export function runCommand(argv: readonly string[], logFile: string, timeoutMs = 120_000): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  appendFileSync(logFile, `\n=== ${argv.join(' ')}\n${r.stdout}${r.stderr}=== exit ${r.status}\n`);
  if (r.status !== 0) throw new Error(`${argv.slice(0, 8).join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`);
  return r.stdout;
}
