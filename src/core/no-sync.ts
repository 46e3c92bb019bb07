import { EMPTY } from 'rxjs';
import type { SyncEngine } from './ports';

/**
 * Until the sync engine (another spec) exists: connections carry no sync, so
 * no peer shows `syncing` and `lastSyncAt` stays null rather than claiming a
 * sync that did not happen.
 */
export const NO_SYNC: SyncEngine = { syncWithPeer: () => EMPTY };
