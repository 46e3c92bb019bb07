/**
 * The engine author's SyncStore contract (spec/support/sync-store-contract.ts)
 * against the headless peer's file store, each case in a fresh directory and
 * `reopen` as a new instance over the same files (a restart).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSyncStore } from '../../src/cli/sync-store-file';
import { describeSyncStoreContract } from '../support/sync-store-contract';

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function fileStore(options: ConstructorParameters<typeof FileSyncStore>[1] = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'vp-store-contract-'));
  made.push(dir);
  const state = join(dir, 'sync');
  return { store: new FileSyncStore(state, options), reopen: () => Promise.resolve(new FileSyncStore(state, options)) };
}

describeSyncStoreContract('FileSyncStore', () => fileStore());
// The same with compaction at almost every commit: a snapshot must hold exactly what the log held.
describeSyncStoreContract('FileSyncStore compacting at every commit', () => fileStore({ compactMinBytes: 1, slack: 1 }));
