/**
 * What Obsidian's Electron renderer has and jsdom lacks: `structuredClone`
 * (IndexedDB clones values with it) and Node's `setImmediate`.
 */
import { deserialize, serialize } from 'node:v8';

const g = globalThis as Record<string, unknown>;
g.structuredClone ??= <T>(value: T): T => deserialize(serialize(value)) as T;
g.setImmediate ??= (callback: () => void) => setTimeout(callback, 0);
