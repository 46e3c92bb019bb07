/**
 * Where the iroh binding comes from, and the device identity it derives.
 * The Obsidian plugin loads the native binary from its own folder by absolute
 * path (a bare require of the package fails inside Electron) and hands it in;
 * Node code falls back to the package.
 */
import type * as Iroh from '@number0/iroh/index.js';

export type IrohModule = typeof Iroh;
let irohModule: IrohModule | null = null;

/** Uses an already loaded iroh module (the plugin's, loaded by path). */
export function useIrohModule(module: IrohModule): void {
  irohModule = module;
}

export function iroh(): IrohModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose: the plugin injects the module it loaded by path, so this never runs there
  irohModule ??= require('@number0/iroh/index.js') as IrohModule;
  return irohModule;
}

/** A new device key (32 bytes), to be stored by the host: the node id follows from it. */
export function generateSecretKey(): Uint8Array {
  return Uint8Array.from(iroh().SecretKey.generate().toBytes());
}

export function nodeIdOfSecretKey(secretKey: Uint8Array): string {
  return iroh().SecretKey.fromBytes(Array.from(secretKey)).public().toString();
}

/** UTF-8 bytes of a short text (reasons, ALPNs), as the binding takes them. */
export function textBytes(text: string): number[] {
  return Array.from(Buffer.from(text, 'utf8'));
}
