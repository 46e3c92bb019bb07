/**
 * The iroh adapter of the core's Transport port, and the module hosts import
 * it from. Only src/transport imports @number0/iroh. See DESIGN.md for what
 * was measured about the binding; in particular no Endpoint `watch*` method
 * is called (they abort the process).
 */
import type * as Iroh from '@number0/iroh/index.js';
import { Observable, Subject, filter } from 'rxjs';
import { randomBytes } from 'node:crypto';
import { VaultPeersError } from '../core/errors';
import type { PeerAddress } from '../core/ports';
import { MAX_NAME_LENGTH } from '../core/model';
import { REASON_NOT_PAIRED, REASON_SHUTTING_DOWN, REASON_TURNED_AWAY_UNSEEN, REFUSED_UNKNOWN_INVITE } from '../core/messages';
import type { ConnectOptions, ConnectionDirection, PeerConnection, Transport } from '../core/ports';
import { Admission, reportRefusals, summarizeRefusals, type IncomingSource, type Refusal, type RefusalReport, type RefusalSummary } from './admission';
import { bindPlan, type BindAttempt } from './bind';
import { ALPN, ProtocolError, claimedVersion, incompatibleVersionMessage, parseControlMessage, presentedInvite, type Hello, type PeerInfo, type Welcome } from './control-protocol';
import { ControlCounters } from './diagnostics';
import { acceptHello, dialHandshake, type ControlStream } from './handshake';
import { IrohPeerConnection } from './iroh-connection';
import { CLOSE_INCOMPATIBLE, CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, CLOSE_REFUSED, HandshakeRejected, dialError, irohErrorMessage, parseClose, refusalError } from './iroh-errors';
import { iroh, textBytes } from './iroh-module';
import { INCOMING_STREAM_HOLD, resolveOptions, type IrohTransportOptions, type ResolvedTransportOptions } from './options';
import { RelayPolicy, dialAddress, parseIrohTicket, ticketForAddress, ticketFromReport } from './tickets';

export { generateSecretKey, nodeIdOfSecretKey, useIrohModule } from './iroh-module';
export { parseIrohTicket, ticketForAddress } from './tickets';
export { closeReasonText, irohErrorMessage } from './iroh-errors';
export type { IrohTransportOptions, RelayModeSetting } from './options';
export type { Refusal, RefusalReport, RefusalSummary } from './admission';
export type { ConnectionDiagnostics, TransportDiagnostics } from './diagnostics';

const ALPN_BYTES = textBytes(ALPN);
const MAX_ADDRESSES = 16;

/** Refusals a log shows one by one in each summary window before it only counts them. */
const REFUSALS_SHOWN_PER_WINDOW = 3;

export class IrohTransport implements Transport {
  readonly nodeId: string;
  readonly incoming$: Observable<PeerConnection>;
  /** Devices turned away after their handshake (by the gate, or for a protocol error or version). */
  readonly refused$: Observable<{ readonly nodeId: string; readonly reason: string }>;
  /**
   * Every refusal, those before a handshake included, gathered into one
   * summary per window (a minute by default): for one log line such as
   * "N unknown devices refused in the last minute" instead of one per stranger.
   */
  readonly refusalSummary$: Observable<RefusalSummary>;
  /** For a log a person reads: the first few refusals of each window one by one, the rest counted when it closes. */
  readonly refusalReport$: Observable<RefusalReport>;
  /** True when the configured port was taken and a random one was used. */
  readonly usedFallbackPort: boolean;

  private readonly options: ResolvedTransportOptions;
  private readonly incoming = new Subject<PeerConnection>();
  private readonly refused = new Subject<Refusal>();
  private readonly connections = new Set<IrohPeerConnection>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly instance = randomBytes(12).toString('hex');
  private readonly relays: RelayPolicy;
  private readonly admission: Admission;
  private closing: Promise<void> | null = null;
  private readonly acceptLoopDone: Promise<void>;

  static async create(options: IrohTransportOptions): Promise<IrohTransport> {
    if (options.secretKey.length !== 32) throw new VaultPeersError('The device key must be 32 bytes.');
    const resolved = resolveOptions(options);
    const plan = bindPlan(resolved.bindAddress);
    let firstError: unknown = null;
    for (const attempt of plan) {
      try {
        return new IrohTransport(await IrohTransport.bind(resolved, attempt.addresses), resolved, attempt);
      } catch (error) {
        firstError ??= error;
      }
    }
    throw new VaultPeersError(`Could not open the network endpoint: ${irohErrorMessage(firstError)}`);
  }

  private static bind(options: ResolvedTransportOptions, addresses: readonly string[]): Promise<Iroh.Endpoint> {
    const builder = iroh().Endpoint.builder();
    if (options.relayMode === 'default') iroh().presetN0(builder);
    else iroh().presetMinimal(builder);
    builder.secretKey(Array.from(options.secretKey));
    builder.alpns([ALPN_BYTES]);
    for (const address of addresses) builder.bindAddr(address);
    return builder.bind();
  }

  private constructor(
    private readonly endpoint: Iroh.Endpoint,
    options: ResolvedTransportOptions,
    private readonly bound: BindAttempt,
  ) {
    this.options = options;
    this.nodeId = endpoint.id().toString();
    this.usedFallbackPort = bound.fallbackPort;
    this.relays = new RelayPolicy(options.relayMode);
    this.admission = new Admission(options.admission, () => performance.now());
    this.incoming$ = this.incoming.asObservable();
    this.refused$ = this.refused.pipe(filter((refusal): refusal is { nodeId: string; reason: string } => refusal.nodeId !== null));
    this.refusalSummary$ = this.refused.pipe(summarizeRefusals(options.refusalSummaryMs));
    this.refusalReport$ = this.refused.pipe(reportRefusals(options.refusalSummaryMs, REFUSALS_SHOWN_PER_WINDOW));
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
    const { nodeId, addresses, relay } = this.localAddress();
    return ticketFromReport(nodeId, addresses, relay) ?? iroh().EndpointTicket.fromAddr(this.endpoint.addr()).toString();
  }

  parseTicket(ticket: string): { nodeId: string } {
    return parseIrohTicket(ticket);
  }

  localAddress(): PeerAddress {
    return { nodeId: this.nodeId, addresses: this.directAddresses(), relay: this.endpoint.addr().relayUrl() };
  }

  /** Where this device can be reached directly, without the loopback socket bound only to keep a family off the network. */
  private directAddresses(): string[] {
    const hidden = this.bound.hidden;
    const all = this.endpoint.addr().directAddresses();
    return hidden === null ? all : all.filter((address) => !address.startsWith(`${hidden}:`));
  }

  ticketFor(address: PeerAddress): string {
    return ticketForAddress(address);
  }

  connect(ticket: string, options: ConnectOptions = {}): Observable<PeerConnection> {
    return new Observable<PeerConnection>((subscriber) => {
      let cancelled = false;
      const attempt = this.track(
        (async () => {
          const address = dialAddress(ticket, this.relays);
          if (this.closing) throw new VaultPeersError('This device is shutting down.');
          // A device this one dials may dial back from the same address, or through a relay: never turn it away unseen.
          for (const direct of address.directAddresses()) this.admission.trust({ kind: 'ip', address: direct });
          this.admission.trust({ kind: 'relay', nodeId: address.id().toString() });
          let raw: Iroh.Connection;
          try {
            raw = await this.endpoint.connect(address, ALPN_BYTES);
          } catch (error) {
            throw dialError(error);
          }
          if (cancelled || this.closing) {
            raw.close(CLOSE_NORMAL, textBytes('dial cancelled'));
            return;
          }
          const connection = await this.dial(raw, options.inviteSecret);
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

  /** What this device tells a device it dials (with `invite` when pairing) or welcomes. */
  private about(): PeerInfo {
    return {
      version: this.options.protocolVersion,
      name: this.options.deviceName().slice(0, MAX_NAME_LENGTH),
      instance: this.instance,
      addresses: this.directAddresses().slice(0, MAX_ADDRESSES),
      relay: this.endpoint.addr().relayUrl(),
    };
  }

  /** Dialler's side of the handshake: hello first, then wait for the welcome or the refusal. */
  private async dial(raw: Iroh.Connection, inviteSecret: string | undefined): Promise<IrohPeerConnection> {
    const hello: Hello = { type: 'hello', ...this.about(), ...(inviteSecret ? { invite: inviteSecret } : {}) };
    try {
      const { welcome, ...control } = await dialHandshake(raw, hello, this.options.welcomeTimeoutMs);
      return this.open(raw, control, 'outgoing', welcome, undefined, null);
    } catch (error) {
      if (error instanceof HandshakeRejected) throw error;
      // Closed by the acceptor before it welcomed us: a refusal if it said so, otherwise a failed dial.
      const reason = raw.closeReason();
      if (reason) {
        const { text, code } = parseClose(reason);
        throw refusalError(text, code);
      }
      if (error instanceof ProtocolError) {
        raw.close(CLOSE_PROTOCOL_ERROR, textBytes(`Protocol error: ${error.message}.`));
        throw new HandshakeRejected(`Protocol error: ${error.message}.`);
      }
      raw.close(CLOSE_NORMAL, textBytes('no welcome'));
      throw error instanceof VaultPeersError ? error : new VaultPeersError(`The connection failed: ${irohErrorMessage(error)}`);
    }
  }

  private open(
    raw: Iroh.Connection,
    control: ControlStream,
    direction: ConnectionDirection,
    remote: PeerInfo,
    inviteSecret: string | undefined,
    source: IncomingSource | null,
  ): IrohPeerConnection {
    const remoteNodeId = raw.remoteId().toString();
    const counters = this.options.diagnostics ? new ControlCounters(() => udpSent(raw)) : null;
    const connection = new IrohPeerConnection({
      raw,
      control,
      remoteNodeId,
      direction,
      remote,
      ...(inviteSecret !== undefined ? { inviteSecret } : {}),
      remoteTicket: ticketFromReport(remoteNodeId, remote.addresses, this.relays.filter(remote.relay)),
      welcome: (): Welcome => {
        if (source) this.admission.accepted(source);
        return { type: 'welcome', ...this.about() };
      },
      heartbeat: this.options.heartbeat,
      decisionTimeoutMs: this.options.welcomeTimeoutMs,
      streamHold: INCOMING_STREAM_HOLD,
      counters,
      onEnd: (ended) => this.connections.delete(ended),
    });
    this.connections.add(connection);
    if (counters) this.options.diagnostics?.connectionOpened(connection, counters);
    connection.start();
    return connection;
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
      this.track(this.screen(next)).catch(() => undefined);
    }
  }

  /** Before the handshake: strangers over their budget are turned away unseen, at no cost to either side. */
  private async screen(incoming: Iroh.Incoming): Promise<void> {
    const source = await sourceOf(incoming);
    if (this.closing || !this.admission.admit(source)) {
      await incoming.refuse().catch(() => undefined);
      if (!this.closing) this.refused.next({ nodeId: null, reason: REASON_TURNED_AWAY_UNSEEN });
      return;
    }
    await this.handleIncoming(incoming, source);
  }

  /** Acceptor's side: read the hello, ask the gate, and only then say anything. */
  private async handleIncoming(incoming: Iroh.Incoming, source: IncomingSource): Promise<void> {
    const raw = await (await incoming.accept()).connect();
    const nodeId = raw.remoteId().toString();
    if (this.closing) {
      raw.close(CLOSE_NORMAL, textBytes(REASON_SHUTTING_DOWN));
      return;
    }
    const refuse = (code: bigint, told: string, reason: string = told): void => {
      raw.close(code, textBytes(told));
      this.refused.next({ nodeId, reason });
    };
    let control: ControlStream & { hello: unknown };
    try {
      control = await acceptHello(raw, this.options.helloTimeoutMs);
    } catch (error) {
      // Only our own decisions are refusals; a dial the other side gave up on is not worth a line.
      if (error instanceof ProtocolError) refuse(CLOSE_PROTOCOL_ERROR, `Protocol error: ${error.message}.`);
      else raw.close(CLOSE_NORMAL, []);
      return;
    }
    const inviteSecret = presentedInvite(control.hello);
    if (!this.options.acceptNode(nodeId, inviteSecret)) {
      // A joiner whose invite this device does not know hears that, not a bare "not paired".
      refuse(CLOSE_REFUSED, inviteSecret === undefined ? REASON_NOT_PAIRED : REFUSED_UNKNOWN_INVITE);
      return;
    }
    const version = claimedVersion(control.hello);
    if (version !== null && version !== this.options.protocolVersion) {
      // Each side reads the advice from where it stands: "update this device" or "update the other one".
      refuse(CLOSE_INCOMPATIBLE, incompatibleVersionMessage(version, this.options.protocolVersion), incompatibleVersionMessage(this.options.protocolVersion, version));
      return;
    }
    let hello: Hello;
    try {
      const message = parseControlMessage(control.hello);
      if (message.type !== 'hello') throw new ProtocolError('the other device did not start with a hello');
      hello = message;
    } catch (error) {
      refuse(CLOSE_PROTOCOL_ERROR, `Protocol error: ${(error as Error).message}.`);
      return;
    }
    this.incoming.next(this.open(raw, control, 'incoming', hello, hello.invite, source));
  }
}

/** UDP traffic this side sent on a connection, from iroh. */
function udpSent(raw: Iroh.Connection): { datagrams: number; bytes: number } {
  const stats = raw.stats();
  return { datagrams: stats.udpTxDatagrams, bytes: stats.udpTxBytes };
}

async function sourceOf(incoming: Iroh.Incoming): Promise<IncomingSource> {
  try {
    const address = await incoming.remoteAddr();
    if (address.kind === 'ip' && address.addr) return { kind: 'ip', address: address.addr };
    if (address.kind === 'relay' && address.endpointId) return { kind: 'relay', nodeId: address.endpointId };
  } catch {
    // consumed or gone: judged as unknown
  }
  return { kind: 'unknown' };
}
