import type { Peer } from '../../src/core/model';
import { PeerRepository, parsePeersDocument, validatePeer, type StoredState } from '../../src/core/persistence';
import { StorageError } from '../../src/core/errors';
import { MemoryStorage } from '../support/fakes';
import { storedPeer } from '../support/manager-harness';

const peer = storedPeer;
/** The stored state with these peers and empty pairing lists. */
const only = (peers: readonly Peer[]): StoredState => ({ peers, pendingRequests: [], blockedDevices: [] });

describe('validatePeer', () => {
  it('accepts the spec example and fills in optional fields', () => {
    expect(validatePeer({ nodeId: 'abc', name: 'MacBook Pro', ticket: 't', addedAt: '2024-01-15T10:30:00Z' })).toEqual({
      nodeId: 'abc',
      name: 'MacBook Pro',
      ticket: 't',
      addedAt: '2024-01-15T10:30:00Z',
      lastSyncAt: null,
      autoConnect: true,
    });
  });

  it.each([
    [null, 'not an object'],
    [[1], 'not an object'],
    [{ ...peer('a'), nodeId: 7 }, 'nodeId'],
    [{ ...peer('a'), nodeId: '' }, 'nodeId'],
    [{ ...peer('a'), ticket: null }, 'ticket'],
    [{ ...peer('a'), name: 3 }, 'name'],
    [{ ...peer('a'), name: 'x'.repeat(101) }, 'name'],
    [{ ...peer('a'), addedAt: 'yesterday' }, 'addedAt'],
    [{ ...peer('a'), lastSyncAt: 12 }, 'lastSyncAt'],
    [{ ...peer('a'), autoConnect: 'yes' }, 'autoConnect'],
    [{ ...peer('a'), ticket: 'x'.repeat(5_000) }, 'ticket'],
  ])('rejects %j naming the field (%s)', (entry, field) => {
    const result = validatePeer(entry);
    expect(typeof result).toBe('string');
    expect(result).toContain(field);
  });
});

describe('parsePeersDocument', () => {
  it('treats a missing document or a missing peers key as no peers', () => {
    expect(parsePeersDocument(null).peers).toEqual([]);
    expect(parsePeersDocument({ settings: {} }).peers).toEqual([]);
  });

  it('skips and reports malformed entries, keeping them for the next save, and loads the rest', () => {
    const parsed = parsePeersDocument({ peers: [peer('a'), { nodeId: 5 }, peer('b'), 'junk'] });
    expect(parsed.peers.map((p) => p.nodeId)).toEqual(['a', 'b']);
    expect(parsed.unreadable).toEqual([{ nodeId: 5 }, 'junk']);
    expect(parsed.problems).toEqual([
      expect.stringContaining('#2 was skipped: nodeId'),
      expect.stringContaining('#4 was skipped: it is not an object'),
    ]);
  });

  it('keeps the first of two entries for the same device and says so', () => {
    const parsed = parsePeersDocument({ peers: [peer('a', { name: 'first' }), peer('a', { name: 'second' })] });
    expect(parsed.peers).toEqual([peer('a', { name: 'first' })]);
    expect(parsed.problems).toEqual([expect.stringContaining('#2 repeats the device a')]);
  });

  it.each([[[]], ['text'], [{ peers: 'nope' }], [{ peers: {} }]])('refuses a document of the wrong shape: %j', (raw) => {
    expect(() => parsePeersDocument(raw)).toThrow(StorageError);
  });
});

describe('PeerRepository', () => {
  it('saves the peers under "peers" and keeps every other key', async () => {
    const storage = MemoryStorage.with({ settings: { deviceName: 'Laptop' }, other: [1, 2] });
    const repository = new PeerRepository(storage);
    await repository.load();
    await repository.save(only([peer('a')]));
    expect(storage.document).toEqual({ settings: { deviceName: 'Laptop' }, other: [1, 2], peers: [peer('a')] });
  });

  it('leaves the last state on disk after 100 saves fired at once, in at most two writes', async () => {
    const storage = new MemoryStorage();
    storage.saveDelayMs = 5;
    const repository = new PeerRepository(storage);
    await repository.load();
    const saves: Promise<void>[] = [];
    for (let i = 1; i <= 100; i += 1) {
      saves.push(repository.save(only(Array.from({ length: i }, (_, k) => peer(`p${k}`)))));
    }
    await Promise.all(saves);
    expect((storage.document?.peers as unknown[]).length).toBe(100);
    expect(storage.writes).toBeLessThanOrEqual(2);
  });

  it('never interleaves: a save requested during a write is written after it, with the newest peers', async () => {
    const storage = new MemoryStorage();
    storage.saveDelayMs = 5;
    const repository = new PeerRepository(storage);
    const first = repository.save(only([peer('a')]));
    await new Promise((resolve) => setTimeout(resolve, 1));
    const second = repository.save(only([peer('a'), peer('b')]));
    const third = repository.save(only([peer('b')]));
    await Promise.all([first, second, third]);
    expect(storage.document?.peers).toEqual([peer('b')]);
    expect(storage.writes).toBe(2);
  });

  it('writes entries it could not read back unchanged', async () => {
    const storage = MemoryStorage.with({ peers: [peer('a'), { broken: true }] });
    const repository = new PeerRepository(storage);
    const report = await repository.load();
    expect(report.problems).toHaveLength(1);
    await repository.save(only([peer('a', { name: 'Renamed' })]));
    expect(storage.document?.peers).toEqual([peer('a', { name: 'Renamed' }), { broken: true }]);
  });

  it('loads a document that cannot be read as no peers, reports why, and refuses to overwrite it', async () => {
    const storage = new MemoryStorage('{"peers": [ {"nodeId": "a"');
    const repository = new PeerRepository(storage);
    const report = await repository.load();
    expect(report.peers).toEqual([]);
    expect(report.problems).toEqual([expect.stringContaining('could not be read')]);
    await expect(repository.save(only([peer('b')]))).rejects.toThrow(StorageError);
    expect(storage.text).toBe('{"peers": [ {"nodeId": "a"');
  });

  it('refuses to overwrite a document whose peers are not a list', async () => {
    const storage = MemoryStorage.with({ peers: { a: 1 } });
    const repository = new PeerRepository(storage);
    expect((await repository.load()).problems).toEqual([expect.stringContaining('"peers" is not a list')]);
    await expect(repository.save(only([]))).rejects.toThrow('not a list');
    expect(storage.document).toEqual({ peers: { a: 1 } });
  });

  it('a failed write rejects its callers and does not block later writes', async () => {
    const storage = new MemoryStorage();
    const repository = new PeerRepository(storage);
    storage.failNextSave = new Error('disk full');
    await expect(repository.save(only([peer('a')]))).rejects.toThrow('disk full');
    await repository.save(only([peer('b')]));
    expect(storage.document?.peers).toEqual([peer('b')]);
  });
});
