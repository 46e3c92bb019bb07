/**
 * The iroh adapter of the core's Transport port: the only module that imports
 * @number0/iroh. See DESIGN.md for what was measured about the binding; in
 * particular no Endpoint `watch*` method is called (they abort the process).
 */
import type * as Iroh from '@number0/iroh/index.js';
import { NEVER, Observable, ReplaySubject, Subject, Subscription, interval } from 'rxjs';
import { randomBytes } from 'node:crypto';
import { InvalidTicketError, PeerRefusedError, VaultPeersError } from '../core/errors';
import { InvalidInviteError } from '../core/pairing/invite-codec';
import { MAX_NAME_LENGTH } from '../core/model';
import { REASON_NOT_PAIRED, REASON_REMOVED_BY_PEER, REASON_SHUTTING_DOWN } from '../core/messages';
import {
  type CloseKind,
  type ConnectOptions,
  type ConnectionDirection,
  type FrameStream,
  type PeerAddress,
  type PeerConnection,
  type Transport,
} from '../core/ports';
import {
  ALPN,
  FrameDecoder,
  PROTOCOL_VERSION,
  ProtocolError,
  encodeFrame,
  incompatibleVersionMessage,
  parseControlMessage,
  type ControlMessage,
  type Hello,
} from './control-protocol';

export type RelayModeSetting = 'default' | 'disabled';

type IrohModule = typeof Iroh;
let irohModule: IrohModule | null = null;

/**
 * Uses an already loaded iroh module. The Obsidian plugin loads the native
 * binary from its own folder by absolute path (a bare require of the package
 * fails inside Electron); Node code falls back to the package.
 */
export function useIrohModule(module: IrohModule): void {
  irohModule = module;
}

function iroh(): IrohModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose: the plugin injects the module it loaded by path, so this never runs there
  irohModule ??= require('@number0/iroh/index.js') as IrohModule;
  return irohModule;
}

export interface IrohTransportOptions {
  /** 32 bytes, created once and kept by the host: the node id follows from it. */
  readonly secretKey: Uint8Array;
  /** Announced to peers in the hello. */
  readonly deviceName: () => string;
  /** `default`: n0's relays and discovery. `disabled`: direct addresses only (LAN, offline, specs). */
  readonly relayMode?: RelayModeSetting;
  /** `host:port`; a taken port falls back to a random one. Default `0.0.0.0:0`. */
  readonly bindAddress?: string;
  /** Asked right after the handshake, before any data is read: false refuses the node. */
  readonly acceptNode?: (nodeId: string) => boolean;
  readonly heartbeatIntervalMs?: number;
  /** Silence for this long means the peer is gone (iroh alone waits 30 s). */
  readonly heartbeatTimeoutMs?: number;
  readonly helloTimeoutMs?: number;
  /** For specs of version mismatches only. */
  readonly protocolVersion?: number;
}

export const CLOSE_NORMAL = 0n;
export const CLOSE_PROTOCOL_ERROR = 1n;
export const CLOSE_INCOMPATIBLE = 2n;
export const CLOSE_REFUSED = 3n;
export const CLOSE_REMOVED = 4n;

const CLOSE_CODES: Record<CloseKind, bigint> = { normal: CLOSE_NORMAL, refused: CLOSE_REFUSED, removed: CLOSE_REMOVED };

/** This side turned a connection away during the handshake (a protocol error, an incompatible version). */
export class HandshakeRejected extends PeerRefusedError {}

/** Closes that mean "do not dial again until something changes on that device". */
function refusalError(text: string, code: bigint | null): VaultPeersError {
  return code === CLOSE_REFUSED || code === CLOSE_REMOVED || code === CLOSE_INCOMPATIBLE ? new PeerRefusedError(text) : new VaultPeersError(text);
}


const ALPN_BYTES = Array.from(Buffer.from(ALPN, 'utf8'));
const NODE_ID = /^[0-9a-f]{64}$/;

/** iroh's errors carry Rust source paths and backtraces: keep the first sentence. */
export function irohErrorMessage(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  const first = raw.split('\n')[0] ?? raw;
  return first.replace(/\s*\([^)]*\.rs:\d+:\d+\)/g, '').trim();
}

/** The text a remote close carries, without iroh's "closed by peer: ... (code N)" wrapping. */
export function closeReasonText(reason: string): string {
  return parseClose(reason).text;
}

/** A remote close as iroh reports it: its text and code (null when not closed by the peer). */
export function parseClose(reason: string): { text: string; code: bigint | null } {
  // iroh writes "closed by peer: <reason> (code N)", or just "closed by peer: N" when the reason is empty.
  const match = /^closed by peer: (?:(.*) \(code (\d+)\)|(\d+))$/s.exec(reason);
  if (!match) return { text: reason.trim() || 'The connection was closed.', code: null };
  const code = BigInt(match[2] ?? match[3]!);
  if (code === CLOSE_REMOVED) return { text: REASON_REMOVED_BY_PEER, code };
  return { text: match[1]?.trim() || 'The other device closed the connection.', code };
}

export function generateSecretKey(): Uint8Array {
  return Uint8Array.from(iroh().SecretKey.generate().toBytes());
}

export function nodeIdOfSecretKey(secretKey: Uint8Array): string {
  return iroh().SecretKey.fromBytes(Array.from(secretKey)).public().toString();
}

function ticketError(error: unknown): InvalidTicketError {
  const message = irohErrorMessage(error);
  if (/wrong prefix/i.test(message)) return InvalidTicketError.malformed('it does not start with "endpoint"');
  if (/end of buffer|expected more data/i.test(message)) return InvalidTicketError.malformed('it is incomplete');
  return InvalidTicketError.malformed(message.slice(0, 120));
}

/**
 * The node id an iroh ticket points at.
 * @throws InvalidTicketError with a reason a person can act on
 */
export function parseIrohTicket(ticket: string): { nodeId: string } {
  return { nodeId: parseEndpointTicket(ticket).endpointAddr().id().toString() };
}

/** An iroh ticket for an address read from an invite. */
export function ticketForAddress(address: PeerAddress): string {
  try {
    const id = iroh().EndpointId.fromString(address.nodeId);
    return iroh().EndpointTicket.fromAddr(new (iroh().EndpointAddr)(id, address.relay, [...address.addresses])).toString();
  } catch {
    throw new InvalidInviteError('damaged', 'This invite is damaged: the device address in it cannot be used. Ask for a new one.');
  }
}

function parseEndpointTicket(ticket: string): Iroh.EndpointTicket {
  const trimmed = ticket.trim();
  if (trimmed.length === 0) throw InvalidTicketError.empty();
  if (trimmed.length > 4_096) throw InvalidTicketError.malformed('it is far too long');
  try {
    return iroh().EndpointTicket.fromString(trimmed);
  } catch (error) {
    throw ticketError(error);
  }
}

/** A connection with its control stream: hello done, heartbeats running. */
class IrohPeerConnection implements PeerConnection {
  readonly closed$: Observable<string>;
  /** Settles when the acceptor welcomes us (resolves) or the connection ends first (rejects with the reason). */
  readonly welcomed: Promise<void>;
  private readonly closedSubject = new ReplaySubject<string>(1);
  private readonly subscriptions = new Subscription();
  private ended = false;
  private accepted = false;
  private lastHeard = Date.now();
  private settleWelcome: { resolve: () => void; reject: (error: Error) => void } | null = null;
  /** Heartbeats sent, for the overhead benchmark. */
  heartbeatsSent = 0;

  constructor(
    private readonly raw: Iroh.Connection,
    private readonly send: Iroh.SendStream,
    readonly remoteNodeId: string,
    readonly direction: ConnectionDirection,
    readonly hello: Hello,
    readonly remoteTicket: string | undefined,
    private readonly onEnd: (connection: IrohPeerConnection) => void,
  ) {
    this.closed$ = this.closedSubject.asObservable();
    this.welcomed = new Promise<void>((resolve, reject) => {
      this.settleWelcome = { resolve, reject };
    });
    this.welcomed.catch(() => undefined);
  }

  get inviteSecret(): string | undefined {
    return this.hello.invite;
  }

  get remoteInstanceId(): string {
    return this.hello.instance;
  }

  get remoteName(): string {
    return this.hello.name;
  }

  /** Starts reading frames (after any that came with the hello), sending heartbeats and watching for silence. */
  start(recv: Iroh.RecvStream, decoder: FrameDecoder, alreadyRead: readonly unknown[], intervalMs: number, timeoutMs: number): void {
    this.lastHeard = Date.now();
    try {
      alreadyRead.forEach((message) => this.handle(message));
    } catch (error) {
      if (error instanceof ProtocolError) this.end(`Protocol error: ${error.message}.`, CLOSE_PROTOCOL_ERROR, true);
      return;
    }
    this.subscriptions.add(
      interval(intervalMs).subscribe(() => {
        if (Date.now() - this.lastHeard > timeoutMs) {
          this.end(`The other device stopped answering (nothing heard for ${Math.round(timeoutMs / 1000)} s).`, CLOSE_NORMAL, true);
          return;
        }
        this.heartbeatsSent += 1;
        this.write({ type: 'ping' });
      }),
    );
    void this.readLoop(recv, decoder);
    this.raw.closed().then(
      (reason) => {
        const { text, code } = parseClose(reason);
        this.end(text, CLOSE_NORMAL, false, code);
      },
      (error: unknown) => this.end(irohErrorMessage(error), CLOSE_NORMAL, false),
    );
  }

  close(reason: string, kind: CloseKind = 'normal'): void {
    this.end(reason, CLOSE_CODES[kind], true);
  }

  /** UDP traffic of this connection so far, from iroh. */
  traffic(): { datagrams: number; bytes: number } {
    const stats = this.raw.stats();
    return { datagrams: stats.udpTxDatagrams, bytes: stats.udpTxBytes };
  }

  openStream(): Promise<FrameStream> {
    return Promise.reject(new VaultPeersError('Streams are not implemented yet.'));
  }

  incomingStreams(): Observable<FrameStream> {
    return NEVER;
  }

  accept(): void {
    if (this.accepted || this.direction !== 'incoming' || this.ended) return;
    this.accepted = true;
    this.write({ type: 'welcome' });
  }

  /** Ends the connection once: stops timers, closes the QUIC connection if asked, tells subscribers. */
  end(reason: string, code: bigint, closeRaw: boolean, remoteCode: bigint | null = null): void {
    if (this.ended) return;
    this.ended = true;
    // Closed by the acceptor before it welcomed us: a refusal if it said so, otherwise a failed dial.
    this.settleWelcome?.reject(refusalError(reason, remoteCode));
    this.settleWelcome = null;
    this.subscriptions.unsubscribe();
    if (closeRaw) {
      try {
        this.raw.close(code, Array.from(Buffer.from(reason.slice(0, 400), 'utf8')));
      } catch {
        // already closed underneath us
      }
    }
    this.onEnd(this);
    this.closedSubject.next(reason);
    this.closedSubject.complete();
  }

  private write(message: ControlMessage): void {
    this.send.writeAll(Array.from(encodeFrame(message))).catch(() => {
      // A failed write means the connection is going; closed() reports why.
    });
  }

  private handle(message: unknown): void {
    if (parseControlMessage(message).type === 'welcome' && this.direction === 'outgoing') {
      this.settleWelcome?.resolve();
      this.settleWelcome = null;
    }
  }

  private async readLoop(recv: Iroh.RecvStream, decoder: FrameDecoder): Promise<void> {
    try {
      while (!this.ended) {
        const chunk = await recv.read(4_096);
        if (chunk.length === 0) {
          this.end('The other device closed the control stream.', CLOSE_PROTOCOL_ERROR, true);
          return;
        }
        this.lastHeard = Date.now();
        for (const message of decoder.push(chunk)) this.handle(message);
      }
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.end(`Protocol error: ${error.message}.`, CLOSE_PROTOCOL_ERROR, true);
      }
      // Otherwise the connection closed; closed() reports why.
    }
  }
}

export class IrohTransport implements Transport {
  readonly nodeId: string;
  readonly incoming$: Observable<PeerConnection>;
  /** Nodes turned away by `acceptNode` or for protocol errors, for logs and counters. */
  readonly refused$: Observable<{ readonly nodeId: string; readonly reason: string }>;
  /** True when the configured port was taken and a random one was used. */
  readonly usedFallbackPort: boolean;

  private readonly incoming = new Subject<PeerConnection>();
  private readonly refused = new Subject<{ nodeId: string; reason: string }>();
  private readonly connections = new Set<IrohPeerConnection>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly instance = randomBytes(12).toString('hex');
  private closing: Promise<void> | null = null;
  private readonly acceptLoopDone: Promise<void>;

  static async create(options: IrohTransportOptions): Promise<IrohTransport> {
    if (options.secretKey.length !== 32) throw new VaultPeersError('The device key must be 32 bytes.');
    const requested = options.bindAddress ?? '0.0.0.0:0';
    try {
      return new IrohTransport(await IrohTransport.bind(options, requested), options, false);
    } catch (error) {
      const fallback = requested.replace(/:\d+$/, ':0');
      if (fallback === requested) throw new VaultPeersError(`Could not open the network endpoint: ${irohErrorMessage(error)}`);
      return new IrohTransport(await IrohTransport.bind(options, fallback), options, true);
    }
  }

  private static bind(options: IrohTransportOptions, address: string): Promise<Iroh.Endpoint> {
    const builder = iroh().Endpoint.builder();
    if ((options.relayMode ?? 'default') === 'default') iroh().presetN0(builder);
    else iroh().presetMinimal(builder);
    builder.secretKey(Array.from(options.secretKey));
    builder.alpns([ALPN_BYTES]);
    builder.bindAddr(address);
    return builder.bind();
  }

  private constructor(
    private readonly endpoint: Iroh.Endpoint,
    private readonly options: IrohTransportOptions,
    usedFallbackPort: boolean,
  ) {
    this.nodeId = endpoint.id().toString();
    this.usedFallbackPort = usedFallbackPort;
    this.incoming$ = this.incoming.asObservable();
    this.refused$ = this.refused.asObservable();
    this.acceptLoopDone = this.acceptLoop();
  }

  /** The sockets the endpoint listens on (`ip:port`). */
  get boundSockets(): string[] {
    return this.endpoint.boundSockets();
  }

  /** Open connections, for leak checks. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Handshakes and dials not yet settled, for leak checks. */
  get pendingCount(): number {
    return this.pending.size;
  }

  async generateTicket(): Promise<string> {
    return iroh().EndpointTicket.fromAddr(this.endpoint.addr()).toString();
  }

  parseTicket(ticket: string): { nodeId: string } {
    return parseIrohTicket(ticket);
  }

  localAddress(): PeerAddress {
    const address = this.endpoint.addr();
    return { nodeId: this.nodeId, addresses: address.directAddresses(), relay: address.relayUrl() };
  }

  ticketFor(address: PeerAddress): string {
    return ticketForAddress(address);
  }

  connect(ticket: string, options: ConnectOptions = {}): Observable<PeerConnection> {
    return new Observable<PeerConnection>((subscriber) => {
      let cancelled = false;
      const attempt = this.track(
        (async () => {
          const address = parseEndpointTicket(ticket).endpointAddr();
          if (this.closing) throw new VaultPeersError('This device is shutting down.');
          let raw: Iroh.Connection;
          try {
            raw = await this.endpoint.connect(address, ALPN_BYTES);
          } catch (error) {
            const message = irohErrorMessage(error);
            throw new VaultPeersError(
              /timed out/i.test(message) ? 'The device did not answer.' : `Could not reach the device: ${message}`,
            );
          }
          if (cancelled || this.closing) {
            raw.close(CLOSE_NORMAL, Array.from(Buffer.from('dial cancelled')));
            return;
          }
          const connection = await this.establish(raw, 'outgoing', options.inviteSecret);
          await this.awaitWelcome(connection);
          if (cancelled) {
            connection.close('dial cancelled');
            return;
          }
          subscriber.next(connection);
          subscriber.complete();
        })(),
      );
      attempt.catch((error: unknown) => {
        if (!cancelled) subscriber.error(error);
      });
      return () => {
        cancelled = true;
      };
    });
  }

  /** Closes every connection and the endpoint; resolves when nothing is left running. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const connection of [...this.connections]) connection.end(REASON_SHUTTING_DOWN, CLOSE_NORMAL, true);
      await this.endpoint.close();
      await this.acceptLoopDone;
      await Promise.allSettled([...this.pending]);
      this.incoming.complete();
      this.refused.complete();
    })();
    return this.closing;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const untrack = (): void => {
      this.pending.delete(promise);
    };
    promise.then(untrack, untrack);
    return promise;
  }

  private async acceptLoop(): Promise<void> {
    for (;;) {
      let next: Iroh.Incoming | null;
      try {
        next = await this.endpoint.acceptNext();
      } catch {
        return;
      }
      if (!next || this.closing) return;
      this.track(this.handleIncoming(next)).catch(() => undefined);
    }
  }

  private async handleIncoming(incoming: Iroh.Incoming): Promise<void> {
    const raw = await (await incoming.accept()).connect();
    const nodeId = raw.remoteId().toString();
    if (this.closing) {
      raw.close(CLOSE_NORMAL, Array.from(Buffer.from(REASON_SHUTTING_DOWN)));
      return;
    }
    if (this.options.acceptNode && !this.options.acceptNode(nodeId)) {
      raw.close(CLOSE_REFUSED, Array.from(Buffer.from(REASON_NOT_PAIRED)));
      this.refused.next({ nodeId, reason: REASON_NOT_PAIRED });
      return;
    }
    try {
      this.incoming.next(await this.establish(raw, 'incoming'));
    } catch (error) {
      // Only our own decisions are refusals; a dial the other side gave up on is not worth a line.
      if (error instanceof HandshakeRejected) this.refused.next({ nodeId, reason: error.message });
    }
  }

  /** A dial is done only when the acceptor welcomes us; a refusal before that fails it with the reason. */
  private async awaitWelcome(connection: IrohPeerConnection): Promise<void> {
    const ms = this.options.helloTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        connection.welcomed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new VaultPeersError('The other device did not accept the connection in time.')), ms);
        }),
      ]);
    } catch (error) {
      connection.close('no welcome');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Opens (or accepts) the control stream, swaps hellos and checks the version. */
  private async establish(raw: Iroh.Connection, direction: ConnectionDirection, inviteSecret?: string): Promise<IrohPeerConnection> {
    const remoteNodeId = raw.remoteId().toString();
    const version = this.options.protocolVersion ?? PROTOCOL_VERSION;
    const helloTimeoutMs = this.options.helloTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ProtocolError('the other device did not say hello in time')), helloTimeoutMs);
    });
    try {
      const stream = await Promise.race([direction === 'outgoing' ? raw.openBi() : raw.acceptBi(), timeout]);
      const ours: Hello = {
        type: 'hello',
        version,
        name: this.options.deviceName().slice(0, MAX_NAME_LENGTH),
        instance: this.instance,
        addresses: this.endpoint.addr().directAddresses().slice(0, 16),
        relay: this.endpoint.addr().relayUrl(),
        ...(inviteSecret ? { invite: inviteSecret } : {}),
      };
      await Promise.race([stream.send.writeAll(Array.from(encodeFrame(ours))), timeout]);
      const decoder = new FrameDecoder();
      const { hello: theirs, rest } = await Promise.race([this.readHello(stream.recv, decoder), timeout]);
      if (theirs.version !== version) {
        // Each side reads the advice from where it stands: "update this device" or "update the other one".
        raw.close(CLOSE_INCOMPATIBLE, Array.from(Buffer.from(incompatibleVersionMessage(theirs.version, version))));
        throw new HandshakeRejected(incompatibleVersionMessage(version, theirs.version));
      }
      const connection = new IrohPeerConnection(
        raw,
        stream.send,
        remoteNodeId,
        direction,
        theirs,
        this.ticketFromHello(remoteNodeId, theirs),
        (ended) => this.connections.delete(ended),
      );
      this.connections.add(connection);
      connection.start(
        stream.recv,
        decoder,
        rest,
        this.options.heartbeatIntervalMs ?? 1_000,
        this.options.heartbeatTimeoutMs ?? 3_000,
      );
      return connection;
    } catch (error) {
      if (error instanceof ProtocolError) {
        raw.close(CLOSE_PROTOCOL_ERROR, Array.from(Buffer.from(`Protocol error: ${error.message}.`)));
        throw new HandshakeRejected(`Protocol error: ${error.message}.`);
      }
      if (error instanceof VaultPeersError) throw error; // includes PeerRefusedError
      // The connection failed underneath; if the peer said why (a version mismatch, a refusal), pass that on.
      const reason = raw.closeReason();
      raw.close(CLOSE_NORMAL, []);
      if (!reason) throw new VaultPeersError(`The connection failed: ${irohErrorMessage(error)}`);
      const { text, code } = parseClose(reason);
      throw refusalError(text, code);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads up to the hello; frames that came in the same chunks after it are returned to be handled next. */
  private async readHello(recv: Iroh.RecvStream, decoder: FrameDecoder): Promise<{ hello: Hello; rest: unknown[] }> {
    for (;;) {
      const chunk = await recv.read(4_096);
      if (chunk.length === 0) throw new ProtocolError('the other device closed the control stream before saying hello');
      const [first, ...rest] = decoder.push(chunk);
      if (first === undefined) continue;
      const message = parseControlMessage(first);
      if (message.type !== 'hello') throw new ProtocolError('the other device did not start with a hello');
      return { hello: message, rest };
    }
  }

  /** A fresh ticket from the addresses a peer reports, so a stale stored one can be replaced. */
  private ticketFromHello(nodeId: string, hello: Hello): string | undefined {
    if (!NODE_ID.test(nodeId) || (hello.addresses.length === 0 && !hello.relay)) return undefined;
    try {
      const address = new (iroh().EndpointAddr)(iroh().EndpointId.fromString(nodeId), hello.relay, [...hello.addresses]);
      return iroh().EndpointTicket.fromAddr(address).toString();
    } catch {
      return undefined;
    }
  }
}
