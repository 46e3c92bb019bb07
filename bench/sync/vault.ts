/**
 * A deterministic vault for the sync benchmark: the same seed gives the same
 * bytes on every machine. Notes are markdown as people write it (front
 * matter, headings, lists, tasks, wiki links, code blocks, quotes, tables)
 * over a Zipf-distributed vocabulary of a few thousand made-up words, so it
 * compresses like real notes (about 3 to 4 times with deflate) rather than
 * like a 20-word loop. Attachments are incompressible bytes, like photos.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { deflateRawSync } from 'node:zlib';

export interface VaultSpec {
  readonly seed: string;
  readonly notes: number;
  readonly attachments: number;
  /** Smallest and largest attachment, in bytes (log-uniform between). */
  readonly attachmentBytes?: readonly [number, number];
}

export interface VaultFile {
  /** Relative, with forward slashes. */
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly kind: 'note' | 'attachment';
}

export interface Manifest {
  readonly files: VaultFile[];
  readonly noteBytes: number;
  readonly attachmentBytes: number;
  readonly folders: number;
  /** Sum of the notes' sizes over the sum of each note deflated alone. */
  readonly deflateRatio: number;
}

/** Every generated file gets this modification time, so copies made with `cp -a` are identical to the second. */
export const VAULT_MTIME = new Date('2026-01-15T09:00:00Z');
const MIN_NOTE = 512;
const MAX_NOTE = 20 * 1024;

/** sfc32, seeded from SHA-256 of a string: small, fast, and the same everywhere. */
export function rng(seed: string): () => number {
  const h = createHash('sha256').update(seed).digest();
  let a = h.readUInt32LE(0);
  let b = h.readUInt32LE(4);
  let c = h.readUInt32LE(8);
  let d = h.readUInt32LE(12);
  return () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** Incompressible, deterministic bytes (AES-256-CTR keystream). */
export function incompressibleBytes(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(`key:${seed}`).digest();
  const iv = createHash('sha256').update(`iv:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Made-up words, ranked: word k is drawn with weight 1/(k+1)^1.15, as in natural text. */
class Words {
  private readonly words: string[] = [];
  private readonly cumulative: number[] = [];

  constructor(private readonly random: () => number, size = 4_000) {
    const onsets = ['', 'b', 'br', 'c', 'ch', 'cl', 'd', 'dr', 'f', 'fl', 'g', 'gr', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'pl', 'pr', 'qu', 'r', 's', 'sh', 'st', 't', 'th', 'tr', 'v', 'w', 'z'];
    const vowels = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ou', 'io', 'y'];
    const codas = ['', '', '', 'n', 'r', 's', 't', 'l', 'm', 'nd', 'st', 'ng', 'ck', 'rt'];
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    const seen = new Set<string>();
    // Frequent words are short, as in any language.
    while (this.words.length < size) {
      const rank = this.words.length;
      const syllables = rank < 800 ? 1 : 1 + Math.floor(random() * 2);
      let word = '';
      // The most common words are short function words ("of", "the", "and").
      if (rank < 40) word = pick(onsets.filter((o) => o.length < 2)) + pick(vowels) + (random() < 0.5 ? pick(codas.filter((c) => c.length < 2)) : '');
      else for (let s = 0; s < syllables; s += 1) word += pick(onsets) + pick(vowels) + pick(codas);
      if (word.length < 2 || seen.has(word)) continue;
      seen.add(word);
      this.words.push(word);
    }
    let total = 0;
    for (let k = 0; k < size; k += 1) {
      total += 1 / (k + 1) ** 1.15;
      this.cumulative.push(total);
    }
    for (let k = 0; k < size; k += 1) this.cumulative[k]! /= total;
  }

  /** Word ranks that tend to follow each word rank: collocations ("of the", "in order to"). */
  private readonly followers = new Map<number, number[]>();
  private last = -1;

  word(): string {
    if (this.last >= 0 && this.random() < 0.35) {
      let next = this.followers.get(this.last);
      if (!next) {
        next = Array.from({ length: 3 }, () => this.rank());
        this.followers.set(this.last, next);
      }
      this.last = next[Math.floor(this.random() * next.length)]!;
      return this.words[this.last]!;
    }
    this.last = this.rank();
    return this.words[this.last]!;
  }

  private rank(): number {
    const x = this.random();
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** A rarer word (from the tail), for names and identifiers. */
  rare(): string {
    return this.words[200 + Math.floor(this.random() * (this.words.length - 200))]!;
  }
}

class NoteWriter {
  /** A note's own subject words, which it keeps coming back to. */
  private topic: string[] = [];

  constructor(
    private readonly random: () => number,
    private readonly words: Words,
    private readonly titles: readonly string[],
  ) {}

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private capital(word: string): string {
    return word.charAt(0).toUpperCase() + word.slice(1);
  }

  private sentence(): string {
    const n = this.int(5, 22);
    const parts: string[] = [];
    for (let i = 0; i < n; i += 1) {
      let w = this.topic.length > 0 && this.chance(0.25) ? this.topic[Math.floor(this.random() * this.topic.length)]! : this.words.word();
      if (i === 0) w = this.capital(w);
      else if (this.chance(0.015)) w = `[[${this.titles[Math.floor(this.random() * this.titles.length)]!}]]`;
      else if (this.chance(0.01)) w = `\`${this.words.rare()}${this.chance(0.5) ? '()' : ''}\``;
      else if (this.chance(0.01)) w = `**${w}**`;
      else if (this.chance(0.01)) w = String(this.int(1, 2030));
      parts.push(w);
      if (i < n - 1 && this.chance(0.08)) parts[parts.length - 1] += ',';
    }
    return `${parts.join(' ')}${this.chance(0.9) ? '.' : this.chance(0.5) ? '?' : '!'}`;
  }

  private paragraph(): string {
    const n = this.int(1, 5);
    return Array.from({ length: n }, () => this.sentence()).join(' ');
  }

  private heading(level: number): string {
    const n = this.int(1, 5);
    return `${'#'.repeat(level)} ${this.capital(Array.from({ length: n }, () => this.words.word()).join(' '))}`;
  }

  private list(): string {
    const n = this.int(2, 8);
    const ordered = this.chance(0.25);
    const tasks = !ordered && this.chance(0.25);
    const lines: string[] = [];
    for (let i = 0; i < n; i += 1) {
      const text = this.sentence().replace(/[.?!]$/, '');
      const bullet = ordered ? `${i + 1}.` : tasks ? `- [${this.chance(0.4) ? 'x' : ' '}]` : '-';
      lines.push(`${bullet} ${text}`);
      if (!ordered && this.chance(0.2)) lines.push(`    - ${this.sentence().replace(/[.?!]$/, '')}`);
    }
    return lines.join('\n');
  }

  private code(): string {
    const lang = ['ts', 'python', 'sh', 'json', 'sql', ''][this.int(0, 5)]!;
    const n = this.int(2, 12);
    const lines: string[] = [];
    let indent = 0;
    for (let i = 0; i < n; i += 1) {
      const a = this.words.rare();
      const b = this.words.word();
      const shapes = [
        `const ${a} = ${b}(${this.words.word()}, ${this.int(0, 999)});`,
        `if (${a}.${b} > ${this.int(1, 64)}) {`,
        `return ${a}.map((x) => x.${b});`,
        `${a}_${b} = ${this.words.word()}("${this.words.word()}")`,
        `SELECT ${a}, ${b} FROM ${this.words.rare()} WHERE id = ${this.int(1, 99999)};`,
        `"${a}": "${b} ${this.words.word()}",`,
        `${a} --${b} ${this.int(1, 9)} ./${this.words.word()}`,
        '}',
      ];
      const line = shapes[this.int(0, shapes.length - 1)]!;
      if (line === '}') indent = Math.max(0, indent - 1);
      lines.push(`${'  '.repeat(indent)}${line}`);
      if (line.endsWith('{')) indent += 1;
    }
    return `\`\`\`${lang}\n${lines.join('\n')}\n\`\`\``;
  }

  private quote(): string {
    return `> ${this.paragraph()}`;
  }

  private table(): string {
    const cols = this.int(2, 4);
    const rows = this.int(2, 6);
    const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;
    const lines = [row(Array.from({ length: cols }, () => this.capital(this.words.word()))), row(Array.from({ length: cols }, () => '---'))];
    for (let r = 0; r < rows; r += 1) lines.push(row(Array.from({ length: cols }, () => (this.chance(0.3) ? String(this.int(0, 9999)) : this.words.word()))));
    return lines.join('\n');
  }

  private frontMatter(title: string, index: number): string {
    const day = new Date(Date.UTC(2023, 0, 1) + index * 37_000_000);
    const tags = Array.from({ length: this.int(1, 4) }, () => this.words.word());
    const lines = ['---', `title: ${title}`, `created: ${day.toISOString().slice(0, 10)}`, `tags: [${tags.join(', ')}]`];
    if (this.chance(0.3)) lines.push(`aliases: [${this.capital(this.words.rare())}]`);
    if (this.chance(0.2)) lines.push(`status: ${['draft', 'done', 'idea', 'review'][this.int(0, 3)]}`);
    lines.push('---');
    return lines.join('\n');
  }

  /** A note of about `target` bytes (between MIN_NOTE and MAX_NOTE), ending at a line end. */
  note(title: string, index: number, target: number): string {
    this.topic = Array.from({ length: this.int(3, 8) }, () => this.words.rare());
    const blocks: string[] = [];
    let length = 0;
    const push = (block: string): void => {
      blocks.push(block);
      length += Buffer.byteLength(block) + 2;
    };
    if (this.chance(0.8)) push(this.frontMatter(title, index));
    push(`# ${title}`);
    while (length < target) {
      const x = this.random();
      if (x < 0.12) push(this.heading(this.int(2, 3)));
      else if (x < 0.5) push(this.paragraph());
      else if (x < 0.7) push(this.list());
      else if (x < 0.78) push(this.code());
      else if (x < 0.84) push(this.quote());
      else if (x < 0.88) push(this.table());
      else if (x < 0.92) push(`See also [[${this.titles[Math.floor(this.random() * this.titles.length)]!}]] and [${this.words.word()}](https://example.org/${this.words.word()}/${this.int(1, 999)}).`);
      else push(this.paragraph());
    }
    let text = `${blocks.join('\n\n')}\n`;
    if (Buffer.byteLength(text) > MAX_NOTE) {
      const cut = text.lastIndexOf('\n', MAX_NOTE - 1);
      text = text.slice(0, cut + 1);
    }
    return text;
  }
}

/** The nested folder tree: a dozen areas with projects inside, some with a third level. */
function folders(random: () => number, words: Words, count: number): string[] {
  const out: string[] = [];
  const name = (): string => {
    const w = words.rare();
    return w.charAt(0).toUpperCase() + w.slice(1);
  };
  const top = Math.max(1, Math.round(Math.sqrt(count) / 1.2));
  const seen = new Set<string>();
  const add = (path: string): void => {
    if (!seen.has(path)) {
      seen.add(path);
      out.push(path);
    }
  };
  const tops: string[] = [];
  for (let i = 0; i < top; i += 1) {
    const t = `${String(i + 1).padStart(2, '0')} ${name()}`;
    tops.push(t);
    add(t);
  }
  while (out.length < count) {
    const parent = random() < 0.7 ? tops[Math.floor(random() * tops.length)]! : out[Math.floor(random() * out.length)]!;
    if (parent.split('/').length >= 3) continue;
    add(`${parent}/${name()}`);
  }
  return out;
}

/** Note sizes: log-normal around 2.2 KB (mean about 3 KB), clamped to 0.5-20 KB. */
function noteSize(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  const v = random();
  const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return Math.min(MAX_NOTE, Math.max(MIN_NOTE, Math.round(2_200 * Math.exp(0.8 * normal))));
}

/** Writes the vault under `dir` and returns what it holds. */
export function generateVault(dir: string, spec: VaultSpec): Manifest {
  const random = rng(`vault:${spec.seed}`);
  const words = new Words(random);
  const folderList = folders(random, words, Math.max(1, Math.round(spec.notes / 50)));
  const titles: string[] = [];
  const taken = new Set<string>();
  for (let i = 0; i < spec.notes; i += 1) {
    let title = '';
    do {
      const n = 1 + Math.floor(random() * 4);
      title = Array.from({ length: n }, () => words.word()).join(' ');
      title = title.charAt(0).toUpperCase() + title.slice(1);
      if (taken.has(title)) title = `${title} ${i}`;
    } while (taken.has(title));
    taken.add(title);
    titles.push(title);
  }
  const writer = new NoteWriter(random, words, titles);
  const files: VaultFile[] = [];
  const made = new Set<string>();
  const write = (path: string, data: Buffer, kind: VaultFile['kind']): void => {
    const full = join(dir, path);
    const parent = dirname(full);
    if (!made.has(parent)) {
      mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    writeFileSync(full, data);
    utimesSync(full, VAULT_MTIME, VAULT_MTIME);
    files.push({ path, bytes: data.length, sha256: sha256(data), kind });
  };
  let noteBytes = 0;
  let deflated = 0;
  for (let i = 0; i < spec.notes; i += 1) {
    const folder = folderList[Math.floor(random() * folderList.length)]!;
    const data = Buffer.from(writer.note(titles[i]!, i, noteSize(random)));
    noteBytes += data.length;
    if (i % 10 === 0) deflated += deflateRawSync(data).length * 10;
    write(`${folder}/${titles[i]!}.md`, data, 'note');
  }
  const [minBytes, maxBytes] = spec.attachmentBytes ?? [10 * 1024, 5 * 1024 * 1024];
  let attachmentBytes = 0;
  const extensions = ['png', 'jpg', 'pdf', 'webp', 'm4a'];
  for (let i = 0; i < spec.attachments; i += 1) {
    const bytes = Math.round(minBytes * (maxBytes / minBytes) ** random());
    const ext = extensions[Math.floor(random() * extensions.length)]!;
    const folder = folderList[Math.floor(random() * Math.min(folderList.length, 12))]!;
    attachmentBytes += bytes;
    write(`${folder.split('/')[0]!}/attachments/${words.rare()}-${i}.${ext}`, incompressibleBytes(`${spec.seed}:attachment:${i}`, bytes), 'attachment');
  }
  return { files, noteBytes, attachmentBytes, folders: folderList.length, deflateRatio: deflated > 0 ? noteBytes / deflated : 1 };
}
