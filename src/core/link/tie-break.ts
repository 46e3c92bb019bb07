import type { ConnectionDirection, PeerConnection } from '../ports';

/**
 * Two connections to the same peer: which one both ends keep.
 *
 * 1. Different remote instance ids: the remote restarted in between, so the
 *    older connection is stale and the newer one wins.
 * 2. Both opened by the same side: that side dialled again because it saw the
 *    old one end, so the newer one wins.
 * 3. Opened by different sides (a simultaneous dial): the one dialled by the
 *    lower node id wins. Both ends compute the same answer without talking.
 */
export function preferredConnection(
  localNodeId: string,
  existing: PeerConnection,
  candidate: PeerConnection,
): 'existing' | 'candidate' {
  if (
    existing.remoteInstanceId !== undefined &&
    candidate.remoteInstanceId !== undefined &&
    existing.remoteInstanceId !== candidate.remoteInstanceId
  ) {
    return 'candidate';
  }
  if (existing.direction === candidate.direction) return 'candidate';
  return existing.direction === winningDirection(localNodeId, candidate.remoteNodeId) ? 'existing' : 'candidate';
}

/** The direction of the connection that wins a simultaneous dial: the lower node id's. */
export function winningDirection(localNodeId: string, remoteNodeId: string): ConnectionDirection {
  return localNodeId < remoteNodeId ? 'outgoing' : 'incoming';
}
