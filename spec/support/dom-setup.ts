import { webcrypto } from 'node:crypto';
import { TextDecoder, TextEncoder } from 'node:util';
import { installObsidianDom } from './obsidian-dom';

if (typeof window !== 'undefined') {
  // Electron's renderer has these; jsdom does not.
  const g = globalThis as Record<string, unknown>;
  g.TextEncoder ??= TextEncoder;
  g.TextDecoder ??= TextDecoder;
  if (!(globalThis.crypto as Crypto | undefined)?.subtle) Object.defineProperty(globalThis, 'crypto', { value: webcrypto });
  installObsidianDom(window as Window & typeof globalThis);
}
