/**
 * Counters for benchmarks, kept off the production classes: a transport
 * created without `diagnostics` counts nothing.
 */
import type { PeerConnection } from '../core/ports';
import type { ControlMessage } from './control-protocol';

export type ControlMessageType = ControlMessage['type'];

/** What one connection has sent so far. */
export interface ConnectionDiagnostics {
  /** Control messages sent by this side, by type. */
  readonly sent: Readonly<Record<ControlMessageType, number>>;
  /** UDP datagrams and bytes this side sent on the connection, from iroh. */
  udpSent(): { readonly datagrams: number; readonly bytes: number };
}

/** Given to `IrohTransport.create` by a benchmark that wants counters. */
export interface TransportDiagnostics {
  /** Called once for each connection the transport hands out, before the host sees it. */
  connectionOpened(connection: PeerConnection, diagnostics: ConnectionDiagnostics): void;
}

/** The counters behind ConnectionDiagnostics. */
export class ControlCounters implements ConnectionDiagnostics {
  readonly sent: Record<ControlMessageType, number> = { hello: 0, welcome: 0, ping: 0, probe: 0 };

  constructor(readonly udpSent: () => { datagrams: number; bytes: number }) {}

  count(type: ControlMessageType): void {
    this.sent[type] += 1;
  }
}
