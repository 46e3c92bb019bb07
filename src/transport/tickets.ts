/**
 * Tickets (iroh's `endpoint…` strings) and the relays a dial may use.
 */
import type * as Iroh from '@number0/iroh/index.js';
import { InvalidTicketError } from '../core/errors';
import { InvalidInviteError } from '../core/pairing/invite-codec';
import type { PeerAddress } from '../core/ports';
import { irohErrorMessage } from './iroh-errors';
import { iroh } from './iroh-module';
import type { RelayModeSetting } from './options';

const NODE_ID = /^[0-9a-f]{64}$/;

function ticketError(error: unknown): InvalidTicketError {
  const message = irohErrorMessage(error);
  if (/wrong prefix/i.test(message)) return InvalidTicketError.malformed('it does not start with "endpoint"');
  if (/end of buffer|expected more data/i.test(message)) return InvalidTicketError.malformed('it is incomplete');
  return InvalidTicketError.malformed(message.slice(0, 120));
}

/** @throws InvalidTicketError with a reason a person can act on */
export function parseEndpointTicket(ticket: string): Iroh.EndpointTicket {
  const trimmed = ticket.trim();
  if (trimmed.length === 0) throw InvalidTicketError.empty();
  if (trimmed.length > 4_096) throw InvalidTicketError.malformed('it is far too long');
  try {
    return iroh().EndpointTicket.fromString(trimmed);
  } catch (error) {
    throw ticketError(error);
  }
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

/**
 * The relays this device will talk to: those of its own relay map (n0's in
 * `default` mode, none in `disabled` mode). A relay URL is an HTTPS server
 * that a dial connects to, so a URL another device announces must not make
 * this one open connections to any host and port it names.
 */
export class RelayPolicy {
  private readonly allowed: ReadonlySet<string>;

  constructor(mode: RelayModeSetting) {
    const urls = mode === 'default' ? iroh().RelayMode.defaultMode().relayMap().urls() : [];
    this.allowed = new Set(urls.map(normalizeRelayUrl).filter((url): url is string => url !== null));
  }

  /** `url` if it is one of ours, else null. */
  filter(url: string | null | undefined): string | null {
    if (!url) return null;
    const normal = normalizeRelayUrl(url);
    return normal !== null && this.allowed.has(normal) ? url : null;
  }
}

/** Scheme, host (lower case, without a trailing dot) and port; null if not an http(s) URL. */
export function normalizeRelayUrl(url: string): string | null {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
    return `${parsed.protocol}//${parsed.hostname.toLowerCase().replace(/\.$/, '')}:${parsed.port || (parsed.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return null;
  }
}

/** Where to dial a ticket, without a relay this device does not use. */
export function dialAddress(ticket: string, relays: RelayPolicy): Iroh.EndpointAddr {
  const address = parseEndpointTicket(ticket).endpointAddr();
  const relay = address.relayUrl();
  if (relay === null || relays.filter(relay) !== null) return address;
  return new (iroh().EndpointAddr)(address.id(), null, address.directAddresses());
}

/** A fresh ticket from the addresses a peer reports, so a stale stored one can be replaced. */
export function ticketFromReport(nodeId: string, addresses: readonly string[], relay: string | null): string | undefined {
  if (!NODE_ID.test(nodeId) || (addresses.length === 0 && !relay)) return undefined;
  try {
    const address = new (iroh().EndpointAddr)(iroh().EndpointId.fromString(nodeId), relay, [...addresses]);
    return iroh().EndpointTicket.fromAddr(address).toString();
  } catch {
    return undefined;
  }
}
