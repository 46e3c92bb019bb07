import fc from 'fast-check';
import { Device, connect, converged, waitFor, type Connection } from '../support/sync-harness';

/**
 * Convergence, as a property: three devices, random operations (create,
 * edit, rename, move of a folder, delete, attachment change, edits of one
 * note on both sides of a partition), random partitions and reconnects. Once
 * everyone is connected and quiet: every device holds the identical tree,
 * every marker inserted into a note exists exactly once (or at most once, if
 * some device deleted a note that held it), no path outside the folder was
 * touched, nothing is left in staging, and every session says `finished`.
 *
 * Small in `npm test`; `SYNC_PROPERTY_RUNS=500 npx jest convergence` (or
 * `npm run faults`) runs it large. `SYNC_PROPERTY_SEED` replays a failure.
 */

export const SYNC_PROPERTY_RUNS = Number(process.env.SYNC_PROPERTY_RUNS ?? 6);
const SEED = process.env.SYNC_PROPERTY_SEED === undefined ? undefined : Number(process.env.SYNC_PROPERTY_SEED);
const PATH = process.env.SYNC_PROPERTY_PATH;

const NOTES = ['a.md', 'b.md', 'd/c.md', 'd/e.md', 'f/g.md'];
const BLOBS = ['x.png', 'd/y.png'];
const PAIRS: [number, number][] = [
  [0, 1],
  [1, 2],
  [0, 2],
];

type Op =
  | { readonly type: 'create'; readonly device: number; readonly path: number; readonly marker: number }
  | { readonly type: 'edit'; readonly device: number; readonly path: number; readonly marker: number; readonly at: number }
  | { readonly type: 'both'; readonly path: number; readonly markers: [number, number]; readonly devices: [number, number] }
  | { readonly type: 'rename'; readonly device: number; readonly from: number; readonly to: number }
  | { readonly type: 'folder'; readonly device: number }
  | { readonly type: 'delete'; readonly device: number; readonly path: number }
  | { readonly type: 'attach'; readonly device: number; readonly blob: number; readonly byte: number }
  | { readonly type: 'link'; readonly pair: number; readonly up: boolean }
  | { readonly type: 'pause'; readonly ms: number };

const device = fc.integer({ min: 0, max: 2 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ type: fc.constant('create' as const), device, path: fc.nat(NOTES.length - 1), marker: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ type: fc.constant('edit' as const), device, path: fc.nat(NOTES.length - 1), marker: fc.nat(), at: fc.nat(20) }), weight: 5 },
  fc.record({
    type: fc.constant('both' as const),
    path: fc.nat(NOTES.length - 1),
    markers: fc.tuple(fc.nat(), fc.nat()),
    devices: fc.constantFrom<[number, number]>([0, 1], [1, 2], [0, 2]),
  }),
  fc.record({ type: fc.constant('rename' as const), device, from: fc.nat(NOTES.length - 1), to: fc.nat(NOTES.length - 1) }),
  fc.record({ type: fc.constant('folder' as const), device }),
  fc.record({ type: fc.constant('delete' as const), device, path: fc.nat(NOTES.length + BLOBS.length - 1) }),
  fc.record({ type: fc.constant('attach' as const), device, blob: fc.nat(BLOBS.length - 1), byte: fc.nat(255) }),
  fc.record({ type: fc.constant('link' as const), pair: fc.nat(2), up: fc.boolean() }),
  fc.record({ type: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 25 }) }),
);

class World {
  readonly links: (Connection | null)[] = [null, null, null];
  private nextMarker = 0;
  /** Every marker put into a note, and the ones a delete may have taken away. */
  readonly markers = new Set<string>();
  readonly deletable = new Set<string>();

  constructor(readonly devices: Device[]) {}

  marker(): string {
    this.nextMarker += 1;
    const marker = `M${this.nextMarker}Z`;
    this.markers.add(marker);
    return marker;
  }

  async apply(o: Op): Promise<void> {
    switch (o.type) {
      case 'create': {
        const d = this.devices[o.device]!;
        const path = NOTES[o.path]!;
        if (d.vault.text(path) === undefined) d.vault.put(path, `${this.marker()}\n`);
        return;
      }
      case 'edit':
        return this.edit(o.device, NOTES[o.path]!, o.at);
      case 'both': {
        const [x, y] = o.devices;
        const pair = PAIRS.findIndex(([p, q]) => (p === x && q === y) || (p === y && q === x));
        this.setLink(pair, false);
        await this.edit(x, NOTES[o.path]!, o.markers[0]);
        await this.edit(y, NOTES[o.path]!, o.markers[1]);
        return;
      }
      case 'rename': {
        const d = this.devices[o.device]!;
        const from = NOTES[o.from]!;
        const to = NOTES[o.to]!;
        if (from !== to && d.vault.text(from) !== undefined && d.vault.text(to) === undefined && !d.vault.paths().some((p) => p.startsWith(`${to}/`))) {
          d.vault.move(from, to);
        }
        return;
      }
      case 'folder': {
        const d = this.devices[o.device]!;
        const paths = d.vault.paths();
        if (paths.some((p) => p.startsWith('d/')) && !paths.some((p) => p.startsWith('f/') || p === 'f')) d.vault.moveFolder('d', 'f');
        else if (paths.some((p) => p.startsWith('f/')) && !paths.some((p) => p.startsWith('d/') || p === 'd')) d.vault.moveFolder('f', 'd');
        return;
      }
      case 'delete': {
        const d = this.devices[o.device]!;
        const path = [...NOTES, ...BLOBS][o.path]!;
        const text = d.vault.text(path);
        if (text === undefined) return;
        for (const m of text.match(/M\d+Z/gu) ?? []) this.deletable.add(m);
        d.vault.delete(path);
        return;
      }
      case 'attach': {
        const d = this.devices[o.device]!;
        const path = BLOBS[o.blob]!;
        if (!d.vault.paths().some((p) => p.startsWith(`${path}/`))) d.vault.put(path, new Uint8Array([o.byte, o.device, this.nextMarker++]));
        return;
      }
      case 'link':
        this.setLink(o.pair, o.up);
        return;
      case 'pause':
        await new Promise((resolve) => setTimeout(resolve, o.ms));
        return;
    }
  }

  private async edit(index: number, path: string, at: number): Promise<void> {
    const d = this.devices[index]!;
    const text = d.vault.text(path);
    if (text === undefined) return;
    const lines = text.split('\n');
    lines.splice(at % lines.length, 0, this.marker());
    d.vault.put(path, lines.join('\n'));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }

  setLink(pair: number, up: boolean): void {
    const current = this.links[pair];
    if (up && !current) {
      const [x, y] = PAIRS[pair]!;
      this.links[pair] = connect(this.devices[x]!, this.devices[y]!);
    } else if (!up && current) {
      current.disconnect();
      this.links[pair] = null;
    }
  }
}

describe('convergence of three devices under random operations and partitions', () => {
  it('ends with identical trees, every marker once, nothing outside the folder', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 30 }), async (ops) => {
        // Two devices start with the same notes (enrolled independently, so nothing may be duplicated), one empty.
        const shared = { 'a.md': 'alpha\nbeta\n', 'd/c.md': 'gamma\n', 'x.png': new Uint8Array([9, 9]) };
        const devices = [await Device.start('a', shared), await Device.start('b', shared), await Device.start('c')];
        const world = new World(devices);
        try {
          for (const o of ops) await world.apply(o);
          for (let pair = 0; pair < 3; pair += 1) world.setLink(pair, true);
          const tree = await converged(devices, 'three devices to converge', 20_000).catch(async (error: unknown) => {
            const trees = await Promise.all(devices.map((d) => d.vault.tree()));
            if (process.env.VAULT_TRACE) for (const d of devices) console.log(d.name, d.vault.trace.join('\n'));
            throw new Error(`${String(error)}\n${devices.map((d, i) => `${d.name}: pending ${d.engine.pending().files} ${JSON.stringify(trees[i])}\n  ${JSON.stringify(d.engine.records().map((r) => [r.id.slice(0, 6), r.path, r.deleted, r.hash.slice(0, 6), r.disk?.path, r.disk?.hash.slice(0, 6)]))}`).join('\n')}`);
          });
          await waitFor(() => world.links.every((l) => l && l.events.a.at(-1)?.type === 'finished' && l.events.b.at(-1)?.type === 'finished'), 'every session to finish', 20_000).catch((error: unknown) => {
            if (process.env.VAULT_TRACE) for (const d of devices) console.log(d.name, d.vault.trace.join('\n'));
            throw new Error(`${String(error)}\n${devices.map((d) => `${d.name}: ${d.engine.describeSessions().join(' ')} wanted=${d.engine.pending().files}`).join('\n')}`);
          });

          if (process.env.SYNC_PROPERTY_LOG) console.log(ops.length, JSON.stringify(tree), world.markers.size, JSON.stringify(devices.map((d) => d.engine.records().map((r) => [r.id.slice(0, 6), r.path, r.deleted, r.version, r.disk?.path]))));
          const all = Object.values(tree).join('\n');
          for (const marker of world.markers) {
            const count = all.split(marker).length - 1;
            if (world.deletable.has(marker)) expect(count).toBeLessThanOrEqual(1);
            else expect({ marker, count }).toEqual({ marker, count: 1 });
          }
          for (const d of devices) {
            if (process.env.VAULT_TRACE && d.vault.stagedKeys().length > 0) console.log(d.name, d.vault.trace.join('\n'));
            expect(d.vault.violations).toEqual([]);
            expect(d.vault.stagedKeys()).toEqual([]);
          }
          for (const link of world.links) expect([link!.errors.a, link!.errors.b]).toEqual([null, null]);
        } finally {
          for (const link of world.links) link?.disconnect();
          for (const d of devices) await d.engine.close();
        }
      }),
      { numRuns: SYNC_PROPERTY_RUNS, ...(SEED === undefined ? {} : { seed: SEED }), ...(PATH === undefined ? {} : { path: PATH }), endOnFailure: true },
    );
  }, Math.max(120_000, SYNC_PROPERTY_RUNS * 1_000));
});
