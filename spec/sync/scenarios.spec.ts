import { Device, bothFinished, connect, converged, waitFor, type Connection } from '../support/sync-harness';

const devices: Device[] = [];
const links: Connection[] = [];
async function start(name: string, files: Record<string, string | Uint8Array> = {}, options = {}): Promise<Device> {
  const d = await Device.start(name, files, options);
  devices.push(d);
  return d;
}
function link(a: Device, b: Device): Connection {
  const c = connect(a, b);
  links.push(c);
  return c;
}
afterEach(async () => {
  for (const c of links.splice(0)) c.disconnect();
  for (const d of devices.splice(0)) await d.engine.close();
});

async function syncOnce(a: Device, b: Device): Promise<Connection> {
  const c = link(a, b);
  await waitFor(() => bothFinished(c), 'sync to finish');
  await converged([a, b]);
  return c;
}

describe('scenarios', () => {
  it('merges offline edits of one note on both sides, each once, no conflict file', async () => {
    const a = await start('a', { 'n.md': 'one\ntwo\nthree\n' });
    const b = await start('b');
    (await syncOnce(a, b)).disconnect();
    a.vault.put('n.md', 'one A1\ntwo\nthree\n');
    b.vault.put('n.md', 'one\ntwo\nthree B1\n');
    await a.engine.settled();
    await new Promise((r) => setTimeout(r, 30));
    await syncOnce(a, b);
    expect(a.vault.paths()).toEqual(['n.md']);
    expect(a.vault.text('n.md')).toBe('one A1\ntwo\nthree B1\n');
  });

  it('two replacements of one word merge by character: both new words, side by side, the old one gone (as docs/SYNC.md says)', async () => {
    const a = await start('a', { 'list.md': 'buy milk\nthen go home\n' });
    const b = await start('b');
    (await syncOnce(a, b)).disconnect();
    const before = a.engine.records()[0]!.hash;
    a.vault.put('list.md', 'buy bread\nthen go home\n');
    b.vault.put('list.md', 'buy cheese\nthen go home\n');
    await waitFor(() => a.engine.records()[0]!.hash !== before && b.engine.records()[0]!.hash !== before, 'both edits taken in');
    const c = await syncOnce(a, b);
    expect(a.vault.text('list.md')).toMatch(/^buy (breadcheese|cheesebread)\nthen go home\n$/u);
    expect(c.events.a.concat(c.events.b)).toContainEqual({ type: 'merged', path: 'list.md' });
  });

  it('an edit beats a concurrent delete', async () => {
    const a = await start('a', { 'n.md': 'keep me\n' });
    const b = await start('b');
    (await syncOnce(a, b)).disconnect();
    a.vault.delete('n.md');
    b.vault.put('n.md', 'keep me, edited\n');
    await new Promise((r) => setTimeout(r, 30));
    await syncOnce(a, b);
    expect(a.vault.text('n.md')).toBe('keep me, edited\n');
  });

  it('a rename and a concurrent edit both stick', async () => {
    const a = await start('a', { 'old.md': 'text\n' });
    const b = await start('b');
    (await syncOnce(a, b)).disconnect();
    a.vault.move('old.md', 'new.md');
    b.vault.put('old.md', 'text edited\n');
    await new Promise((r) => setTimeout(r, 30));
    await syncOnce(a, b);
    expect(a.vault.paths()).toEqual(['new.md']);
    expect(a.vault.text('new.md')).toBe('text edited\n');
  });

  it('two different files created on one path are both kept', async () => {
    const a = await start('a');
    const b = await start('b');
    (await syncOnce(a, b)).disconnect();
    a.vault.put('same.md', 'from a\n');
    await new Promise((r) => setTimeout(r, 30));
    b.vault.put('same.md', 'from b\n');
    await new Promise((r) => setTimeout(r, 30));
    await syncOnce(a, b);
    const paths = a.vault.paths();
    expect(paths).toHaveLength(2);
    expect(paths).toContain('same.md');
    expect(paths.find((p) => p !== 'same.md')).toMatch(/^same\.sync-conflict-\d{8}-\d{6}-[0-9A-F]+\.md$/);
  });

  it('concurrent attachment versions: the newer keeps the name, the older becomes a conflict copy', async () => {
    const a = await start('a', { 'pic.png': new Uint8Array([1]) });
    const b = await start('b');
    (await syncOnce(a, b)).disconnect();
    a.vault.put('pic.png', new Uint8Array([2, 2]));
    await new Promise((r) => setTimeout(r, 30));
    b.vault.put('pic.png', new Uint8Array([3, 3, 3]));
    await new Promise((r) => setTimeout(r, 30));
    await syncOnce(a, b);
    const paths = a.vault.paths();
    expect(paths).toHaveLength(2);
    expect([...a.vault.bytes('pic.png')!]).toEqual([3, 3, 3]);
    const copy = paths.find((p) => p !== 'pic.png')!;
    expect(copy).toMatch(/^pic\.sync-conflict-\d{8}-\d{6}-[0-9A-F]+\.png$/);
    expect([...a.vault.bytes(copy)!]).toEqual([2, 2]);
  });

  it('a folder rename moves every file and sends no content', async () => {
    const big = new Uint8Array(100_000).map((_, i) => i % 251);
    const a = await start('a', { 'f/one.md': 'x'.repeat(5000), 'f/two.bin': big });
    const b = await start('b');
    const c = await syncOnce(a, b);
    const before = c.link.totalBytes;
    a.vault.moveFolder('f', 'g');
    await waitFor(() => b.vault.paths().join() === 'g/one.md,g/two.bin', 'the move to arrive');
    await converged([a, b]);
    expect(c.link.totalBytes - before).toBeLessThan(2000);
  });

  it('a catch-up after K changes sends bytes in proportion to K', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i += 1) files[`n${i}.md`] = `note ${i}\n`.repeat(20);
    const a = await start('a', files);
    const b = await start('b');
    (await syncOnce(a, b)).disconnect();
    for (let i = 0; i < 5; i += 1) a.vault.put(`n${i}.md`, `note ${i} changed\n`);
    await new Promise((r) => setTimeout(r, 30));
    const c = await syncOnce(a, b);
    expect(c.link.totalBytes).toBeLessThan(5 * 400 + 600);
  });

  it('two names that differ only in case keep both files, and a case-insensitive disk loses neither', async () => {
    const a = await start('a');
    const mac = await start('m', {}, { vault: { caseInsensitive: true } });
    (await syncOnce(a, mac)).disconnect();
    a.vault.put('Note.md', 'upper\n');
    await new Promise((r) => setTimeout(r, 20));
    mac.vault.put('note.md', 'lower\n');
    await new Promise((r) => setTimeout(r, 20));
    await syncOnce(a, mac);
    const texts = Object.values(await mac.vault.tree()).sort();
    expect(texts).toEqual(['lower\n', 'upper\n']);
    expect(a.vault.paths().filter((p) => p.includes('sync-conflict'))).toHaveLength(1);
    expect(mac.vault.violations).toEqual([]);
  });

  it('an edit made on disk while a peer change is on its way to that note: both are kept, once', async () => {
    const a = await start('a', { 'race.md': 'alpha\nbeta\ngamma\n' });
    const b = await start('b');
    const c = await syncOnce(a, b);
    // Just before b writes a's change out, another program edits b's copy: the write is refused (compare-and-swap),
    // the disk is read in and merged three ways, and the merge is written.
    let raced = false;
    b.vault.beforeEngineWrite = (path) => {
      if (path !== 'race.md' || raced) return;
      raced = true;
      b.vault.put('race.md', 'alpha\nbeta DISK\ngamma\n');
    };
    a.vault.put('race.md', 'alpha REMOTE\nbeta\ngamma\n');
    await waitFor(() => raced, 'the race');
    await converged([a, b]);
    expect(a.vault.text('race.md')).toBe('alpha REMOTE\nbeta DISK\ngamma\n');
    expect(b.vault.paths()).toEqual(['race.md']);
    void c;
  });

  it('a folder moved and a note moved into the name it left, in one watcher batch, are two moves', async () => {
    const a = await start('a', { 'd/c.md': 'gamma\n', 'a.md': 'alpha\n' });
    const b = await start('b');
    const c = await syncOnce(a, b);
    const ids = a.engine.records().map((r) => r.id).sort();
    a.vault.moveFolder('d', 'f');
    a.vault.move('a.md', 'd/c.md');
    await waitFor(() => b.vault.paths().join() === 'd/c.md,f/c.md', 'both moves');
    await converged([a, b]);
    expect(b.vault.text('f/c.md')).toBe('gamma\n');
    expect(b.vault.text('d/c.md')).toBe('alpha\n');
    expect(a.engine.records().map((r) => r.id).sort()).toEqual(ids);
    void c;
  });
});
