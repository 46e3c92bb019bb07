import fc from 'fast-check';
import {
  FrameDecoder,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  claimedVersion,
  encodeFrame,
  incompatibleVersionMessage,
  parseControlMessage,
  presentedInvite,
  type Hello,
  type Welcome,
} from '../../src/transport/control-protocol';

const hello: Hello = {
  type: 'hello',
  version: PROTOCOL_VERSION,
  name: 'Laptop',
  instance: 'abc123',
  addresses: ['127.0.0.1:4242', '[::1]:4242'],
  relay: null,
};

const welcome: Welcome = { ...hello, type: 'welcome', name: 'Desktop', instance: 'def456' };

describe('control frames', () => {
  it('round-trip a hello, a welcome, a probe and a ping, however the bytes are split', () => {
    const sent = [{ ...hello, invite: '0123456789abcdef0123456789abcdef' }, welcome, { type: 'probe' }, { type: 'ping' }] as const;
    const bytes = Buffer.concat(sent.map((m) => encodeFrame(m)));
    for (let split = 0; split <= bytes.length; split += 1) {
      const decoder = new FrameDecoder();
      const messages = [...decoder.push(bytes.subarray(0, split)), ...decoder.push(bytes.subarray(split))];
      expect(messages.map(parseControlMessage)).toEqual(sent);
      expect(decoder.pending).toBe(0);
    }
  });

  it('reads the claimed version and the presented invite leniently, for the gate and the version answer', () => {
    expect(claimedVersion({ type: 'hello', version: 7, shape: 'of the future' })).toBe(7);
    expect(claimedVersion({ type: 'hello', version: '2' })).toBeNull();
    expect(claimedVersion(null)).toBeNull();
    expect(presentedInvite({ invite: '0123456789abcdef0123456789abcdef' })).toBe('0123456789abcdef0123456789abcdef');
    expect(presentedInvite({ invite: 'not-a-secret' })).toBeUndefined();
    expect(presentedInvite({ invite: 42 })).toBeUndefined();
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
    [{ ...hello, invite: 'XYZ' }],
    [{ type: 'welcome' }],
    [{ ...welcome, addresses: 'everywhere' }],
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
