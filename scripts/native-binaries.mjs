// The napi-rs binaries of @number0/iroh installed in node_modules: [{ file, path }].
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export function installedNativeBinaries() {
  const scope = dirname(dirname(require.resolve('@number0/iroh/package.json')));
  return readdirSync(scope)
    .filter((name) => name.startsWith('iroh-'))
    .flatMap((name) => readdirSync(join(scope, name)).filter((f) => f.endsWith('.node')).map((file) => ({ file, path: join(scope, name, file) })));
}
