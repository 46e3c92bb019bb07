/**
 * The sync engine (docs/SYNC.md). One module per job, in the order data
 * flows:
 *
 * - ports.ts          the folder (VaultFiles) and the engine's state (SyncStore): what adapters implement
 * - paths.ts          which paths may be synced, collisions, exclusions, Syncthing's conflict names
 * - hash.ts           the content hash (SHA-256 over 512 KiB chunks), shared with adapters
 * - versions.ts       version vectors, stamps, derived ids
 * - rules.ts          the merge rules for two versions of one file's record (pure)
 * - text-diff.ts      minimal edits between two texts (diff-match-patch, whole code points)
 * - text-merge.ts     three-way merge by lines, by characters inside overlapping regions (node-diff3)
 * - notes.ts          a note's Yjs document: deterministic enrollment, disk text in, remote updates in
 * - note-cache.ts     documents loaded on demand and evicted
 * - folder-index.ts   the index in memory, with its lookups
 * - folder.ts         one folder: index, notes, store, the serial task queue, change and event streams
 * - bounded.ts        I/O with a bounded number at once (reading files at a scan, writing notes)
 * - disk.ts           reading files; writing a note with compare-and-swap
 * - local-look.ts     what each path on disk holds against the index (read several at once)
 * - local.ts          disk changes in: created, modified, deleted, moved (paired by content)
 * - collisions.ts     two live files on one path: keep both, deterministically
 * - writer.ts         records out to disk: moves, deletes, notes, attachments already on disk
 * - remote.ts         a peer's entries and note updates in
 * - records-codec.ts  entries and records as bytes
 * - wire.ts           the protocol's messages and frames
 * - outbox.ts         a session's writer loop, by priority, never blocking a reader
 * - acks.ts           a session's acknowledgements: one frame per applied change, none in reply to one
 * - doc-answers.ts    a peer's asks for notes → answers, bounded by the index
 * - doc-parts.ts      a large note update put back together from its parts, in order, one at a time
 * - blob-transfer.ts  an attachment over its own stream: fetch into staging, serve from disk
 * - blob-fetcher.ts   which attachment to fetch from which peer
 * - burst.ts          a peer's started … progress … finished cycle
 * - session.ts        one peer's sync over one connection
 * - timing.ts         disk event batching and write retries on the injected scheduler
 * - status.ts         per-peer status, conflicts, files not synced, the activity log
 * - conflicts.ts      keep this / keep that / keep both
 * - engine.ts         VaultSyncEngine: core's SyncEngine for one folder
 */
export { VaultSyncEngine, type SyncEngineOptions } from './engine';
export type { ConflictChoice } from './conflicts';
export type { ActivityEntry, ActivityKind, ConflictCopy, NotSyncedFile, PeerSyncState, PeerSyncStatus } from './status';
export { defaultFilter, type FilterSettings } from './paths';
export { CHUNK_BYTES, contentHash, webSha256, type Sha256 } from './hash';
export { encodeRecord, decodeRecord, encodePeerMark, decodePeerMark } from './records-codec';
export { SyncRefusal } from './refusal';
export type * from './ports';
