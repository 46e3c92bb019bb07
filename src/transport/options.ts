/**
 * What a host can set on the transport, and every default, resolved once.
 */
import type { HeartbeatSchedule } from './heartbeat';
import type { AdmissionLimits } from './admission';
import type { TransportDiagnostics } from './diagnostics';
import { PROTOCOL_VERSION } from './control-protocol';

export type RelayModeSetting = 'default' | 'disabled';

export interface IrohTransportOptions {
  /** 32 bytes, created once and kept by the host: the node id follows from it. */
  readonly secretKey: Uint8Array;
  /** Sent in the hello to devices this one dials, and in the welcome to devices it accepts. */
  readonly deviceName: () => string;
  /** `default`: n0's relays and discovery. `disabled`: direct addresses only (LAN, offline, specs). */
  readonly relayMode?: RelayModeSetting;
  /**
   * `host:port`. A specific address binds only that address (the other IP
   * family only on loopback: iroh 1.1.0's binding cannot leave a family out).
   * `0.0.0.0` or `[::]` means every interface, IPv4 and IPv6. A taken port
   * falls back to a random one. Default: every interface, a random port.
   */
  readonly bindAddress?: string;
  /**
   * The host's gate, asked once the dialler's hello is read and before
   * anything about this device is sent: may `nodeId` connect, presenting
   * `inviteSecret` (when it dials to pair)? False refuses it with a close
   * that tells it only that it is not paired.
   */
  readonly acceptNode?: (nodeId: string, inviteSecret?: string) => boolean;
  readonly heartbeat?: Partial<HeartbeatSchedule>;
  /** How long the dialler's hello may take to arrive. */
  readonly helloTimeoutMs?: number;
  /** How long a dialler waits for the welcome (the other host's decision included). Default: twice `helloTimeoutMs`. */
  readonly welcomeTimeoutMs?: number;
  /** Handshakes strangers may cost before they are turned away unseen. */
  readonly admission?: Partial<AdmissionLimits>;
  /** How long refusals are gathered into one summary on `refusalSummary$`. */
  readonly refusalSummaryMs?: number;
  /** Counters for benchmarks. */
  readonly diagnostics?: TransportDiagnostics;
  /** For specs of version mismatches only. */
  readonly protocolVersion?: number;
}

export const DEFAULT_HEARTBEAT: HeartbeatSchedule = { intervalMs: 1_000, lateMs: 1_250, probeMs: 250, probes: 2, maxQuietMs: 15_000 };

export const DEFAULT_ADMISSION: AdmissionLimits = {
  perSourceBurst: 8,
  perSourceRefillMs: 6_000,
  strangerBurst: 64,
  strangerRefillMs: 500,
};

/** Streams a remote opens before anyone here asks for their protocol: how many are held, and how long. */
export const INCOMING_STREAM_HOLD = { maxHeld: 8, holdMs: 2_000 } as const;

export interface ResolvedTransportOptions {
  readonly secretKey: Uint8Array;
  readonly deviceName: () => string;
  readonly relayMode: RelayModeSetting;
  readonly bindAddress: string | null;
  readonly acceptNode: (nodeId: string, inviteSecret?: string) => boolean;
  readonly heartbeat: HeartbeatSchedule;
  readonly helloTimeoutMs: number;
  readonly welcomeTimeoutMs: number;
  readonly admission: AdmissionLimits;
  readonly refusalSummaryMs: number;
  readonly diagnostics: TransportDiagnostics | null;
  readonly protocolVersion: number;
}

export function resolveOptions(options: IrohTransportOptions): ResolvedTransportOptions {
  const helloTimeoutMs = options.helloTimeoutMs ?? 5_000;
  return {
    secretKey: options.secretKey,
    deviceName: options.deviceName,
    relayMode: options.relayMode ?? 'default',
    bindAddress: options.bindAddress ?? null,
    acceptNode: options.acceptNode ?? (() => true),
    heartbeat: { ...DEFAULT_HEARTBEAT, ...options.heartbeat },
    helloTimeoutMs,
    welcomeTimeoutMs: options.welcomeTimeoutMs ?? 2 * helloTimeoutMs,
    admission: { ...DEFAULT_ADMISSION, ...options.admission },
    refusalSummaryMs: options.refusalSummaryMs ?? 60_000,
    diagnostics: options.diagnostics ?? null,
    protocolVersion: options.protocolVersion ?? PROTOCOL_VERSION,
  };
}
