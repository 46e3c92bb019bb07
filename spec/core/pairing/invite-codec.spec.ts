import fc from 'fast-check';
import QRCode from 'qrcode';
import { InvalidTicketError } from '../../../src/core/errors';
import {
  INVITE_LINK_PREFIX,
  InvalidInviteError,
  checkInviteExpiry,
  encodeInvite,
  inviteLink,
  looksLikeInvite,
  parseInvite,
  type InvitePayload,
} from '../../../src/core/pairing/invite-codec';
import { verificationCode } from '../../../src/core/pairing/verification-code';
import { parseIrohTicket } from '../../../src/transport/iroh-transport';

const nodeId = 'c62aabeacde83a49be062bf773cf24b2ba7a5c7d5780cee90da428b77772aa74';

/** What a laptop on a home network with n0's relays would put in an invite. */
const realistic: InvitePayload = {
  address: {
    nodeId,
    addresses: ['192.168.1.23:41641', '10.0.0.5:41641', '[2a02:8106:2a:9d00:1c4f:9a2e:77b1:3e10]:41641', '[fd00::5]:41641'],
    relay: 'https://euc1-1.relay.n0.iroh-canary.iroh.link./',
  },
  secret: '0123456789abcdef0123456789abcdef',
  expiresAt: Date.parse('2026-11-25T11:00:00Z'),
  inviterName: 'MacBook Pro (work)',
};

describe('invites', () => {
  it('round-trip everything they carry', () => {
    expect(parseInvite(encodeInvite(realistic))).toEqual({
      ...realistic,
      address: {
        ...realistic.address,
        addresses: ['192.168.1.23:41641', '10.0.0.5:41641', '[2a02:8106:2a:9d00:1c4f:9a2e:77b1:3e10]:41641', '[fd00:0:0:0:0:0:0:5]:41641'],
      },
    });
  });

  it('round-trip any name, addresses and expiry (property)', () => {
    const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 65_535 }));
    fc.assert(
      fc.property(
        fc.string({ maxLength: 20 }),
        fc.array(ipv4, { maxLength: 8 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (name, addresses, seconds) => {
          const payload: InvitePayload = {
            address: { nodeId, addresses: addresses.map(([a, b, c, d, p]) => `${a}.${b}.${c}.${d}:${p}`), relay: null },
            secret: 'ffeeddccbbaa99887766554433221100',
            expiresAt: seconds * 1000,
            inviterName: name,
          };
          expect(parseInvite(encodeInvite(payload))).toEqual(payload);
        },
      ),
    );
  });

  it('use only characters of the QR alphanumeric set, and a realistic one fits a QR code phones read easily', () => {
    const text = encodeInvite(realistic);
    expect(text).toMatch(/^VP1[A-Z2-7]+$/); // all within the QR alphanumeric set
    expect(text.length).toBeLessThanOrEqual(311); // QR version 10-M holds 311 alphanumeric characters
    const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
    // Version 10 is 57x57 modules; anything up to it scans well from a screen.
    expect(qr.version).toBeLessThanOrEqual(10);
  });

  it('accept pasted text with spaces, line breaks, lower case, or as an obsidian:// link', () => {
    const text = encodeInvite(realistic);
    const mangledButFine = `  ${text.slice(0, 30)}\n${text.slice(30, 60).toLowerCase()} ${text.slice(60)}\n`;
    expect(parseInvite(mangledButFine).secret).toBe(realistic.secret);
    expect(inviteLink(text)).toBe(`${INVITE_LINK_PREFIX}${text}`);
    expect(parseInvite(inviteLink(text)).address.nodeId).toBe(nodeId);
    expect(looksLikeInvite(inviteLink(text))).toBe(true);
    expect(looksLikeInvite('endpointabc')).toBe(false);
  });

  it.each([
    ['', 'empty'],
    ['   \n', 'empty'],
    ['endpointaacd3', 'not-an-invite'],
    ['VP9AAAA', 'unsupported-version'],
    ['VP1AAAA', 'damaged'],
    ['VP1!!!!', 'damaged'],
  ])('refuse %j as %s', (text, reason) => {
    const error = (() => {
      try {
        parseInvite(text);
      } catch (e) {
        return e;
      }
      return null;
    })() as InvalidInviteError;
    expect(error).toBeInstanceOf(InvalidInviteError);
    expect(error.reason).toBe(reason);
    expect(error.message.length).toBeGreaterThan(30);
  });

  it('detect any single changed or dropped character, including in the last one (padding bits)', () => {
    const text = encodeInvite(realistic);
    for (let i = 3; i < text.length; i += 1) {
      for (const replacement of 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567') {
        if (replacement === text[i]) continue;
        const changed = text.slice(0, i) + replacement + text.slice(i + 1);
        expect(() => parseInvite(changed)).toThrow(InvalidInviteError);
      }
      expect(() => parseInvite(text.slice(0, i) + text.slice(i + 1))).toThrow(InvalidInviteError);
    }
  });

  it('round their expiry down to the second, so a joiner never sees one expire late', () => {
    const payload = { ...realistic, expiresAt: realistic.expiresAt + 999 };
    expect(parseInvite(encodeInvite(payload)).expiresAt).toBe(realistic.expiresAt);
  });

  it('expire at their time, with a message that says what to do', () => {
    expect(() => checkInviteExpiry(realistic, realistic.expiresAt - 1)).not.toThrow();
    expect(() => checkInviteExpiry(realistic, realistic.expiresAt)).toThrow(/expired at 11:00 UTC\. Ask the other device for a new one/);
  });
});

describe('parsers under random and mutated input (10,000 strings)', () => {
  const validInvite = encodeInvite(realistic);
  const validTicket = 'endpointaddcvk7kzxudusn6ayv7o46peszlu6s4pvlybtxjbwscrn3xokvhiaibab7qaaabqooag';
  const mutate = (base: string) =>
    fc
      .array(fc.tuple(fc.nat(base.length), fc.oneof(fc.constant(''), fc.string({ minLength: 1, maxLength: 3 }))), { maxLength: 6 })
      .map((edits) => edits.reduce((text, [at, insert]) => text.slice(0, at) + insert + text.slice(at + 1), base));
  const inputs = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 100 }),
    mutate(validInvite),
    mutate(validTicket),
    mutate(validInvite.toLowerCase()),
  );

  it('parseInvite returns an invite or throws InvalidInviteError, nothing else', () => {
    fc.assert(
      fc.property(inputs, (text) => {
        try {
          const invite = parseInvite(text);
          return typeof invite.address.nodeId === 'string' && /^[0-9a-f]{32}$/.test(invite.secret);
        } catch (error) {
          return error instanceof InvalidInviteError;
        }
      }),
      { numRuns: 10_000 },
    );
  });

  it('the iroh ticket parser returns a node id or throws InvalidTicketError, nothing else', () => {
    fc.assert(
      fc.property(inputs, (text) => {
        try {
          return /^[0-9a-f]{64}$/.test(parseIrohTicket(text).nodeId);
        } catch (error) {
          return error instanceof InvalidTicketError;
        }
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('verification codes', () => {
  it('are the same on both devices, six digits, and differ between pairs', async () => {
    const other = '0f0af57d46dcd3e400925cee4868658d6b8e6912294274805feb476ffbaa9f96';
    const third = 'dea9d2a3d3e6dfefab9a2f3a7ddcc60b3307f94815db63a0e1e3dae4b1911f50';
    const code = await verificationCode(nodeId, other);
    expect(code).toMatch(/^\d{3} \d{3}$/);
    expect(await verificationCode(other, nodeId)).toBe(code);
    expect(await verificationCode(nodeId, third)).not.toBe(code);
  });
});
