import fc from 'fast-check';
import {
  FrameDecoder,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  encodeFrame,
  incompatibleVersionMessage,
  parseControlMessage,
  type Hello,
} from '../../src/transport/control-protocol';

const hello: Hello = {
  type: 'hello',
  version: PROTOCOL_VERSION,
  name: 'Laptop',
  instance: 'abc123',
  addresses: ['127.0.0.1:4242', '[::1]:4242'],
  relay: null,
};

describe('control frames', () => {
  it('round-trip a hello and a ping, however the bytes are split', () => {
    const bytes = Buffer.concat([encodeFrame(hello), encodeFrame({ type: 'ping' })]);
    for (let split = 0; split <= bytes.length; split += 1) {
      const decoder = new FrameDecoder();
      const messages = [...decoder.push(bytes.subarray(0, split)), ...decoder.push(bytes.subarray(split))];
      expect(messages.map(parseControlMessage)).toEqual([hello, { type: 'ping' }]);
      expect(decoder.pending).toBe(0);
    }
  });

  it('refuses a frame announced larger than the limit before buffering it', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    expect(() => new FrameDecoder().push(header)).toThrow(ProtocolError);
  });

  it('refuses a frame that is not JSON', () => {
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('{{{')]);
    expect(() => new FrameDecoder().push(frame)).toThrow('not JSON');
  });

  it.each([
    [null],
    [[1]],
    [{ type: 'shout' }],
    [{ ...hello, version: 0 }],
    [{ ...hello, version: '1' }],
    [{ ...hello, name: 'x'.repeat(101) }],
    [{ ...hello, instance: '' }],
    [{ ...hello, addresses: ['not-an-address'] }],
    [{ ...hello, addresses: Array.from({ length: 17 }, () => '127.0.0.1:1') }],
    [{ ...hello, relay: 'ftp://relay' }],
  ])('rejects the control message %j', (message) => {
    expect(() => parseControlMessage(message)).toThrow(ProtocolError);
  });

  it('never throws anything but a ProtocolError on random or mutated input', () => {
    const valid = Buffer.concat([encodeFrame(hello), encodeFrame({ type: 'ping' })]);
    const mutated = fc
      .array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 })
      .map((edits) => {
        const copy = Buffer.from(valid);
        for (const [at, byte] of edits) copy[at] = byte;
        return copy;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated), (bytes) => {
        try {
          new FrameDecoder().push(bytes).forEach(parseControlMessage);
          return true;
        } catch (error) {
          return error instanceof ProtocolError;
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('words a version mismatch so the person knows which device to update', () => {
    expect(incompatibleVersionMessage(1, 2)).toContain('Update Vault Peers on this device');
    expect(incompatibleVersionMessage(2, 1)).toContain('Update Vault Peers on the other device');
  });
});
