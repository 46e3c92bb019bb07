/**
 * One Vault Peers connection on an iroh connection: its control stream
 * (heartbeats, the welcome) and the sub-protocol streams beside it.
 */
import type * as Iroh from '@number0/iroh/index.js';
import { Observable, ReplaySubject, Subject, Subscription, asyncScheduler, timer } from 'rxjs';
import { VaultPeersError } from '../core/errors';
import { reasonStoppedAnswering } from '../core/messages';
import type { CloseKind, ConnectionDirection, FrameStream, PeerConnection } from '../core/ports';
import { MAX_STREAM_FRAME_BYTES } from '../core/ports';
import { ProtocolError, parseControlMessage, type ControlMessage, type FrameDecoder, type PeerInfo, type Welcome } from './control-protocol';
import { withTimeout } from './deadline';
import type { ControlCounters } from './diagnostics';
import { IrohFrameStream, STREAM_PROTOCOL_ERROR } from './frame-stream';
import { FrameReader, StreamHeaderError, encodeStreamHeader, fromBindingBytes, isProtocolTag, readStreamHeader, toBindingBytes } from './framing';
import { heartbeat, type HeartbeatSchedule } from './heartbeat';
import { IncomingStreams, type HoldLimits } from './incoming-streams';
import { CLOSE_CODES, CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, irohErrorMessage, parseClose } from './iroh-errors';
import { textBytes } from './iroh-module';
import { writeControl, type ControlStream } from './handshake';

export interface ConnectionSetup {
  readonly raw: Iroh.Connection;
  readonly control: ControlStream;
  readonly remoteNodeId: string;
  readonly direction: ConnectionDirection;
  /** What the other device told about itself (its hello, or its welcome). */
  readonly remote: PeerInfo;
  readonly inviteSecret?: string;
  readonly remoteTicket: string | undefined;
  /** This device's welcome, sent when the host accepts an incoming connection. */
  readonly welcome: () => Welcome;
  readonly heartbeat: HeartbeatSchedule;
  /** How long an incoming connection may wait for the host's decision; also the limit for a stream's header. */
  readonly decisionTimeoutMs: number;
  readonly streamHold: HoldLimits;
  readonly counters: ControlCounters | null;
  readonly onEnd: (connection: IrohPeerConnection) => void;
}

export class IrohPeerConnection implements PeerConnection {
  readonly closed$: Observable<string>;
  readonly remoteNodeId: string;
  readonly direction: ConnectionDirection;
  readonly remoteTicket: string | undefined;
  readonly inviteSecret: string | undefined;
  private readonly raw: Iroh.Connection;
  private readonly send: Iroh.SendStream;
  private readonly closedSubject = new ReplaySubject<string>(1);
  private readonly heard = new Subject<void>();
  private readonly subscriptions = new Subscription();
  private readonly streams = new Set<IrohFrameStream>();
  private readonly incoming: IncomingStreams<IrohFrameStream>;
  private ended = false;
  private live = false;
  /** An incoming connection's deadline for the host's decision. */
  private decision: Subscription | null = null;
  /** Rejects when the connection ends, so that nothing waits on iroh past that. */
  private readonly endedSignal: Promise<never>;
  private signalEnd: (error: Error) => void = () => undefined;

  constructor(private readonly setup: ConnectionSetup) {
    this.raw = setup.raw;
    this.send = setup.control.stream.send;
    this.remoteNodeId = setup.remoteNodeId;
    this.direction = setup.direction;
    this.remoteTicket = setup.remoteTicket;
    this.inviteSecret = setup.inviteSecret;
    this.closed$ = this.closedSubject.asObservable();
    this.incoming = new IncomingStreams(setup.streamHold);
    this.endedSignal = new Promise<never>((_, reject) => {
      this.signalEnd = reject;
    });
    this.endedSignal.catch(() => undefined);
  }

  get remoteInstanceId(): string {
    return this.setup.remote.instance;
  }

  get remoteName(): string {
    return this.setup.remote.name;
  }

  /**
   * Starts reading the control stream and watching the connection. A dialled
   * connection is live at once (it was welcomed); an incoming one waits for
   * `accept()`, saying nothing meanwhile.
   */
  start(): void {
    void this.readControl(this.setup.control.decoder, this.setup.control.rest);
    this.raw.closed().then(
      (reason) => {
        this.end(parseClose(reason).text, CLOSE_NORMAL, false);
      },
      (error: unknown) => this.end(irohErrorMessage(error), CLOSE_NORMAL, false),
    );
    if (this.direction === 'outgoing') {
      this.goLive();
    } else {
      this.decision = timer(this.setup.decisionTimeoutMs).subscribe(() => {
        this.end('The connection was neither accepted nor refused in time.', CLOSE_NORMAL, true);
      });
      this.subscriptions.add(this.decision);
    }
  }

  accept(): void {
    if (this.live || this.direction !== 'incoming' || this.ended) return;
    this.decision?.unsubscribe();
    this.write(this.setup.welcome());
    this.goLive();
  }

  close(reason: string, kind: CloseKind = 'normal'): void {
    this.end(reason, CLOSE_CODES[kind], true);
  }

  async openStream(protocol: string): Promise<FrameStream> {
    if (!isProtocolTag(protocol)) throw new VaultPeersError(`"${protocol.slice(0, 80)}" is not a stream protocol tag.`);
    if (this.ended) throw new VaultPeersError('The connection has ended.');
    if (!this.live) throw new VaultPeersError('The connection has not been accepted yet.');
    const ended = this.endedSignal;
    let bi: Iroh.BiStream;
    try {
      bi = await Promise.race([this.raw.openBi(), ended]);
    } catch (error) {
      throw error instanceof VaultPeersError ? error : new VaultPeersError(`Could not open a "${protocol}" stream: ${irohErrorMessage(error)}`);
    }
    const stream = this.track(new IrohFrameStream(protocol, bi.send, bi.recv, new FrameReader(MAX_STREAM_FRAME_BYTES), this.streamHooks()));
    // The header goes out at once: the other side sees a stream only once bytes arrive on it.
    try {
      await Promise.race([bi.send.writeAll(toBindingBytes(encodeStreamHeader(protocol))), ended]);
    } catch (error) {
      stream.abort(error instanceof VaultPeersError ? error.message : irohErrorMessage(error));
      throw error instanceof VaultPeersError ? error : new VaultPeersError(`Could not open a "${protocol}" stream: ${irohErrorMessage(error)}`);
    }
    return stream;
  }

  incomingStreams(protocol: string): Observable<FrameStream> {
    return this.incoming.streams(protocol);
  }

  /** Ends the connection once: stops timers and streams, closes the QUIC connection if asked, tells subscribers. */
  end(reason: string, code: bigint, closeRaw: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.signalEnd(new VaultPeersError(`The connection has ended: ${reason}`));
    this.subscriptions.unsubscribe();
    this.heard.complete();
    for (const stream of [...this.streams]) stream.abort(`The connection ended: ${reason}`);
    this.streams.clear();
    this.incoming.end();
    if (closeRaw) {
      try {
        this.raw.close(code, textBytes(reason.slice(0, 400)));
      } catch {
        // already closed underneath us
      }
    }
    this.setup.onEnd(this);
    this.closedSubject.next(reason);
    this.closedSubject.complete();
  }

  private goLive(): void {
    this.live = true;
    // Probes wait at least a few round trips: a slow link is not a dead one.
    const schedule = { ...this.setup.heartbeat, probeMs: Math.max(this.setup.heartbeat.probeMs, 3 * (this.raw.rtt() ?? 0)) };
    this.subscriptions.add(
      this.heard.pipe(heartbeat(schedule, asyncScheduler, () => this.datagramsReceived())).subscribe((action) => {
        if (action.type === 'gone') {
          this.end(reasonStoppedAnswering(action.silentMs), CLOSE_NORMAL, true);
        } else {
          this.write({ type: action.type });
        }
      }),
    );
    void this.acceptStreams();
  }

  /** Datagrams this connection received so far (0 once iroh can no longer say). */
  private datagramsReceived(): number {
    try {
      return this.raw.stats().udpRxDatagrams;
    } catch {
      return 0;
    }
  }

  private write(message: ControlMessage): void {
    this.setup.counters?.count(message.type);
    writeControl(this.send, message).catch(() => {
      // A failed write means the connection is going; closed() reports why.
    });
  }

  private handle(message: ControlMessage): void {
    if (message.type === 'probe' && this.live) this.write({ type: 'ping' });
    else if (message.type === 'hello' || message.type === 'welcome') throw new ProtocolError(`the other device sent a second ${message.type}`);
  }

  private async readControl(decoder: FrameDecoder, alreadyRead: readonly unknown[]): Promise<void> {
    try {
      for (const message of alreadyRead) this.handle(parseControlMessage(message));
      while (!this.ended) {
        const chunk = await this.setup.control.stream.recv.read(4_096);
        if (chunk.length === 0) {
          this.end('The other device closed the control stream.', CLOSE_PROTOCOL_ERROR, true);
          return;
        }
        this.heard.next();
        for (const message of decoder.push(chunk)) this.handle(parseControlMessage(message));
      }
    } catch (error) {
      if (error instanceof ProtocolError) this.end(`Protocol error: ${error.message}.`, CLOSE_PROTOCOL_ERROR, true);
      // Otherwise the connection closed; closed() reports why.
    }
  }

  /** Streams the other side opens: read each one's header, then hand it out. */
  private async acceptStreams(): Promise<void> {
    while (!this.ended) {
      let bi: Iroh.BiStream;
      try {
        bi = await this.raw.acceptBi();
      } catch {
        return; // the connection ended
      }
      void this.receiveHeader(bi);
    }
  }

  private async receiveHeader(bi: Iroh.BiStream): Promise<void> {
    const reader = new FrameReader(MAX_STREAM_FRAME_BYTES);
    try {
      const protocol = await withTimeout(this.readHeader(bi.recv, reader), this.setup.decisionTimeoutMs, () => new StreamHeaderError('no stream header in time'));
      if (this.ended) throw new StreamHeaderError('the connection ended');
      this.incoming.offer(this.track(new IrohFrameStream(protocol, bi.send, bi.recv, reader, this.streamHooks())));
    } catch {
      bi.send.reset(STREAM_PROTOCOL_ERROR).catch(() => undefined);
      bi.recv.stop(STREAM_PROTOCOL_ERROR).catch(() => undefined);
    }
  }

  private async readHeader(recv: Iroh.RecvStream, reader: FrameReader): Promise<string> {
    for (;;) {
      const protocol = readStreamHeader(reader);
      if (protocol !== null) return protocol;
      const chunk = await recv.read(64);
      if (chunk.length === 0) throw new StreamHeaderError('the stream ended before its header');
      reader.push(fromBindingBytes(chunk));
    }
  }

  private track(stream: IrohFrameStream): IrohFrameStream {
    this.streams.add(stream);
    return stream;
  }

  private streamHooks() {
    return {
      heard: () => this.heard.next(),
      ended: (stream: IrohFrameStream) => void this.streams.delete(stream),
    };
  }
}
