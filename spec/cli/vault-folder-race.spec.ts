/**
 * The folder adapter's compare-and-swap against another program appending
 * to the same note at the same moment (what the fault suite's writers do).
 * The check that the note is still what the engine read and the rename over
 * it must not be separated by a turn of the event loop: another program
 * (here, a timer of this process appending in one blocking call) that
 * appended in that gap lost its line to the replaced file.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeVaultFiles } from '../../src/cli/vault-folder';

jest.setTimeout(60_000);

describe('a note appended to while the engine replaces it', () => {
  it('keeps every appended line: the write is refused when an append came first, or the append lands in the new file', async () => {
    const root = await mkdtemp(join(tmpdir(), 'vp-race-'));
    const files = await NodeVaultFiles.open(root);
    const file = join(root, 'note.md');
    await writeFile(file, '');
    const appended: string[] = [];
    let running = true;
    let writeMs = 3;
    // Another program: an append every millisecond or two, at any point of the engine's write.
    const appender = (async () => {
      while (running) {
        const line = `other-${appended.length}`;
        appendFileSync(file, `${line}\n`);
        appended.push(line);
        // Scaled to how long a write takes now (a loaded machine syncs slower), so some writes see an append and some do not.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * writeMs));
      }
    })();
    let replaced = 0;
    let refused = 0;
    try {
      for (let i = 0; i < 3000 && (i < 600 || replaced < 50 || refused < 50); i += 1) {
        const current = readFileSync(file, 'utf8');
        const t0 = performance.now();
        // The engine's write: what it read, plus a line of its own, only if the note is still what it read.
        if (await files.writeText('note.md', `${current}engine-${i}\n`, { kind: 'text', text: current })) replaced += 1;
        else refused += 1;
        writeMs = 0.8 * writeMs + 0.2 * (performance.now() - t0);
      }
    } finally {
      running = false;
      await appender;
    }
    const final = readFileSync(file, 'utf8').split('\n');
    expect(appended.filter((line) => !final.includes(line))).toEqual([]);
    expect(replaced).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    await rm(root, { recursive: true, force: true });
  });
});
