/**
 * What the scenarios need from a sync tool. Syncthing and Vault Peers each
 * implement it; the scenarios never know which one they drive. Everything
 * measured (arrival on disk, bytes on the link, memory) is observed from
 * outside the tool; the tool is asked only to start, stop, and say when it
 * believes it is done (for the case where the disk cannot tell: two copies
 * already identical).
 */
import type { Side } from './netns';
import type { Line, ToolProcess } from './process';

export type SideName = 'a' | 'b';

export interface Peer {
  readonly name: SideName;
  readonly side: Side;
  /** The synced folder. */
  readonly vault: string;
  /** The tool's own state (keys, database), never inside the vault. */
  readonly home: string;
}

export interface ToolInfo {
  /** Short id for JSON ("syncthing", "vault-peers"). */
  readonly id: string;
  /** As shown in the table. */
  readonly label: string;
  readonly version: string;
  /** Settings that differ from the tool's defaults, and why. */
  readonly settings: readonly string[];
}

export interface SyncTool {
  readonly info: ToolInfo;
  /** Configures both peers (fresh state) so that they know each other, without syncing anything yet. */
  prepare(a: Peer, b: Peer): Promise<void>;
  /** Starts a peer's process; resolves once it is spawned (not once it is ready). */
  start(peer: Peer): Promise<ToolProcess>;
  stop(peer: Peer, signal?: NodeJS.Signals): Promise<void>;
  process(peer: Peer): ToolProcess | null;
  /** True for a line in which `peer` says it is connected to the other peer. */
  isConnectedLine(peer: Peer, text: string): boolean;
  /** True for a line in which `peer` says the other peer is gone. */
  isDisconnectedLine(peer: Peer, text: string): boolean;
  /**
   * Resolves once both peers say they are fully in sync with each other
   * (each holds the other's index and needs nothing), polled every `everyMs`.
   * `since` (performance.now()) excludes a state from before a restart;
   * `expectedFiles`, when known, is how many files each side must hold.
   * Resolves with the time of the poll that saw it.
   */
  waitInSync(a: Peer, b: Peer, since: number, timeoutMs: number, expectedFiles?: number): Promise<number>;
  /** Makes the tool take in local changes made while it ran (or waits until it has); no-op where the watcher is the only way. */
  settleLocal(peer: Peer): Promise<void>;
  /** The watcher delays to measure live figures at (Syncthing: its default and its best case). */
  readonly watcherDelays: readonly (number | null)[];
  setWatcherDelay(peer: Peer, seconds: number): Promise<void>;
  /** Names the tool gives conflict copies. */
  readonly conflictPattern: RegExp;
  dispose(): Promise<void>;
}

export function firstLine(lines: readonly Line[], from: number, test: (text: string) => boolean): Line | undefined {
  return lines.find((l) => l.at >= from && test(l.text));
}
