import fc from 'fast-check';
import { fromHex, toHex } from '../../src/core/bytes';
import { isSafeRemoteText, safeRemoteText } from '../../src/core/remote-text';

describe('safeRemoteText', () => {
  it.each([
    ['an escape sequence that retitles the terminal', 'Laptop\u001b]0;pwned\u0007', 'Laptop ]0;pwned'],
    ['a clipboard write (OSC 52)', 'x\u001b]52;c;ZXZpbA==\u0007y', 'x ]52;c;ZXZpbA== y'],
    ['a screen clear', '\u001b[2J\u001b[Hhi', '[2J [Hhi'],
    ['a C1 control sequence introducer', 'a\u009b31mred', 'a 31mred'],
    ['a right-to-left override', 'invoice\u202Efdp.exe', 'invoice fdp.exe'],
    ['isolates and zero-width characters', 'a\u2066b\u200bc\ufeff', 'a b c'],
    ['new lines and tabs', 'one\ntwo\r\nthree\tfour', 'one two three four'],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'a b c'],
  ])('neutralises %s', (_what, input, expected) => {
    expect(safeRemoteText(input)).toBe(expected);
  });

  it('keeps ordinary names in any script, emoji included', () => {
    for (const name of ['Mia’s MacBook', 'Ноутбук', '工作电脑', 'שולחן', 'Desk 🖥️', 'Family 👨‍👩‍👧', 'می‌خواهم']) expect(safeRemoteText(name)).toBe(name);
  });

  it('caps the length in characters, not UTF-16 units, and marks the cut', () => {
    expect(safeRemoteText('😀'.repeat(10), 5)).toBe('😀😀😀😀…');
    expect(safeRemoteText('abc', 3)).toBe('abc');
  });

  it('gives an empty string for anything that is not a string', () => {
    expect(safeRemoteText(undefined)).toBe('');
    expect(safeRemoteText({ toString: () => '\u001b[2J' })).toBe('');
  });

  it('never lets a control, bidi or separator character through, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.integer({ min: 1, max: 300 }), (text, max) => {
        const safe = safeRemoteText(text, max);
        expect(isSafeRemoteText(safe)).toBe(true);
        expect([...safe].length).toBeLessThanOrEqual(max);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('hex', () => {
  it('round-trips any bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => expect(fromHex(toHex(bytes))).toEqual(bytes)));
  });

  it('refuses what is not hex of even length', () => {
    expect(fromHex('abc')).toBeNull();
    expect(fromHex('zz')).toBeNull();
    expect(toHex(Uint8Array.of(0, 15, 255))).toBe('000fff');
  });
});
