import { TFile, TFolder, type App, type EventRef, type TAbstractFile } from 'obsidian';
import { Observable, asyncScheduler, type SchedulerLike } from 'rxjs';
import type { FileChange } from '../../sync';
import { batchChanges } from '../../sync/timing';
import type { OpenNotes } from './open-notes';

export interface EditTiming {
  /** Typing pauses this long before the note goes out (ms). */
  readonly quietMs: number;
  /** While typing goes on, the note goes out at least this often (ms). */
  readonly maxMs: number;
}

/** A pause of 300 ms, or a second of steady typing: a peer sees the text within about a second, and a sentence is not sent per keystroke. */
export const EDIT_TIMING: EditTiming = { quietMs: 300, maxMs: 1_000 };

/**
 * What changed in the vault, for the engine: Obsidian's vault events
 * (`create`, `modify`, `delete`, and `rename` with the old path, which the
 * engine takes as a move) and typing in an open note, which reaches the
 * disk only when Obsidian saves (about 2 s after typing stops) but should
 * reach the other devices sooner: it is reported as a modification of the
 * note once the typing pauses (EditTiming), and the engine then reads the
 * editor's text through the adapter.
 *
 * The vault events are registered once the layout is ready, so the `create`
 * Obsidian reports for every file while the vault loads is not taken for new
 * files (the engine's start-up scan compares the whole vault instead).
 */
export function watchVault(app: App, notes: OpenNotes, scheduler: SchedulerLike = asyncScheduler, timing: EditTiming = EDIT_TIMING): Observable<FileChange> {
  return new Observable<FileChange>((subscriber) => {
    const refs: EventRef[] = [];
    app.workspace.onLayoutReady(() => {
      if (subscriber.closed) return;
      const vault = app.vault;
      refs.push(
        vault.on('create', (file: TAbstractFile) => {
          // An empty folder is nothing to sync; files put in it come with their own events.
          if (file instanceof TFile) subscriber.next({ type: 'created', path: file.path });
        }),
        vault.on('modify', (file: TAbstractFile) => {
          if (file instanceof TFile) subscriber.next({ type: 'modified', path: file.path });
        }),
        vault.on('delete', (file: TAbstractFile) => {
          if (file instanceof TFile || file instanceof TFolder) subscriber.next({ type: 'deleted', path: file.path });
        }),
        vault.on('rename', (file: TAbstractFile, oldPath: string) => {
          subscriber.next({ type: 'renamed', path: file.path, from: oldPath });
        }),
      );
    });
    const typing = notes.localEdits$.pipe(batchChanges(timing.quietMs, timing.maxMs, scheduler)).subscribe((paths) => {
      for (const path of new Set(paths)) subscriber.next({ type: 'modified', path });
    });
    return () => {
      typing.unsubscribe();
      for (const ref of refs) app.vault.offref(ref);
    };
  });
}
