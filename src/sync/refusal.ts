import { VaultPeersError } from '../core/errors';

/**
 * A peer broke the protocol (an unsafe path, a damaged frame or update, data
 * that does not match its hash). The session ends with this message sent to
 * the peer and shown here; nothing from the offending message is written.
 */
export class SyncRefusal extends VaultPeersError {}
