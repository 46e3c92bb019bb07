export * from './model';
export * from './errors';
export * from './ports';
export * from './messages';
export * from './store';
export * from './backoff';
export * from './tie-break';
export * from './persistence';
export * from './peer-states';
export * from './invite';
export * from './invites';
export {
  PeerManager,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_DIALS,
  MAX_PENDING_REQUESTS,
} from './peer-manager';
export type { PeerManagerOptions, PeerManagerEvent, Joined } from './peer-manager';
