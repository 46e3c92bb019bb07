import fc from 'fast-check';
import * as Y from 'yjs';
import { applyRemoteUpdate, editText, enrollmentUpdate, ingestDiskText, isValidUpdate, noteText } from '../../src/sync/notes';
import { applyHunks, textHunks } from '../../src/sync/text-diff';
import { mergeThreeWay, splitLines } from '../../src/sync/text-merge';

const text = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\n', 'é', '😀', '日', 'x') });
const doc = (update: Uint8Array): Y.Doc => {
  const d = new Y.Doc();
  Y.applyUpdate(d, update);
  return d;
};

describe('minimal edits between two texts', () => {
  it('turn one text into the other, never cutting a character in half', () => {
    fc.assert(
      fc.property(text, text, (from, to) => {
        const hunks = textHunks(from, to);
        expect(applyHunks(from, hunks)).toBe(to);
        for (const h of hunks) {
          for (const at of [h.start, h.end]) {
            const code = from.charCodeAt(at);
            expect(code >= 0xdc00 && code <= 0xdfff).toBe(false);
          }
        }
      }),
    );
  });

  it('change only what changed', () => {
    expect(textHunks('hello world', 'hello brave world')).toEqual([{ start: 6, end: 6, insert: 'brave ' }]);
  });

  it('split lines keeping their ends', () => {
    expect(splitLines('a\nb\n\nc')).toEqual(['a\n', 'b\n', '\n', 'c']);
  });
});

describe('three-way merge of a note (base, disk, document)', () => {
  it.each([
    ['different lines', 'alpha\nbeta\ngamma\n', 'alpha\nbeta DISK\ngamma\n', 'alpha REMOTE\nbeta\ngamma\n', 'alpha REMOTE\nbeta DISK\ngamma\n', false],
    ['one line, different places', 'line m1\n', 'line m1 m2\n', 'line m1 m3\n', 'line m1 m3 m2\n', false],
    ['one side only', 'a\nb\n', 'a\nb\nc\n', 'a\nb\n', 'a\nb\nc\n', false],
    ['the same edit on both', 'a\n', 'a b\n', 'a b\n', 'a b\n', false],
    ['the same characters changed: both kept, document first', 'aaa bbb ccc\n', 'aaa XXX ccc\n', 'aaa YYY ccc\n', 'aaa YYYXXX ccc\n', true],
    ['disk deleted a line the document edited: the edit is kept', 'a\nb\nc\n', 'a\nc\n', 'a\nb!\nc\n', 'a\nb!\nc\n', true],
    // A device killed between writing a merged note and recording it: the disk holds the document's new lines, plus a line appended meanwhile.
    ['lines the disk already has from the document, plus one appended: each once', '# t\nA1\n', '# t\nA1\nB1\nA2\nA3\n', '# t\nA1\nB1\nA2\n', '# t\nA1\nB1\nA2\nA3\n', false],
    ['the same, and the document moved on too', '# t\nA1\n', '# t\nA1\nB1\nA3\n', '# t\nA1\nB1\nB2\n', '# t\nA1\nB1\nB2\nA3\n', false],
    ['a line both inserted in one place, before different ones: kept once', 'x\n', 'x\nsame\nD\n', 'x\nsame\nH\n', 'x\nsame\nH\nD\n', false],
    ['different lines that end alike, inserted in one place: the common end once', 'x\n', 'x\nD\nend\n', 'x\nH\nend\n', 'x\nH\nD\nend\n', false],
    ['two different insertions sharing only characters of a line stay two', 'x\n', 'x\nabc D\n', 'x\nabc H\n', 'x\nabc H\nabc D\n', false],
    ['emoji that share a surrogate are not cut', 'x', 'x😁', 'x😀', 'x😀😁', false],
  ])('%s', (_name, base, disk, head, merged, overlapped) => {
    expect(mergeThreeWay(base, disk, head)).toEqual({ text: merged, overlapped });
  });

  it('keeps every inserted marker exactly once and duplicates no line of the base', () => {
    const lines = fc.array(fc.constantFrom('one', 'two', 'three', 'four', 'five'), { minLength: 1, maxLength: 8 });
    const edits = fc.array(fc.record({ at: fc.nat(10), marker: fc.nat(999) }), { maxLength: 4 });
    fc.assert(
      fc.property(lines, edits, edits, (baseLines, diskEdits, headEdits) => {
        const base = baseLines.map((l, i) => `${l}${i}\n`).join('');
        const apply = (edits: { at: number; marker: number }[], side: string): string => {
          const out = baseLines.map((l, i) => `${l}${i}`);
          for (const e of edits) out.splice(e.at % (out.length + 1), 0, `${side}${e.marker}`);
          return out.map((l) => `${l}\n`).join('');
        };
        const disk = apply(diskEdits, 'D');
        const head = apply(headEdits, 'H');
        const { text: merged } = mergeThreeWay(base, disk, head);
        for (const e of diskEdits) expect(merged.split(`D${e.marker}\n`).length - 1).toBe(disk.split(`D${e.marker}\n`).length - 1);
        for (const e of headEdits) expect(merged.split(`H${e.marker}\n`).length - 1).toBe(head.split(`H${e.marker}\n`).length - 1);
        baseLines.forEach((l, i) => expect(merged.split(`${l}${i}\n`).length - 1).toBe(1));
      }),
    );
  });

  it('stays fast by lines on a large note', () => {
    const base = Array.from({ length: 3000 }, (_, i) => `line ${i} with some words in it`).join('\n');
    const disk = base.replace('line 10 ', 'line 10 DISK ');
    const head = base.replace('line 2900 ', 'line 2900 HEAD ');
    const started = Date.now();
    expect(mergeThreeWay(base, disk, head).text).toBe(base.replace('line 10 ', 'line 10 DISK ').replace('line 2900 ', 'line 2900 HEAD '));
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('a note as a Yjs document', () => {
  it('enrolls any text as exactly the update Yjs itself would write', () => {
    fc.assert(
      fc.property(fc.string(), fc.nat({ max: 0xffffffff }).map((n) => n.toString(16).padStart(8, '0')), (t, hash) => {
        const d = new Y.Doc();
        d.clientID = Number.parseInt(hash, 16) >>> 0;
        if (t.length > 0) d.getText('t').insert(0, t);
        expect(Buffer.from(enrollmentUpdate(t, `${hash}${'0'.repeat(56)}`))).toEqual(Buffer.from(Y.encodeStateAsUpdate(d)));
      }),
    );
  });

  it('two devices enrolling the same note produce the same update, and merging them duplicates nothing', () => {
    const hash = 'ab12cd34'.padEnd(64, '0');
    const a = doc(enrollmentUpdate('same text\n', hash));
    const b = doc(enrollmentUpdate('same text\n', hash));
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    expect(noteText(a)).toBe('same text\n');
  });

  it('turns a disk change into minimal edits: concurrent edits to different lines both survive', () => {
    const seed = enrollmentUpdate('one\ntwo\nthree\n', '11111111'.padEnd(64, '0'));
    const a = doc(seed);
    const b = doc(seed);
    a.clientID = 1;
    b.clientID = 2;
    const ua = editText(a, 'one A\ntwo\nthree\n')!;
    const ub = editText(b, 'one\ntwo\nthree B\n')!;
    Y.applyUpdate(a, ub);
    Y.applyUpdate(b, ua);
    expect(noteText(a)).toBe('one A\ntwo\nthree B\n');
    expect(noteText(b)).toBe(noteText(a));
    expect(ua.length).toBeLessThan(40);
  });

  it('an external edit racing a remote change not yet on disk: both are kept', () => {
    const base = 'alpha\nbeta\ngamma\n';
    const local = doc(enrollmentUpdate(base, '22222222'.padEnd(64, '0')));
    const remote = doc(Y.encodeStateAsUpdate(local));
    remote.clientID = 7;
    const remoteEdit = editText(remote, 'alpha REMOTE\nbeta\ngamma\n')!;
    // The remote edit is merged into this device's document; before it is written out, another program edits the file.
    expect(applyRemoteUpdate(local, remoteEdit, null).changed).toBe(true);
    const ingested = ingestDiskText(local, base, 'alpha\nbeta DISK\ngamma\n');
    expect(ingested.text).toBe('alpha REMOTE\nbeta DISK\ngamma\n');
    // Different lines, no characters in common: still a merge, and said so.
    expect(ingested.merged).toBe(true);
    expect(noteText(local)).toBe(ingested.text);
    // The next disk edit, with nothing remote pending, is a plain edit.
    expect(ingestDiskText(local, ingested.text, `${ingested.text}more\n`).merged).toBe(false);
    Y.applyUpdate(remote, ingested.update!);
    expect(noteText(remote)).toBe(ingested.text);
  });

  it('tells a merge of concurrent edits from a fast-forward', () => {
    const seed = enrollmentUpdate('x\n', '33333333'.padEnd(64, '0'));
    const a = doc(seed);
    const b = doc(seed);
    b.clientID = 9;
    const fromB = editText(b, 'x b\n')!;
    expect(applyRemoteUpdate(a, fromB, Y.encodeStateVector(b)).concurrent).toBe(false);
    const c = doc(seed);
    c.clientID = 10;
    editText(c, 'c x\n');
    expect(applyRemoteUpdate(c, fromB, Y.encodeStateVector(b)).concurrent).toBe(true);
  });

  it.each([
    ['random bytes', new Uint8Array([1, 2, 3, 200, 7])],
    ['a truncated update', enrollmentUpdate('hello world', '44444444'.padEnd(64, '0')).slice(0, 12)],
    ['an update to another root type', (() => { const d = new Y.Doc(); d.getMap('evil').set('k', 1); return Y.encodeStateAsUpdate(d); })()],
  ])('refuses %s', (_name, update) => {
    expect(isValidUpdate(update)).toBe(false);
  });
});
