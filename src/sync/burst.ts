import type { SchedulerAction, SchedulerLike } from 'rxjs';
import type { SyncEvent, SyncProgress } from '../core/ports';

/**
 * A peer's `started` … `progress` … `finished` cycle. A cycle begins with a
 * catch-up or the first change of a burst and ends when the session says
 * everything is applied and stored both ways. Progress is reported at most
 * once per `progressMs` (the first at once, the latest at the end of each
 * period), on the injected scheduler, and never after `finished`.
 */
export class Burst {
  private active = false;
  /** The files (ids) this cycle concerns, both ways: a note sent and received in one cycle is one file, as a person counts. */
  private readonly files = new Set<string>();
  private readonly filesDone = new Set<string>();
  private bytes = { done: 0, total: 0 };
  private lastSent = '';
  private timer: { unsubscribe(): void } | null = null;

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly progressMs: number,
    private readonly emit: (event: SyncEvent) => void,
  ) {}

  get running(): boolean {
    return this.active;
  }

  begin(): void {
    if (this.active) return;
    this.active = true;
    this.files.clear();
    this.filesDone.clear();
    this.bytes = { done: 0, total: 0 };
    this.lastSent = '';
    this.emit({ type: 'started' });
  }

  /** More work became known: these files (ids) and `bytes` bytes to receive or send. */
  expect(files: Iterable<string>, bytes: number): void {
    this.begin();
    for (const id of files) this.files.add(id);
    this.bytes.total += bytes;
    this.changed();
  }

  /** Work done. Totals grow with it if the estimate was short, so done never passes total. */
  done(files: Iterable<string>, bytes: number): void {
    if (!this.active) return;
    for (const id of files) {
      this.files.add(id);
      this.filesDone.add(id);
    }
    this.bytes.done += bytes;
    this.bytes.total = Math.max(this.bytes.total, this.bytes.done);
    this.changed();
  }

  /** Everything is applied and stored: report the last progress, then `finished`. */
  finish(): void {
    if (!this.active) return;
    this.timer?.unsubscribe();
    this.timer = null;
    for (const id of this.files) this.filesDone.add(id);
    this.bytes.done = this.bytes.total;
    this.sendProgress();
    this.active = false;
    this.emit({ type: 'finished' });
  }

  dispose(): void {
    this.timer?.unsubscribe();
    this.timer = null;
    this.active = false;
    this.files.clear();
    this.filesDone.clear();
  }

  private changed(): void {
    if (this.timer) return;
    this.sendProgress();
    this.timer = this.scheduler.schedule(function (this: SchedulerAction<Burst>, burst?: Burst) {
      if (!burst) return;
      burst.timer = null;
      if (burst.active && burst.progressKey() !== burst.lastSent) burst.changed();
    }, this.progressMs, this);
  }

  private progressKey(): string {
    return `${this.filesDone.size}/${this.files.size}/${this.bytes.done}/${this.bytes.total}`;
  }

  private sendProgress(): void {
    const key = this.progressKey();
    if (key === this.lastSent || this.files.size === 0) return;
    this.lastSent = key;
    const progress: SyncProgress = { files: { done: this.filesDone.size, total: this.files.size }, bytes: { ...this.bytes } };
    this.emit({ type: 'progress', ...progress });
  }
}
