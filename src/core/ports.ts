import type { Observable } from 'rxjs';

/**
 * Ports the core depends on. Adapters (iroh, the Obsidian plugin, the headless
 * peer) implement them; specs fake them. Every asynchronous call is an
 * Observable so that marble specs can drive it in virtual time.
 */

/** Where a device can be reached: what a ticket holds, transport-neutral (invites carry it). */
export interface PeerAddress {
  readonly nodeId: string;
  /** `ip:port`, IPv6 in brackets. */
  readonly addresses: readonly string[];
  readonly relay: string | null;
}

/** Who opened a connection: this device (`outgoing`) or the remote one (`incoming`). */
export type ConnectionDirection = 'outgoing' | 'incoming';

export interface PeerConnection {
  /** The remote node id, authenticated by the transport's handshake. */
  readonly remoteNodeId: string;
  readonly direction: ConnectionDirection;
  /**
   * An id the remote process picks afresh on every start, if the transport
   * knows it. Two connections carrying different ids mean the remote restarted
   * in between, so the older connection is stale.
   */
  readonly remoteInstanceId?: string;
  /**
   * A ticket built from the addresses the remote reports now, if the
   * transport learned them. Stored tickets go stale when a device moves or
   * restarts on another port; this one replaces it.
   */
  readonly remoteTicket?: string;
  /** The name the remote device announced for itself, if the transport learned it. */
  readonly remoteName?: string;
  /** The invite secret the remote presented when it dialled us to pair. */
  readonly inviteSecret?: string;
  /**
   * For an incoming connection: tells the device that dialled that it was
   * accepted. Its dial succeeds only then; a close before it is a refusal.
   */
  accept?(): void;
  /**
   * Emits once, with a reason, when the connection has ended for any cause.
   * A remote that closed because it removed this device is reported as
   * REASON_REMOVED_BY_PEER.
   */
  readonly closed$: Observable<string>;
  /**
   * Close the connection; the remote sees the reason. `refused` tells a
   * dialling device not to redial; `removed` that it was unpaired. Idempotent.
   */
  close(reason: string, kind?: CloseKind): void;
  /**
   * Opens a stream for a sub-protocol (a short tag such as `sync/1`) beside
   * the control stream. Rejects when the connection has ended.
   */
  openStream(protocol: string): Promise<FrameStream>;
  /**
   * Streams the remote opened for `protocol`. Streams that arrive before
   * anyone subscribes are held (a few, briefly) for the first subscriber;
   * streams of a protocol nobody asks for are reset. Completes when the
   * connection ends.
   */
  incomingStreams(protocol: string): Observable<FrameStream>;
}

/** The largest frame a FrameStream carries, in bytes. Larger payloads are split by their protocol. */
export const MAX_STREAM_FRAME_BYTES = 1024 * 1024;

/**
 * One sub-protocol's bidirectional stream: ordered, reliable, framed. Bytes
 * are pulled (`read`) and each `write` resolves only once the transport took
 * the frame, so a slow side holds the fast one back instead of buffering
 * without bound. That is why this port is promise-based rather than an
 * Observable: an Observable pushes whether or not the consumer keeps up.
 */
export interface FrameStream {
  /**
   * The next frame, or null once the other side finished sending. Rejects
   * when the stream or its connection broke, or a frame is over the limit.
   * One read at a time: call again only after the previous one settled.
   */
  read(): Promise<Uint8Array | null>;
  /** Sends one frame of at most MAX_STREAM_FRAME_BYTES. Resolves once the transport took it. */
  write(frame: Uint8Array): Promise<void>;
  /** This side sends nothing more; the other side's `read` then returns null. */
  finish(): Promise<void>;
  /** Abandons the stream both ways: pending and later reads and writes on both sides reject. Idempotent. */
  reset(): void;
}

export type CloseKind = 'normal' | 'refused' | 'removed';


export interface ConnectOptions {
  /** Pair using an invite: the secret is presented and the dial succeeds only once the inviter accepts. */
  readonly inviteSecret?: string;
}

export interface Transport {
  /** This device's node id. */
  readonly nodeId: string;
  /** The ticket another device needs to reach this one (current addresses). */
  generateTicket(): Promise<string>;
  /** Where this device can be reached now, for invites. */
  localAddress(): PeerAddress;
  /** A ticket for an address read from an invite. */
  ticketFor(address: PeerAddress): string;
  /**
   * The node id a ticket points at.
   * @throws InvalidTicketError with a message a person can act on
   */
  parseTicket(ticket: string): { readonly nodeId: string };
  /**
   * A cold observable: subscribing dials, unsubscribing before it emits aborts
   * the dial. Emits the open connection once, or errors.
   */
  connect(ticket: string, options?: ConnectOptions): Observable<PeerConnection>;
  /** Connections other devices opened to this one, already authenticated. */
  readonly incoming$: Observable<PeerConnection>;
  /**
   * Optional: nodes the transport turned away itself (its gate said no, or
   * the handshake failed). The core counts a blocked device's attempts from it.
   */
  readonly refused$?: Observable<TransportRefusal>;
}

export interface TransportRefusal {
  readonly nodeId: string;
  readonly reason: string;
}

/** How far a catch-up or a burst of changes has come. */
export interface SyncProgress {
  readonly files: { readonly done: number; readonly total: number };
  readonly bytes: { readonly done: number; readonly total: number };
}

export type SyncEvent =
  /** A catch-up or a burst of changes began: the peer shows `syncing`. */
  | { readonly type: 'started' }
  | ({ readonly type: 'progress' } & SyncProgress)
  /** Everything needed is applied and stored; the peer is live again and `lastSyncAt` is set. */
  | { readonly type: 'finished' }
  /** Concurrent edits to a note were merged (every edit kept). `path` is relative to the synced folder. */
  | { readonly type: 'merged'; readonly path: string }
  /** Two versions of a file could not be merged: both are kept, one of them as `copy`. */
  | { readonly type: 'conflict'; readonly path: string; readonly copy: string };

export interface SyncEngine {
  /**
   * Sync over one connection. Cold: subscribing starts, unsubscribing aborts
   * cleanly (a removed peer, a dropped connection, a shutdown) and leaves no
   * partial file. Emits a `started` ... `finished` cycle for the catch-up
   * and for each later burst of changes, and stays live in between; completes
   * when the connection ends; errors if the sync failed.
   */
  syncWithPeer(connection: PeerConnection): Observable<SyncEvent>;
}

/**
 * Where the peers document (the spec's data.json shape) lives. `load` returns
 * the parsed document, or null/undefined when there is none yet; it throws
 * when the document exists but cannot be read.
 */
export interface PeerStorage {
  load(): Promise<unknown>;
  save(document: Record<string, unknown>): Promise<void>;
  /**
   * Optional: read, change and write in one step that no other writer of the
   * same document can interleave with (the plugin's settings share data.json).
   */
  update?(change: (document: Record<string, unknown>) => Record<string, unknown>): Promise<void>;
  /**
   * Optional: keep a copy of the document exactly as stored, because it was
   * found damaged. Resolves to where the copy is, for telling a person.
   */
  backup?(): Promise<string | null>;
}

/** What happens to a connection from an unknown device that brings no invite. */
export type UnknownDevicePolicy = 'reject' | 'ask';
