import type { FrameStream } from '../../src/core/ports';
import { Outbox, docParts, type Producer } from '../../src/sync/outbox';
import { decodeMessage, type SyncMessage } from '../../src/sync/wire';

/** The session's writer: priorities, and what it promises the receiver about note update parts. */

function recordingStream(onWrite: (message: SyncMessage, count: number) => void): { stream: FrameStream; written: SyncMessage[] } {
  const written: SyncMessage[] = [];
  const stream: FrameStream = {
    read: () => new Promise(() => undefined),
    write: (frame) => {
      const message = decodeMessage(frame) as SyncMessage;
      written.push(message);
      onWrite(message, written.length);
      return Promise.resolve();
    },
    finish: () => Promise.resolve(),
    reset: () => undefined,
  };
  return { stream, written };
}

const idOf = (c: string): string => c.repeat(32);
const update = (size: number, seed: number): Uint8Array => new Uint8Array(size).map((_, i) => (i * 31 + seed) % 251);

describe('the outbox', () => {
  it("never interleaves two notes' parts: a served note's parts finish before live parts go, control frames may pass", async () => {
    const served = docParts({ id: idOf('a'), update: update(1_600_000, 1) });
    expect(served.length).toBe(4);
    let outbox!: Outbox;
    const { stream, written } = recordingStream((message, count) => {
      if (count === 1) {
        // While the served note's first part goes out, a live edit with a large update and an ack are queued.
        outbox.sendLive([], [{ id: idOf('b'), update: update(1_100_000, 2) }]);
        outbox.send({ type: 'synced', seq: 7, caughtUp: 0 });
      }
      if (count === 8) outbox.stop();
    });
    outbox = new Outbox(stream);
    const queue = [...served];
    const producer: Producer = () => Promise.resolve(queue.shift() ?? null);
    outbox.answer(producer);
    await outbox.run();
    const shape = written.map((m) => (m.type === 'doc-part' ? `${m.id[0]}@${m.offset}` : m.type));
    expect(shape).toEqual(['a@0', 'synced', 'a@524288', 'a@1048576', 'a@1572864', 'b@0', 'b@524288', 'b@1048576']);
  });
});
