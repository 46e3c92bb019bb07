/** Base class so callers can tell our errors (with a message fit for a person) from bugs. */
export class VaultPeersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The other device sent a stream something no honest device sends (a frame
 * over the limit, a frame cut off at the end). Whoever reads the stream
 * refuses that device, as for any other broken message.
 */
export class PeerProtocolError extends VaultPeersError {}

export type InvalidTicketReason = 'empty' | 'malformed' | 'own-ticket';

/** The ticket a person pasted or scanned cannot be used. Nothing was added. */
export class InvalidTicketError extends VaultPeersError {
  constructor(
    readonly reason: InvalidTicketReason,
    message: string,
  ) {
    super(message);
  }

  static empty(): InvalidTicketError {
    return new InvalidTicketError('empty', 'The ticket is empty: paste the whole ticket shown on the other device.');
  }

  static malformed(detail?: string): InvalidTicketError {
    const why = detail ? ` (${detail})` : '';
    return new InvalidTicketError(
      'malformed',
      `This is not a valid Vault Peers ticket${why}. It may have been cut off when copied: copy the whole ticket from the other device again.`,
    );
  }

  static ownTicket(): InvalidTicketError {
    return new InvalidTicketError(
      'own-ticket',
      "This is this device's own ticket. Paste the ticket shown on the other device instead.",
    );
  }
}

export class UnknownPeerError extends VaultPeersError {
  constructor(readonly nodeId: string) {
    super(`No known device has the id ${nodeId}. It may have been removed.`);
  }
}

/** A change a person asked for on a device (its name, auto-connect) is not valid. Nothing changed. */
export class InvalidPeerUpdateError extends VaultPeersError {
  static emptyName(): InvalidPeerUpdateError {
    return new InvalidPeerUpdateError('A device name cannot be empty.');
  }

  static nameTooLong(max: number): InvalidPeerUpdateError {
    return new InvalidPeerUpdateError(`A device name can be at most ${max} characters long.`);
  }

  static notABoolean(field: string): InvalidPeerUpdateError {
    return new InvalidPeerUpdateError(`${field} must be true or false.`);
  }
}

/** A dial did not finish within the connect timeout. */
export class ConnectTimeoutError extends VaultPeersError {
  constructor(readonly timeoutMs: number) {
    super(`The device did not answer within ${Math.round(timeoutMs / 1000)} s. Is it online and running Vault Peers?`);
  }
}

/**
 * The other device turned this one away on purpose (not paired there, removed,
 * waiting for approval, a bad invite). Redialling will not help until
 * something changes on that device, so the redial loop stops.
 */
export class PeerRefusedError extends VaultPeersError {}

/** The stored peers document cannot be read or written safely. */
export class StorageError extends VaultPeersError {}

/** The manager was destroyed; nothing more can be done with it. */
export class ManagerDestroyedError extends VaultPeersError {
  constructor() {
    super('The peer manager has been shut down.');
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  return String(error);
}
