/**
 * Figures for the headless peer's folder adapter and sync store, at the
 * research report's scale (10,000 notes in 200 folders). Prints a table.
 *
 *   npx esbuild bench/folder-store.ts --bundle --platform=node --external:@parcel/watcher --outfile=dist/bench/folder-store.js
 *   node --expose-gc dist/bench/folder-store.js
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, appendFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSyncStore } from '../src/cli/sync-store-file';
import { NodeVaultFiles } from '../src/cli/vault-folder';
import { hashFileInChunks, CHUNK_BYTES } from '../src/sync/hash';
import type { FileChange, FileRecord, StoreHeader } from '../src/sync/ports';

const NOTES = 10_000;
const FOLDERS = 200;
const log = (line: string): void => void process.stdout.write(`${line}\n`);
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const ms = (value: number) => `${value.toFixed(1)} ms`;

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `median ${ms(at(0.5))}, p95 ${ms(at(0.95))}, max ${ms(sorted[sorted.length - 1]!)}`;
}

async function time<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, performance.now() - start];
}

const note = (i: number) => `# Note ${i}\n\n${'Some text of a note, with [[links]] and #tags. '.repeat(20 + (i % 60))}\n`;

function record(i: number): FileRecord {
  const id = i.toString(16).padStart(32, '0');
  return {
    id,
    path: `Folder ${i % FOLDERS}/Note ${i}.md`,
    kind: 'text',
    deleted: false,
    hash: id.repeat(2),
    size: 3000,
    changed: { t: 1_764_000_000_000 + i, d: 'a1b2c3d4e5' },
    moved: { t: 1_764_000_000_000, d: '' },
    version: { '0a1b2c3d': i, '4e5f6a7b': 3 },
    lived: { '0a1b2c3d': i },
    seq: i,
    sv: Uint8Array.from({ length: 12 }, (_, k) => (i + k) % 256),
    disk: { path: `Folder ${i % FOLDERS}/Note ${i}.md`, hash: id.repeat(2), size: 3000, mtime: 1_764_000_000_000.123 + i },
  };
}

async function benchStore(base: string): Promise<void> {
  const dir = join(base, 'state');
  const header: StoreHeader = { format: 1, deviceId: 'bench', folderId: 'f', epoch: '0011223344556677' };
  const store = new FileSyncStore(dir);
  await store.reset(header);
  const [, enrol] = await time(async () => {
    for (let start = 0; start < NOTES; start += 500) {
      const batch = Array.from({ length: 500 }, (_, k) => start + k);
      const text = batch.map(note);
      await store.commit({
        seq: start + 500,
        records: batch.map(record),
        docs: batch.map((i, k) => ({ id: record(i).id, update: new TextEncoder().encode(text[k]!), base: text[k]! })),
      });
    }
  });
  log(`store: enrol ${NOTES} notes in batches of 500: ${ms(enrol)}; index ${mib(statSync(join(dir, 'index.log')).size)}, docs ${mib(docsSize(dir))}`);

  const edits: number[] = [];
  for (let e = 0; e < 200; e += 1) {
    const i = (e * 37) % NOTES;
    const [, took] = await time(() =>
      store.commit({ seq: NOTES + e + 1, records: [{ ...record(i), seq: NOTES + e + 1 }], docs: [{ id: record(i).id, update: new Uint8Array(150).fill(e), base: `${note(i)} edit ${e}` }] }),
    );
    edits.push(took);
  }
  log(`store: one-edit commit (1 record + 150-byte update + base, fdatasync x2): ${summary(edits)}`);

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const fresh = new FileSyncStore(dir);
  const [state, loadTook] = await time(() => fresh.load());
  gc();
  log(`store: load of ${state!.records.length} records (fresh instance): ${ms(loadTook)}; heap held by the loaded store ${mib(process.memoryUsage().heapUsed - heapBefore)}`);
  const docTimes: number[] = [];
  for (let k = 0; k < 200; k += 1) docTimes.push((await time(() => fresh.loadDoc(record((k * 53) % NOTES).id)))[1]);
  log(`store: loadDoc: ${summary(docTimes)}`);

  // Compaction: index only (snapshot), then with the docs file (most of its bytes dead after replacing every document).
  const forced = new FileSyncStore(dir, { compactMinBytes: 0, slack: 0.0001 });
  await forced.load();
  const [, indexOnly] = await time(() => forced.commit({ seq: NOTES + 500 }));
  log(`store: compaction (snapshot of ${NOTES} records + docs copy of ${mib(docsSize(dir))}, forced): ${ms(indexOnly)}; index now ${mib(statSync(join(dir, 'index.log')).size)}`);
  rmSync(dir, { recursive: true });
}

function docsSize(dir: string): number {
  return readdirSync(dir)
    .filter((name) => name.startsWith('docs-'))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

async function benchFolder(base: string): Promise<void> {
  const root = join(base, 'vault');
  for (let f = 0; f < FOLDERS; f += 1) mkdirSync(join(root, `Folder ${f}`), { recursive: true });
  for (let i = 0; i < NOTES; i += 1) writeFileSync(join(root, `Folder ${i % FOLDERS}`, `Note ${i}.md`), note(i));
  const [files, openTook] = await time(() => NodeVaultFiles.open(root));
  log(`folder: open (start-up sweep for temporary files) of ${NOTES} files in ${FOLDERS} folders: ${ms(openTook)}`);
  const lists: number[] = [];
  for (let k = 0; k < 5; k += 1) lists.push((await time(() => files.list()))[1]);
  log(`folder: list ${NOTES} files: ${summary(lists)}`);

  const writes: number[] = [];
  for (let k = 0; k < 100; k += 1) {
    const path = `Folder ${k}/Note ${k}.md`;
    writes.push((await time(() => files.writeText(path, `${note(k)}edit\n`, { kind: 'text', text: note(k) })))[1]);
  }
  log(`folder: writeText of a 3 KB note expected as text (temp + fsync + rename + dir fsync): ${summary(writes)}`);
  const creates: number[] = [];
  for (let k = 0; k < 100; k += 1) creates.push((await time(() => files.writeText(`New/${k}.md`, note(k), { kind: 'absent' })))[1]);
  log(`folder: writeText of a new note (hard link, never overwrites): ${summary(creates)}`);

  // Watcher: ready time and event latency for appends.
  const changes: Array<{ change: FileChange; at: number }> = [];
  const started = performance.now();
  const subscription = files.watch().subscribe((change) => changes.push({ change, at: performance.now() }));
  while (changes.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  log(`folder: watcher live (first rescan) on ${FOLDERS} folders: ${ms(changes[0]!.at - started)}`);
  const latencies: number[] = [];
  for (let k = 0; k < 20; k += 1) {
    const path = `Folder ${k}/Note ${k + 200}.md`;
    const from = changes.length;
    const wrote = performance.now();
    appendFileSync(join(root, path), 'appended line\n');
    for (;;) {
      const hit = changes.slice(from).find((c) => c.change.type !== 'rescan' && c.change.path === path);
      if (hit) {
        latencies.push(hit.at - wrote);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await new Promise((resolve) => setTimeout(resolve, 120));
  }
  subscription.unsubscribe();
  log(`folder: append -> watch event: ${summary(latencies)}`);

  // A large attachment, read and hashed a chunk at a time.
  const big = join(root, 'big.bin');
  writeFileSync(big, Buffer.alloc(100 * 1024 * 1024, 7));
  gc();
  const rss = process.memoryUsage().rss;
  const [, hashTook] = await time(() => hashFileInChunks((offset, length) => files.readRange('big.bin', offset, length).then((b) => b!), 100 * 1024 * 1024));
  log(`folder: readRange + hash of 100 MiB in ${CHUNK_BYTES / 1024} KiB chunks: ${ms(hashTook)} (${((100 / hashTook) * 1000).toFixed(0)} MiB/s), RSS +${mib(process.memoryUsage().rss - rss)}`);
}

void (async () => {
  const base = mkdtempSync(join(tmpdir(), 'vp-bench-fs-'));
  try {
    await benchStore(base);
    await benchFolder(base);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
})();
