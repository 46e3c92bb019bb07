import { PeerProtocolError } from '../core/errors';
import { firstValueFrom, mergeMap, type SchedulerLike, type Subscription } from 'rxjs';
import type { FrameStream, PeerConnection, SyncEvent } from '../core/ports';
import { Acks } from './acks';
import { serveBlob } from './blob-transfer';
import type { BlobFetcher } from './blob-fetcher';
import { Burst } from './burst';
import type { ChangeSet, Folder } from './folder';
import { REFUSED_FOLDER, REFUSED_FRAME, REFUSED_IDENTITY, REFUSED_UNEXPECTED, REFUSED_VERSION, peerNoteTooBig, peerStopped, refusedPath } from './messages';
import { MAX_NOTE_BYTES } from './disk';
import { Outbox, type Producer } from './outbox';
import { unsafePathReason } from './paths';
import { entryOf, type Entry } from './records-codec';
import { SyncRefusal } from './refusal';
import { isValidStateVector } from './notes';
import { DocAnswers } from './doc-answers';
import { PartAssembly } from './doc-parts';
import { receiveDocs, receiveEntries } from './remote';
import { BLOB_PROTOCOL, PROTOCOL_VERSION, SYNC_PROTOCOL, decodeMessage, encodeMessage, type DocUpdate, type SyncMessage } from './wire';

/**
 * One peer's sync over one connection (see docs/SYNC.md, "The protocol").
 * Both sides run the same session: each says in HELLO how far it has the
 * other's index, sends its own index from there, asks for the note content
 * it lacks, and confirms (SYNCED) what it has applied and stored. Then both
 * stay live: each local change is one CHANGES frame.
 */

export interface SessionOptions {
  readonly scheduler: SchedulerLike;
  readonly progressMs: number;
  /** Incoming blob requests served at once. */
  readonly blobServers: number;
}

export class PeerSession {
  private outbox: Outbox | null = null;
  private stream: FrameStream | null = null;
  private readonly subscriptions: Subscription[] = [];
  private readonly burst: Burst;
  private stopped = false;
  private helloSeen = false;
  private theirEpoch = '';
  /** Their sequence numbers: the highest received, and the highest applied and stored with everything before it. */
  private received = 0;
  private seen = 0;
  private theirCaughtUp: number | null = null;
  /** Notes asked for and not answered yet: id → their sequence number of the entry that called for it. */
  private readonly outstanding = new Map<string, number>();
  private readonly expectedBytes = new Map<string, number>();
  /** Attachment contents this peer announced that this device may still lack, with the file (id) each is for. */
  private readonly announced = new Map<string, string>();
  /** The peer's entries for notes whose content was asked for: applied when it arrives. */
  private readonly waiting = new Map<string, Entry>();
  private readonly parts = new PartAssembly();
  private readonly answers: DocAnswers;
  /** Our sequence numbers: the highest sent, whether the catch-up is out, and the highest the peer confirmed. */
  private sentSeq = 0;
  private caughtUpSent = false;
  private peerAcked = 0;
  private acks: Acks | null = null;
  private detachBlobs: () => void = () => undefined;
  /** Where the catch-up started before the peer's HELLO said how far it has us, and the sequence number it covers. */
  private assumedFrom = 0;
  private snapshotSeq = 0;
  private connectionEnded = false;
  private byeReceived = false;
  private handling = '';
  private rejectRun: (error: unknown) => void = () => undefined;

  constructor(
    private readonly folder: Folder,
    private readonly connection: PeerConnection,
    private readonly fetcher: BlobFetcher,
    private readonly options: SessionOptions,
    private readonly emit: (event: SyncEvent) => void,
  ) {
    this.burst = new Burst(options.scheduler, options.progressMs, emit);
    this.answers = new DocAnswers(folder);
  }

  private get peer(): string {
    return this.connection.remoteNodeId;
  }

  /** Runs until the connection ends (resolves) or the sync fails (rejects with a reason a person can read). */
  async run(): Promise<void> {
    const stream =
      this.connection.direction === 'outgoing'
        ? await this.connection.openStream(SYNC_PROTOCOL)
        : await firstValueFrom(this.connection.incomingStreams(SYNC_PROTOCOL), { defaultValue: null });
    if (!stream || this.stopped) {
      stream?.reset();
      return;
    }
    this.stream = stream;
    const outbox = new Outbox(stream);
    this.outbox = outbox;
    // In order with live changes: a caught-up must never overtake the changes it covers.
    this.acks = new Acks(this.options.scheduler, (message) => outbox.sendLiveMessage(message), () => this.checkSettled());
    const failed = new Promise<never>((_, reject) => (this.rejectRun = reject));
    this.subscriptions.push(this.connection.closed$.subscribe(() => (this.connectionEnded = true)));
    // Live changes first, then the catch-up snapshot: nothing that changes in between is missed.
    this.subscriptions.push(this.folder.changes$.subscribe((change) => this.pushLive(change)));
    this.subscriptions.push(
      this.connection
        .incomingStreams(BLOB_PROTOCOL)
        .pipe(mergeMap((blob) => serveBlob(this.folder, blob).catch((error: unknown) => this.fail(error)), this.options.blobServers))
        .subscribe(),
    );
    // Any fetch that ends may bring content this peer announced (another peer may have sent it first).
    this.subscriptions.push(this.fetcher.settled$.subscribe(() => this.checkSettled()));
    this.detachBlobs = this.fetcher.attach({
      deviceId: this.peer,
      connection: this.connection,
      onStart: (bytes) => this.burst.expect([], bytes),
      onBytes: (bytes) => this.burst.done([], bytes),
      refuse: (refusal) => this.fail(refusal),
    });
    const mark = this.folder.peerMark(this.peer);
    this.theirEpoch = mark.epoch;
    this.seen = mark.seen;
    outbox.send({ type: 'hello', protocol: PROTOCOL_VERSION, folder: this.folder.options.folderId, device: this.folder.options.deviceId, epoch: this.folder.epoch, seenEpoch: mark.epoch, seen: mark.seen });
    // Send what the peer confirmed last time we talked at once, without waiting for its HELLO (half a round trip saved).
    const assumed = mark.ackedEpoch === this.folder.epoch ? mark.acked : 0;
    this.assumedFrom = assumed;
    this.burst.begin();
    this.catchUp(assumed, Number.POSITIVE_INFINITY);
    try {
      await Promise.race([this.readLoop(stream), outbox.run(), failed]);
    } catch (caught) {
      const error = caught instanceof PeerProtocolError ? new SyncRefusal(caught.message) : caught; // seen by the reader or the writer first
      if (this.stopped || (this.connectionEnded && !(error instanceof SyncRefusal))) return;
      if (error instanceof SyncRefusal) this.connection.close(error.message, 'refused');
      throw error;
    } finally {
      this.stop();
    }
  }

  /** Ends the session (the peer was removed, the connection dropped, the engine shut down). Idempotent. */
  stop(reason?: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.outbox?.stop();
    this.acks?.stop();
    if (reason && this.stream && !this.connectionEnded) {
      // Tell the peer this is a clean stop, not a failure. Finished, not reset: a reset could drop the frame.
      const stream = this.stream;
      stream
        .write(encodeMessage({ type: 'bye', reason }))
        .then(() => stream.finish())
        .catch(() => stream.reset());
    } else {
      this.stream?.reset();
    }
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.detachBlobs();
    this.burst.dispose();
  }

  private async readLoop(stream: FrameStream): Promise<void> {
    for (;;) {
      const frame = await stream.read().catch((error: unknown) => {
        if (this.stopped) return null;
        throw error instanceof PeerProtocolError ? new SyncRefusal(error.message) : error;
      });
      if (frame === null || this.stopped) return;
      let message: SyncMessage;
      try {
        message = decodeMessage(frame) as SyncMessage;
      } catch {
        throw new SyncRefusal(REFUSED_FRAME);
      }
      this.handling = message.type;
      await this.handle(message);
      this.handling = '';
      if (this.byeReceived) return;
    }
  }

  private async handle(message: SyncMessage): Promise<void> {
    if (message.type !== 'hello' && message.type !== 'bye' && !this.helloSeen) throw new SyncRefusal(REFUSED_UNEXPECTED(message.type));
    switch (message.type) {
      case 'hello':
        return this.onHello(message);
      case 'changes':
        await this.onEntries(message.entries, new Set(message.docs.map((d) => d.id)));
        return message.docs.length > 0 ? this.onDocs(message.docs) : undefined;
      case 'docs':
        return this.onDocs(message.docs);
      case 'doc-part': {
        const update = this.parts.take(message.id, message.total, message.offset, message.bytes, (wanted) => this.outstanding.has(wanted));
        return update ? this.onDocs([{ id: message.id, update }]) : undefined;
      }
      case 'want-docs':
        // Throws (refusing the peer) when its unanswered asks outgrow the index.
        return this.outbox!.answer(this.answers.accept(message.wants));
      case 'caught-up':
        return this.onCaughtUp(message.seq);
      case 'synced':
        await this.onSynced(message.seq);
        // A caught-up for echoes may come with it (never the first caught-up, the one that ends the catch-up).
        return message.caughtUp > 0 && this.theirCaughtUp !== null ? this.onCaughtUp(message.caughtUp) : undefined;
      case 'bye':
        // The peer stopped syncing cleanly (it is shutting down, or can no longer watch its folder): the session ends, not
        // as a failure. A peer that removed this device sends no BYE: it closes the connection as removed.
        this.folder.emit({ type: 'error', message: peerStopped(message.reason, this.peer) });
        this.byeReceived = true;
        return;
      default:
        throw new SyncRefusal(REFUSED_FRAME);
    }
  }

  private async onHello(hello: Extract<SyncMessage, { type: 'hello' }>): Promise<void> {
    if (this.helloSeen) throw new SyncRefusal(REFUSED_UNEXPECTED('a second HELLO'));
    if (hello.protocol !== PROTOCOL_VERSION) throw new SyncRefusal(REFUSED_VERSION(hello.protocol, PROTOCOL_VERSION));
    if (hello.folder !== this.folder.options.folderId) throw new SyncRefusal(REFUSED_FOLDER);
    if (hello.device !== this.peer) throw new SyncRefusal(REFUSED_IDENTITY);
    this.helloSeen = true;
    if (hello.epoch !== this.theirEpoch) {
      // The peer's index is new (first contact, or its store was rebuilt): what we saw of the old one says nothing.
      this.theirEpoch = hello.epoch;
      this.seen = 0;
      await this.folder.run(() => this.folder.commit({ peers: [{ ...this.folder.peerMark(this.peer), epoch: hello.epoch, seen: 0 }] }));
    }
    const peerHas = hello.seenEpoch === this.folder.epoch ? hello.seen : 0;
    if (peerHas < this.assumedFrom) this.catchUp(peerHas, this.assumedFrom);
    this.outbox!.later(() => {
      if (this.caughtUpSent) return Promise.resolve(null);
      // Runs after the catch-up frames, and live frames always go first: everything up to the folder's
      // sequence number is now either sent or a change this peer made itself (an echo, not sent back).
      this.caughtUpSent = true;
      this.sentSeq = Math.max(this.sentSeq, this.folder.seq);
      return Promise.resolve({ type: 'caught-up', seq: this.folder.seq });
    });
  }

  /** Queues this device's records changed in (from, to] as catch-up frames, read fresh from the index as each frame goes. */
  private catchUp(from: number, to: number): void {
    const ids = this.folder.index.changedSince(from).filter((r) => r.seq <= to).map((r) => r.id);
    this.snapshotSeq = Math.max(this.snapshotSeq, this.folder.seq);
    const limit = this.snapshotSeq;
    let at = 0;
    const producer: Producer = () => {
      const entries: Entry[] = [];
      while (at < ids.length && entries.length < 500) {
        const record = this.folder.index.get(ids[at++]!);
        // A record changed since the snapshot goes (or went) out live.
        if (record && record.seq <= limit) entries.push(entryOf(record));
      }
      if (entries.length === 0) return Promise.resolve(at < ids.length ? producer() : null);
      this.sentSeq = Math.max(this.sentSeq, ...entries.map((e) => e.seq));
      const sent = entries.map((e) => e.id);
      this.burst.expect(sent, 0);
      this.burst.done(sent, 0);
      return Promise.resolve({ type: 'changes', entries, docs: [] });
    };
    this.outbox!.later(producer);
  }

  private pushLive(change: ChangeSet): void {
    if (this.stopped) return;
    const fromPeer = change.origin === this.peer;
    const entries = change.records.filter((r) => !(fromPeer && change.echoes.has(r.id))).map(entryOf);
    const docs = fromPeer ? [] : change.docs;
    const top = Math.max(0, ...change.records.map((r) => r.seq));
    if (entries.length > 0 || docs.length > 0) {
      const ids = [...entries.map((e) => e.id), ...docs.map((d) => d.id)];
      this.burst.expect(ids, 0);
      this.burst.done(ids, 0);
      this.outbox!.sendLive(entries, docs);
    }
    if (entries.length > 0) this.sentSeq = Math.max(this.sentSeq, ...entries.map((e) => e.seq));
    if (entries.length === change.records.length || !this.caughtUpSent) return;
    // Records left out because the peer made them: it is told it has them (the next catch-up skips them). Storing that
    // here is bookkeeping only: a mark not stored means a few entries sent again next time.
    this.acks!.echoed(top);
    this.onSynced(this.peerAcked).catch(() => undefined);
  }

  /** @param pushed notes whose update came in the same frame (no need to ask for them) */
  private async onEntries(all: readonly Entry[], pushed: ReadonlySet<string> = new Set()): Promise<void> {
    for (const entry of all) {
      const unsafe = unsafePathReason(entry.path);
      if (unsafe) throw new SyncRefusal(refusedPath(entry.path, unsafe));
      if (entry.sv && !isValidStateVector(entry.sv)) throw new SyncRefusal(REFUSED_FRAME);
    }
    if (all.length === 0) return;
    const topSeq = Math.max(...all.map((e) => e.seq));
    this.received = Math.max(this.received, topSeq);
    // A note that grew past the limit on the peer (its owner pasted a lot, or two large edits merged) is skipped, not
    // a reason to stop syncing everything else: its content is never asked for, and the person is told.
    const tooBig = (entry: Entry): boolean => entry.kind === 'text' && !entry.deleted && entry.size > MAX_NOTE_BYTES;
    for (const entry of all) if (tooBig(entry)) this.folder.emit({ type: 'error', message: peerNoteTooBig(entry.path) });
    const entries = all.filter((entry) => !tooBig(entry));
    if (entries.length === 0) return this.advance();
    this.burst.expect(entries.map((e) => e.id), 0);
    const wants = await this.folder.run(() => receiveEntries(this.folder, this.peer, entries));
    for (const entry of entries) {
      if (entry.kind !== 'blob' || entry.deleted) continue;
      this.fetcher.announce(entry.hash, this.peer);
      this.announced.set(entry.hash, entry.id);
    }
    this.fetcher.kick();
    const byId = new Map(entries.map((e) => [e.id, e]));
    for (const want of wants) {
      const entry = byId.get(want.id);
      if (entry) this.waiting.set(want.id, entry);
      this.outstanding.set(want.id, entry?.seq ?? topSeq);
      this.expectedBytes.set(want.id, entry?.size ?? 0);
      this.burst.expect([], entry?.size ?? 0);
    }
    this.outbox!.askFor(wants.filter((w) => !pushed.has(w.id)));
    // A note whose content is on its way is done when the content is; an attachment when its content is in place.
    const asked = new Set(wants.map((w) => w.id));
    for (const entry of entries) if (entry.kind === 'blob' && !entry.deleted && this.folder.wanted.has(entry.hash)) asked.add(entry.id);
    this.burst.done(entries.filter((e) => !asked.has(e.id)).map((e) => e.id), 0);
    await this.advance();
  }

  private async onDocs(docs: readonly DocUpdate[]): Promise<void> {
    const lacking = await this.folder.run(() => receiveDocs(this.folder, this.peer, docs, this.waiting));
    this.outbox!.askFor(lacking);
    const still = new Set(lacking.map((w) => w.id));
    for (const doc of docs) {
      if (still.has(doc.id)) continue;
      this.outstanding.delete(doc.id);
      this.waiting.delete(doc.id);
      this.burst.done([doc.id], this.expectedBytes.get(doc.id) ?? doc.update.length);
      this.expectedBytes.delete(doc.id);
    }
    await this.advance();
  }

  private onCaughtUp(seq: number): Promise<void> {
    const first = this.theirCaughtUp === null;
    this.theirCaughtUp = Math.max(this.theirCaughtUp ?? 0, seq);
    return this.advance(first);
  }

  private async onSynced(synced: number): Promise<void> {
    const seq = this.acks!.confirmed(Math.max(synced, this.peerAcked), this.sentSeq);
    if (seq > this.peerAcked) {
      this.peerAcked = seq;
      // The mark as it is when the task runs: read before, a `seen` stored meanwhile would be undone.
      await this.folder.run(() => this.folder.commit({ peers: [{ ...this.folder.peerMark(this.peer), acked: seq, ackedEpoch: this.folder.epoch }] }));
    }
    this.checkSettled();
  }

  /**
   * Moves `seen` as far as everything received is applied (and every note it
   * called for), stores it, and tells the peer. Only after the peer's
   * catch-up: before it, entries arrive out of order.
   */
  private async advance(always = false): Promise<void> {
    if (this.theirCaughtUp !== null) {
      let target = Math.max(this.received, this.theirCaughtUp);
      for (const seq of this.outstanding.values()) target = Math.min(target, seq - 1);
      if (target > this.seen) {
        this.seen = target;
        await this.folder.run(() => this.folder.commit({ peers: [{ ...this.folder.peerMark(this.peer), epoch: this.theirEpoch, seen: target }] }));
      }
      this.acks?.seen(this.seen, this.received, always);
    }
    this.checkSettled();
  }

  /** For diagnosing a sync that does not finish. */
  describe(): string {
    const { received, seen, theirCaughtUp, sentSeq, caughtUpSent, peerAcked, stopped, handling } = this;
    return JSON.stringify({ peer: this.peer.slice(0, 4), hello: this.helloSeen, received, seen, theirCaughtUp, outstanding: this.outstanding.size, assembling: this.parts.holding, sentSeq, caughtUpSent, peerAcked, acks: this.acks?.describe, busy: this.fetcher.busyWith(this.peer), burst: this.burst.running, stopped, handling, outbox: this.outbox?.describe() });
  }

  /**
   * Emits `finished` once both sides hold everything of each other: no
   * transfer from this peer is running, and no attachment it announced is
   * still missing here (a fetch that ended 'gone' or failed is retried; until
   * it succeeds, the sync is not finished and `lastSyncAt` does not move).
   */
  private checkSettled(): void {
    if (!this.burst.running || this.stopped) return;
    for (const [hash, id] of this.announced) {
      if (this.folder.wanting(hash).length > 0) continue;
      this.announced.delete(hash);
      this.burst.done([id], 0);
    }
    const theirsDone = this.theirCaughtUp !== null && this.outstanding.size === 0 && this.announced.size === 0 && this.seen >= Math.max(this.received, this.theirCaughtUp);
    const oursDone = this.caughtUpSent && this.peerAcked >= this.sentSeq && !this.acks?.owed;
    if (theirsDone && oursDone && this.fetcher.busyWith(this.peer) === 0) this.burst.finish();
  }

  /** Ends the session with `error` (a refusal found outside the read loop: a blob stream). */
  private fail(error: unknown): void {
    if (!this.stopped) this.rejectRun(error);
  }
}
