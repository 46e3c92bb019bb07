/**
 * Which sockets to ask iroh for. iroh 1.1.0's builder starts with one IPv4
 * and one IPv6 socket on every interface, and the binding's `bindAddr` only
 * replaces the one of the address's family: no call leaves a family out
 * (iroh's `clear_ip_transports` is not exposed). So a specific address binds
 * that address, and the other family is confined to its loopback address,
 * which nothing outside this machine can reach.
 */

export interface BindAttempt {
  readonly addresses: readonly string[];
  /** True when this attempt gave up the asked port for a random one. */
  readonly fallbackPort: boolean;
  /** The loopback host bound only to keep the other family off the network: not worth advertising. */
  readonly hidden: string | null;
}

const IPV4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;
const IPV6 = /^\[([0-9a-fA-F:.%\w]+)\]:(\d{1,5})$/;

/**
 * The attempts to make, in order, for a requested `host:port` (null: every
 * interface, a random port).
 */
export function bindPlan(requested: string | null): BindAttempt[] {
  if (requested === null) return [{ addresses: [], fallbackPort: false, hidden: null }];
  const v4 = IPV4.exec(requested);
  const v6 = v4 ? null : IPV6.exec(requested);
  // Not an address we understand: let iroh say why.
  if (!v4 && !v6) return [{ addresses: [requested], fallbackPort: false, hidden: null }];
  const host = v4 ? v4[1]! : `[${v6![1]!}]`;
  const port = Number((v4 ?? v6)![2]);
  const unspecified = host === '0.0.0.0' || host === '[::]';
  // Every interface of one family means every interface: the other family keeps iroh's default.
  const loopback = v4 ? '[::1]' : '127.0.0.1';
  const companions = unspecified ? [[]] : [[`${loopback}:0`], []];
  const ports = port === 0 ? [0] : [port, 0];
  return ports.flatMap((p) =>
    companions.map((companion) => ({
      addresses: [`${host}:${p}`, ...companion],
      fallbackPort: p !== port,
      hidden: companion.length > 0 ? loopback : null,
    })),
  );
}
