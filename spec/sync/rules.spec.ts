import fc from 'fast-check';
import { conflictCopy, collisionLoser, resolve, sameMeta, type Meta } from '../../src/sync/rules';
import { GENESIS, bumpVersion, compareVersions, mergeVersions } from '../../src/sync/versions';

const base: Meta = {
  id: '0123456789abcdef0123456789abcdef',
  path: 'pic.png',
  kind: 'blob',
  deleted: false,
  hash: 'a'.repeat(64),
  size: 1,
  changed: GENESIS,
  moved: GENESIS,
  version: {},
  lived: {},
};
const at = (t: number, d: string) => ({ t, d });
/** A change made on replica `r` on top of `from`. */
function change(from: Meta, r: string, _t: number, fields: Partial<Meta>): Meta {
  const version = bumpVersion(from.version, r, (from.version[r] ?? 0) + 1);
  return { ...from, ...fields, version, lived: fields.deleted ? from.lived : { [r]: version[r]! } };
}

describe('version vectors', () => {
  it.each([
    [{}, {}, 'equal'],
    [{ a: 1 }, {}, 'after'],
    [{}, { a: 1 }, 'before'],
    [{ a: 2, b: 1 }, { a: 1, b: 1 }, 'after'],
    [{ a: 2 }, { b: 1 }, 'concurrent'],
  ] as const)('%j vs %j: %s', (a, b, order) => {
    expect(compareVersions(a, b)).toBe(order);
  });

  it('merges to a version that has seen both', () => {
    const merged = mergeVersions({ a: 2, b: 1 }, { b: 3, c: 1 });
    expect(merged).toEqual({ a: 2, b: 3, c: 1 });
    expect(compareVersions(merged, { a: 2, b: 1 })).toBe('after');
  });
});

describe('merge rules for two versions of one file', () => {
  const edited = change(base, 'aaaaaaaa', 10, { hash: 'b'.repeat(64), size: 2, changed: at(10, 'dev-a') });
  const deleted = change(base, 'bbbbbbbb', 20, { deleted: true });
  const renamedA = change(base, 'aaaaaaaa', 10, { path: 'a.png', moved: at(10, 'dev-a') });
  const renamedB = change(base, 'bbbbbbbb', 20, { path: 'b.png', moved: at(20, 'dev-b') });

  it('takes the version that has seen the other, whole', () => {
    const later = change(edited, 'bbbbbbbb', 30, { deleted: true });
    expect(resolve(edited, later)).toEqual({ meta: later, copy: null });
    expect(resolve(later, edited)).toEqual({ meta: later, copy: null });
  });

  it('an edit beats a concurrent delete (even if the delete is later)', () => {
    const { meta, copy } = resolve(edited, deleted);
    expect(meta.deleted).toBe(false);
    expect(meta.hash).toBe(edited.hash);
    expect(copy).toBeNull();
    expect(meta.version).toEqual({ aaaaaaaa: 1, bbbbbbbb: 1 });
  });

  it('a delete made after seeing an edit beats it, even when a third device merged the edit with another delete first', () => {
    const otherDelete = change(base, 'cccccccc', 0, { deleted: true });
    const mergedLive = resolve(edited, otherDelete).meta;
    expect(mergedLive.deleted).toBe(false);
    const deleteAfterEdit = change(edited, 'bbbbbbbb', 0, { deleted: true });
    expect(resolve(mergedLive, deleteAfterEdit).meta.deleted).toBe(true);
    expect(resolve(deleteAfterEdit, mergedLive).meta.deleted).toBe(true);
  });

  it('an edit two devices both renamed (collision renames keep what made the file live) still beats a delete that never saw it', () => {
    const renamedBy = (from: Meta, r: string, path: string): Meta => ({ ...from, path, version: bumpVersion(from.version, r, (from.version[r] ?? 0) + 1) });
    const merged = resolve(renamedBy(edited, 'cccccccc', 'x.png'), renamedBy(edited, 'aaaaaaaa', 'y.png')).meta;
    expect(merged.deleted).toBe(false);
    expect(resolve(merged, deleted).meta.deleted).toBe(false);
    expect(resolve(deleted, merged).meta.deleted).toBe(false);
  });

  it('a rename beats a concurrent delete too (keep data)', () => {
    expect(resolve(renamedA, deleted).meta).toMatchObject({ deleted: false, path: 'a.png' });
  });

  it('rename vs rename: the later rename wins, the content is untouched', () => {
    expect(resolve(renamedA, renamedB).meta).toMatchObject({ path: 'b.png', hash: base.hash });
    expect(resolve(renamedB, renamedA).meta).toMatchObject({ path: 'b.png', hash: base.hash });
  });

  it('rename vs edit: both stick', () => {
    const { meta } = resolve(renamedA, edited);
    expect(meta).toMatchObject({ path: 'a.png', hash: edited.hash, deleted: false });
  });

  it('two attachment versions: the later content keeps the file, the older becomes a named conflict copy', () => {
    const older = change(base, 'aaaaaaaa', 0, { hash: 'c'.repeat(64), changed: at(Date.UTC(2026, 0, 2, 3, 4, 5), 'abcdef0123') });
    const newer = change(base, 'bbbbbbbb', 0, { hash: 'd'.repeat(64), changed: at(Date.UTC(2026, 0, 2, 3, 4, 6), 'fedcba0123') });
    const { meta, copy } = resolve(older, newer);
    expect(meta.hash).toBe(newer.hash);
    expect(copy).toMatchObject({ path: 'pic.sync-conflict-20260102-030405-ABCDEF0.png', hash: older.hash, deleted: false });
    expect(resolve(newer, older).copy).toEqual(copy);
  });

  it('notes merge by content elsewhere: no copy for two note versions', () => {
    const note = { ...base, kind: 'text' as const, path: 'n.md' };
    const a = change(note, 'aaaaaaaa', 0, { hash: 'c'.repeat(64), changed: at(1, 'a') });
    const b = change(note, 'bbbbbbbb', 0, { hash: 'd'.repeat(64), changed: at(2, 'b') });
    expect(resolve(a, b).copy).toBeNull();
  });

  it('a deleted conflict copy stays deleted when the conflict is met again', () => {
    const copy = conflictCopy(edited, 'pic.png');
    const removed = change(copy, 'cccccccc', 0, { deleted: true });
    expect(resolve(removed, copy).meta.deleted).toBe(true);
    expect(resolve(copy, removed).meta.deleted).toBe(true);
  });

  it('of two files on one path, the older gives way (ties by id)', () => {
    const a = { ...base, id: '1'.repeat(32), changed: at(5, 'x') };
    const b = { ...base, id: '2'.repeat(32), changed: at(6, 'y') };
    expect(collisionLoser(a, b).id).toBe(a.id);
    expect(collisionLoser(b, a).id).toBe(a.id);
    expect(collisionLoser({ ...b, changed: a.changed }, a).id).toBe(a.id);
  });

  describe('as algebra (every device reaches the same record whatever the order)', () => {
    const edit = fc.record({
      t: fc.integer({ min: 1, max: 50 }),
      kind: fc.constantFrom('delete', 'content', 'rename'),
      value: fc.integer({ min: 0, max: 3 }),
    });
    /** Edits made by one replica on top of `from` (a replica never makes two different versions with one counter). */
    const branch = (replica: string, from: Meta) =>
      fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) =>
        edits.reduce<Meta>((m, e) => {
          const stamp = at(e.t, replica);
          const fields: Partial<Meta> =
            e.kind === 'delete' ? { deleted: true } : e.kind === 'content' ? { hash: String(e.value).repeat(64), changed: stamp, deleted: false } : { path: `p${e.value}.png`, moved: stamp, deleted: false };
          const version = bumpVersion(m.version, replica, (m.version[replica] ?? 0) + 1);
          return { ...m, ...fields, version, lived: e.kind === 'delete' ? m.lived : { [replica]: version[replica]! } };
        }, from),
      );
    /** Three devices' versions: each branched from the base, the third maybe after meeting the first. */
    const three = fc
      .tuple(branch('aaaaaaaa', base), branch('bbbbbbbb', base), fc.boolean())
      .chain(([a, b, met]) => branch('cccccccc', met ? a : base).map((c) => [a, b, c] as const));

    it('is commutative', () => {
      fc.assert(
        fc.property(three, ([a, b]) => {
          const ab = resolve(a, b);
          const ba = resolve(b, a);
          expect(sameMeta(ab.meta, ba.meta)).toBe(true);
          expect(ab.copy?.id ?? null).toBe(ba.copy?.id ?? null);
        }),
      );
    });

    it('is idempotent', () => {
      fc.assert(
        fc.property(three, ([a]) => {
          expect(sameMeta(resolve(a, a).meta, a)).toBe(true);
        }),
      );
    });

    it('converges: devices meeting the versions in any order agree after one more exchange', () => {
      // Not strictly associative: when a delete saw one of two concurrent attachment versions, the order
      // decides which content became the conflict copy first. Equal versions with different fields resolve
      // commutatively, so one more exchange settles it.
      fc.assert(
        fc.property(three, ([a, b, c]) => {
          const orders = [
            [a, b, c],
            [a, c, b],
            [b, c, a],
            [c, b, a],
          ].map(([x, y, z]) => resolve(resolve(x!, y!).meta, z!).meta);
          const settled = orders.map((mine) => orders.reduce((m, other) => resolve(m, other).meta, mine));
          for (const m of settled) expect(sameMeta(m, settled[0]!)).toBe(true);
          // A delete that saw every live version wins; one that missed a live version does not.
          const finalDeleted = settled[0]!.deleted;
          const liveUnseen = [a, b, c].some((v) => !v.deleted && ![a, b, c].some((d) => d.deleted && compareVersions(d.version, v.version) === 'after'));
          expect(finalDeleted).toBe(!liveUnseen);
        }),
      );
    });
  });
});
