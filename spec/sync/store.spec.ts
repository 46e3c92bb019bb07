import { Device, bothFinished, connect, converged, waitFor, type Connection } from '../support/sync-harness';
import { MemorySyncStore } from '../support/memory-store';
import { describeSyncStoreContract } from '../support/sync-store-contract';

describeSyncStoreContract('MemorySyncStore', async () => {
  const store = new MemorySyncStore();
  return { store, reopen: () => Promise.resolve(store.snapshot()) };
});

describe('the sync store under the engine', () => {
  const devices: Device[] = [];
  const links: Connection[] = [];
  afterEach(async () => {
    for (const c of links.splice(0)) c.disconnect();
    for (const d of devices.splice(0)) await d.engine.close().catch(() => undefined);
  });
  async function start(name: string, files: Record<string, string | Uint8Array> = {}): Promise<Device> {
    const d = await Device.start(name, files);
    devices.push(d);
    return d;
  }

  it('writes in proportion to the change: one edited note in a 300-note folder is one small commit', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i += 1) files[`n${i}.md`] = `note ${i}\n`.repeat(30);
    const a = await start('a', files);
    const commits = a.store.commits;
    a.vault.put('n7.md', `note 7 edited\n${'note 7\n'.repeat(29)}`);
    await waitFor(() => a.store.commits > commits, 'the edit to be stored');
    await a.engine.settled();
    expect(a.store.commits - commits).toBeLessThanOrEqual(2);
    expect(a.store.lastCommitBytes).toBeLessThan(600);
  });

  it("compacts a note's updates after many edits, and the note reloads the same", async () => {
    const a = await start('a', { 'busy.md': 'start\n' });
    let text = 'start\n';
    for (let i = 0; i < 80; i += 1) {
      text += `line ${i}\n`;
      a.vault.put('busy.md', text);
      await waitFor(() => a.engine.records()[0]!.hash !== '' && a.store.commits > 0, 'the edit');
      await new Promise((r) => setTimeout(r, 8));
    }
    await a.engine.settled();
    await waitFor(() => a.store.docOf(a.engine.records()[0]!.id)!.updates.length < 65, 'a compaction');
    await a.restart();
    const b = await start('b');
    const c = connect(a, b);
    links.push(c);
    await waitFor(() => b.vault.text('busy.md') === text, 'the note, rebuilt from the compacted store');
  });

  it('is bound to its device: a store copied from another device is rebuilt from the folder, not trusted', async () => {
    const a = await start('a', { 'only-on-a.md': 'a\n' });
    await a.engine.close();
    devices.splice(devices.indexOf(a), 1);
    const b = new Device('b');
    devices.push(b);
    b.vault.put('only-on-b.md', 'b\n');
    b.store = a.store.snapshot();
    await b.open();
    const state = await b.store.load();
    expect(state?.header.deviceId).toBe(b.id);
    expect(state?.header.epoch).not.toBe((await a.store.load())?.header.epoch);
    expect(b.engine.records().map((r) => r.path)).toEqual(['only-on-b.md']);
  });

  it('killed after writing a merged note and before recording it, while another program appends to that note: each line once', async () => {
    const a = await start('a', { 'n.md': '# n\nA1\n' });
    const b = await start('b');
    const first = connect(a, b);
    links.push(first);
    await converged([a, b]);
    // The moment after b wrote a's new line to its disk, before its store recorded that write.
    let crash: { store: MemorySyncStore; vault: ReturnType<typeof b.vault.clone> } | null = null;
    b.vault.afterEngineWrite = (path) => {
      if (path === 'n.md' && crash === null) crash = { store: b.store.snapshot(), vault: b.vault.clone() };
    };
    a.vault.put('n.md', '# n\nA1\nA2\n');
    await waitFor(() => crash !== null, "b to write a's line");
    first.disconnect();
    const { store, vault } = crash!;
    // While b is down, a program on b appends a line.
    vault.put('n.md', `${vault.text('n.md')}B1\n`);
    const revived = new Device('b', {}, vault);
    revived.store = store;
    await revived.open();
    devices.push(revived);
    links.push(connect(a, revived));
    const tree = await converged([a, revived]);
    expect(tree['n.md']).toBe('# n\nA1\nA2\nB1\n');
  });

  it('after a kill -9 at any commit or disk write, the device reopens and converges with no lost or duplicated edit', async () => {
    const files: Record<string, string | Uint8Array> = { 'big.png': new Uint8Array(1_200_000).map((_, i) => (i * 31) % 251) };
    for (let i = 0; i < 8; i += 1) files[`n${i}.md`] = `note ${i}\nMARK${i}\n`;
    const a = await start('a', files);
    const b = await start('b', { 'b-only.md': 'from b\nMARKB\n' });
    // What a crash at each commit would leave: the store as committed, and the folder as it was then.
    const crashes: { store: MemorySyncStore; vault: ReturnType<typeof b.vault.clone> }[] = [];
    const crash = (): void => void crashes.push({ store: b.store.snapshot(), vault: b.vault.clone() });
    b.store.onCommit = crash;
    b.vault.afterEngineWrite = crash;
    const first = connect(a, b);
    links.push(first);
    await waitFor(() => bothFinished(first), 'the first sync');
    await converged([a, b]);
    b.store.onCommit = null;
    b.vault.afterEngineWrite = null;
    first.disconnect();
    expect(crashes.some((c) => c.vault.stagedKeys().length > 0)).toBe(true);
    expect(crashes.length).toBeGreaterThan(5);
    const step = Math.max(1, Math.floor(crashes.length / 10));
    for (let i = 0; i < crashes.length; i += step) {
      const crash = crashes[i]!;
      const revived = new Device('b', {}, crash.vault);
      revived.store = crash.store;
      await revived.open();
      devices.push(revived);
      const again = connect(a, revived);
      links.push(again);
      const tree = await converged([a, revived], `convergence after a crash at commit ${i}`);
      const all = Object.values(tree).join('\n');
      for (const mark of ['MARKB', ...Object.keys(files).filter((p) => p.endsWith('.md')).map((_, n) => `MARK${n}`)]) expect(all.split(mark).length - 1).toBe(1);
      expect(revived.vault.paths().filter((p) => p.includes('sync-conflict'))).toEqual([]);
      again.disconnect();
    }
  }, 60_000);
});
