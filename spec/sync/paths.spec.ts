import { SyncFilter, conflictName, conflictOriginal, defaultFilter, globToRegExp, pathKey, unsafePathReason } from '../../src/sync/paths';
import * as messages from '../../src/sync/messages';

describe('which paths may be synced', () => {
  it.each([
    ['', messages.PATH_EMPTY],
    ['../x.md', messages.PATH_ESCAPES],
    ['a/../../x.md', messages.PATH_ESCAPES],
    ['a/./b.md', messages.PATH_ESCAPES],
    ['a//b.md', messages.PATH_ESCAPES],
    ['a/', messages.PATH_ESCAPES],
    ['/etc/passwd', messages.PATH_ABSOLUTE],
    ['C:/Windows/x.md', messages.PATH_ABSOLUTE],
    ['c:x.md', messages.PATH_ABSOLUTE],
    ['a\\..\\x.md', messages.PATH_BACKSLASH],
    ['a\u0000b.md', messages.PATH_NUL],
    ['a\u0007b.md', messages.PATH_CONTROL],
    ['a\nb.md', messages.PATH_CONTROL],
    ['CON', messages.PATH_RESERVED],
    ['con.md', messages.PATH_RESERVED],
    ['notes/Aux.txt', messages.PATH_RESERVED],
    ['lpt9.png', messages.PATH_RESERVED],
    ['COM¹.md', messages.PATH_RESERVED],
    ['what?.md', messages.PATH_WINDOWS_CHAR],
    ['a:b.md', messages.PATH_ABSOLUTE],
    ['notes/a:b.md', messages.PATH_WINDOWS_CHAR],
    ['trailing.', messages.PATH_TRAILING],
    ['space /x.md', messages.PATH_TRAILING],
    ['.obsidian/plugins/evil/main.js', messages.PATH_HIDDEN],
    ['.git/hooks/pre-commit', messages.PATH_HIDDEN],
    ['.trash/old.md', messages.PATH_HIDDEN],
    ['notes/.stversions/x.md', messages.PATH_HIDDEN],
    ['.stignore', messages.PATH_HIDDEN],
    ['.syncthing.note.md.tmp', messages.PATH_HIDDEN],
    ['~syncthing~note.md.tmp', messages.PATH_SYNCTHING],
    ['x'.repeat(256), messages.PATH_TOO_LONG],
    [`${'a/'.repeat(600)}b`, messages.PATH_TOO_LONG],
  ])('refuses %j: %s', (path, reason) => {
    expect(unsafePathReason(path)).toBe(reason);
  });

  it.each(['note.md', 'Daily/2026-11-25.md', 'a b/c d.png', 'Ünïcødé/日本語.md', 'emoji 😀.md', 'conference.md', 'console/x.md', 'con/x.md'.replace('con/', 'cons/'), 'x.sync-conflict-20260101-000000-ABCDEF1.md'])(
    'accepts %j',
    (path) => {
      expect(unsafePathReason(path)).toBeNull();
    },
  );

  it('folds case and Unicode form for collisions', () => {
    expect(pathKey('Notes/Café.md')).toBe(pathKey('notes/cafe\u0301.MD'));
    expect(pathKey('a.md')).not.toBe(pathKey('b.md'));
  });
});

describe('what a device chooses not to sync', () => {
  const filter = new SyncFilter({ ...defaultFilter('_config'), exclude: ['*.tmp', '/private', 'build/**/*.log'], maxFileBytes: 100 });

  it.each([
    ['_config/app.json', true],
    ['_configs/app.json', false],
    ['a/b/x.tmp', true],
    ['private/x.md', true],
    ['notes/private/x.md', false],
    ['build/a/b/c.log', true],
    ['build.log', false],
    ['note.md', false],
  ])('%s excluded: %s', (path, excluded) => {
    expect(filter.excludedReason(path) !== null).toBe(excluded);
  });

  it('applies the size limit when the size is known', () => {
    expect(filter.excludedReason('big.png', 101)).toMatch(/size limit/u);
    expect(filter.excludedReason('big.png', 100)).toBeNull();
  });

  it('can leave attachments out', () => {
    const notesOnly = new SyncFilter({ ...defaultFilter('.obsidian'), attachments: false });
    expect(notesOnly.excludedReason('a.png')).toMatch(/attachments/u);
    expect(notesOnly.excludedReason('a.md')).toBeNull();
  });

  it('skips hidden, config and excluded folders while listing', () => {
    expect(filter.skipsFolder('.git')).toBe(true);
    expect(filter.skipsFolder('_config')).toBe(true);
    expect(filter.skipsFolder('private')).toBe(true);
    expect(filter.skipsFolder('notes')).toBe(false);
  });

  it('has a fingerprint that changes with what is synced', () => {
    expect(new SyncFilter(defaultFilter('.obsidian')).fingerprint()).not.toBe(filter.fingerprint());
  });

  it('matches globs by name at any depth unless anchored', () => {
    expect(globToRegExp('*.md').test('a/b/c.md')).toBe(true);
    expect(globToRegExp('/top.md').test('a/top.md')).toBe(false);
    expect(globToRegExp('a?c').test('abc')).toBe(true);
    expect(globToRegExp('a?c').test('a/c')).toBe(false);
  });
});

describe("Syncthing's conflict names", () => {
  const stamp = { t: Date.UTC(2026, 10, 25, 9, 8, 7), d: 'abcdef123' };

  it.each([
    ['pic.png', 'pic.sync-conflict-20261125-090807-ABCDEF1.png'],
    ['Daily/2026-11-25.md', 'Daily/2026-11-25.sync-conflict-20261125-090807-ABCDEF1.md'],
    ['archive.tar.gz', 'archive.tar.sync-conflict-20261125-090807-ABCDEF1.gz'],
    ['Makefile', 'Makefile.sync-conflict-20261125-090807-ABCDEF1'],
  ])('%s → %s, and back', (path, copy) => {
    expect(conflictName(path, stamp)).toBe(copy);
    expect(conflictOriginal(copy)).toBe(path);
  });

  it('knows an ordinary name is no conflict copy', () => {
    expect(conflictOriginal('notes/plain.md')).toBeNull();
  });
});
