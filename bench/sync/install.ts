/**
 * The system tools the bench needs, installed from Debian's packages when
 * missing (issue 13: the bench runs from a fresh clone). Without apt-get, or
 * when it fails, the error names the package to install.
 */
import { spawnSync } from 'node:child_process';

const has = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

function aptGet(args: string[]): boolean {
  return spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
}

/** Makes sure `command` exists, installing Debian's `debianPackage` (after an `apt-get update` if the first try fails). */
export function ensureCommand(command: string, debianPackage: string, log: (line: string) => void, otherwise = ''): void {
  if (has(command)) return;
  log(`${command} is missing: apt-get install -y ${debianPackage}`);
  if (has('apt-get') && (aptGet(['install', '-y', debianPackage]) || (aptGet(['update']) && aptGet(['install', '-y', debianPackage]))) && has(command)) return;
  throw new Error(`bench:sync needs \`${command}\`: install the package ${debianPackage} (Debian, Ubuntu: apt-get install -y ${debianPackage})${otherwise}.`);
}
