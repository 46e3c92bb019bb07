/**
 * Syncthing (Debian's package, 1.19.2 here) behind the harness's SyncTool.
 * Each peer: its own home (keys, config, database), its own namespace, one
 * process (STMONITORED, so without the monitor process Syncthing normally
 * starts to restart itself; the figures are the syncing process's own).
 * Configured by writing config.xml before the first start, then through the
 * REST API (on a Unix socket in the home, with the API key). Off: global and
 * local discovery, relays, NAT traversal, STUN, usage reporting, crash
 * reporting, auto-upgrade. Each device knows the other's address
 * (tcp://10.203.0.x:22000), the only listener. Everything else is Syncthing's
 * default except `setLowPriority`, turned off so both tools run at the same
 * scheduling priority.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Link } from './netns';
import { ensureCommand } from './install';
import { ToolProcess, runCommand } from './process';
import type { Peer, SyncTool, ToolInfo } from './tool';

const FOLDER = 'vault';
const PORT = 22000;

/** Installs Debian's syncthing when it is missing (as issue 13 says); returns its version line. */
export function ensureSyncthing(log: (line: string) => void): string {
  ensureCommand('syncthing', 'syncthing', log, ', or run with --only vault-peers');
  const found = spawnSync('syncthing', ['--version'], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error(`syncthing --version failed: ${found.stderr.trim()}`);
  return found.stdout.trim();
}

interface Instance {
  readonly deviceId: string;
  readonly apiKey: string;
  readonly socket: string;
  process: ToolProcess | null;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export class Syncthing implements SyncTool {
  readonly info: ToolInfo;
  readonly watcherDelays = [10, 1] as const;
  readonly conflictPattern = /\.sync-conflict-\d{8}-\d{6}-[A-Z0-9]{7}/;
  private readonly instances = new Map<string, Instance>();

  constructor(
    private readonly link: Link,
    private readonly logFile: string,
    version: string,
  ) {
    this.info = {
      id: 'syncthing',
      label: `Syncthing ${/v[\d.]+/.exec(version)?.[0] ?? ''}`.trim(),
      version,
      settings: [
        'TCP listener on the link address only; each device given the other\'s address',
        'global and local discovery, relays, NAT traversal, STUN, usage and crash reporting, auto-upgrade: off',
        'setLowPriority=false (its default lowers its own CPU priority; ours runs at normal priority)',
        'folder: Syncthing\'s defaults (send-receive, watcher on, fsWatcherDelayS=10, rescan 3600 s, compression "metadata"); delay 1 measured as well',
      ],
    };
  }

  private instance(peer: Peer): Instance {
    const found = this.instances.get(peer.home);
    if (!found) throw new Error(`syncthing ${peer.name} is not prepared`);
    return found;
  }

  async prepare(a: Peer, b: Peer): Promise<void> {
    for (const peer of [a, b]) {
      rmSync(peer.home, { recursive: true, force: true });
      mkdirSync(peer.home, { recursive: true });
      runCommand(['syncthing', 'generate', `--home=${peer.home}`, '--no-default-folder'], this.logFile);
      const deviceId = runCommand(['syncthing', 'serve', `--home=${peer.home}`, '--device-id'], this.logFile).trim();
      this.instances.set(peer.home, { deviceId, apiKey: randomBytes(16).toString('hex'), socket: join(peer.home, 'gui.sock'), process: null });
      mkdirSync(join(peer.vault, '.stfolder'), { recursive: true });
    }
    const ia = this.instance(a);
    const ib = this.instance(b);
    writeFileSync(join(a.home, 'config.xml'), this.config(a, ia, b, ib));
    writeFileSync(join(b.home, 'config.xml'), this.config(b, ib, a, ia));
  }

  /**
   * The config Syncthing generated, with the folder and the other device
   * made from its own <defaults> (so every setting not named here is exactly
   * what Syncthing gives a new folder or device, maxConflicts=10 included),
   * and the options below changed.
   */
  private config(me: Peer, mine: Instance, other: Peer, theirs: Instance): string {
    let xml = readFileSync(join(me.home, 'config.xml'), 'utf8');
    const take = (pattern: RegExp, what: string): string => {
      const found = pattern.exec(xml)?.[1];
      if (!found) throw new Error(`syncthing's generated config.xml has no ${what}`);
      return found;
    };
    const defaults = take(/<defaults>([\s\S]*?)<\/defaults>/, '<defaults>');
    const folderTemplate = /(<folder [\s\S]*?<\/folder>)/.exec(defaults)?.[1];
    const deviceTemplate = /(<device id="" [\s\S]*?<\/device>)/.exec(defaults)?.[1];
    if (!folderTemplate || !deviceTemplate) throw new Error("syncthing's generated config.xml has no default folder or device");
    const folderDevice = (id: string): string => `<device id="${id}" introducedBy=""><encryptionPassword></encryptionPassword></device>`;
    const folder = folderTemplate
      .replace(/ id="" label="" path="[^"]*"/, ` id="${FOLDER}" label="${FOLDER}" path="${escapeXml(me.vault)}"`)
      .replace(/<device id="[^"]*" introducedBy="">[\s\S]*?<\/device>/, `${folderDevice(mine.deviceId)}\n            ${folderDevice(theirs.deviceId)}`);
    const device = deviceTemplate
      .replace('<device id="" ', `<device id="${theirs.deviceId}" name="${other.name}" `)
      .replace(/<address>dynamic<\/address>/, `<address>tcp://${other.side.address}:${PORT}</address>`);
    if (!folder.includes(theirs.deviceId) || !folder.includes(`path="${escapeXml(me.vault)}"`) || !device.includes(`tcp://${other.side.address}`)) {
      throw new Error("syncthing's generated config.xml has an unexpected shape");
    }
    xml = xml.replace(/(\s*)<gui /, `$1${folder}$1${device}$1<gui `);
    const set = (key: string, value: string): void => {
      const pattern = new RegExp(`<${key}>[^<]*</${key}>`);
      if (!pattern.test(xml)) throw new Error(`syncthing's generated config.xml has no <${key}>`);
      xml = xml.replace(pattern, `<${key}>${value}</${key}>`);
    };
    const gui = /(<gui [^>]*>\s*<address>)[^<]*(<\/address>)/;
    if (!gui.test(xml)) throw new Error("syncthing's generated config.xml has no GUI address");
    xml = xml.replace(gui, `$1${escapeXml(mine.socket)}$2`);
    set('apikey', mine.apiKey);
    set('listenAddress', `tcp://${me.side.address}:${PORT}`);
    for (const key of ['globalAnnounceEnabled', 'localAnnounceEnabled', 'relaysEnabled', 'natEnabled', 'crashReportingEnabled', 'startBrowser', 'setLowPriority']) set(key, 'false');
    set('stunKeepaliveStartS', '0');
    set('urAccepted', '-1');
    set('autoUpgradeIntervalH', '0');
    return xml;
  }

  async start(peer: Peer): Promise<ToolProcess> {
    const instance = this.instance(peer);
    if (instance.process?.running) throw new Error(`syncthing ${peer.name} is already running`);
    const argv = this.link.exec(peer.side, ['syncthing', 'serve', `--home=${peer.home}`, '--no-browser', '--no-restart', '--no-upgrade']);
    // STMONITORED: run the syncing process itself, without the monitor process that would restart it (about 17 MB more, not counted).
    instance.process = new ToolProcess(`syncthing ${peer.name}`, argv, this.logFile, { STNODEFAULTFOLDER: '1', STNOUPGRADE: '1', STMONITORED: 'yes', HOME: peer.home });
    return instance.process;
  }

  async stop(peer: Peer, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const instance = this.instances.get(peer.home);
    await instance?.process?.stop(signal);
    if (instance) instance.process = null;
  }

  process(peer: Peer): ToolProcess | null {
    return this.instances.get(peer.home)?.process ?? null;
  }

  isConnectedLine(peer: Peer, text: string): boolean {
    return text.includes('Established secure connection to ') && !text.includes(this.instance(peer).deviceId);
  }

  isDisconnectedLine(_peer: Peer, text: string): boolean {
    return /Connection to \S+ at .* closed|Lost connection to/.test(text);
  }

  /** One REST call over the Unix socket; retries while the API is not up yet. */
  async rest<T>(peer: Peer, method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
    const instance = this.instance(peer);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      try {
        return await new Promise<T>((resolve, reject) => {
          const payload = body === undefined ? undefined : JSON.stringify(body);
          const req = request(
            { socketPath: instance.socket, path, method, headers: { 'X-API-Key': instance.apiKey, Host: 'localhost', ...(payload ? { 'Content-Type': 'application/json' } : {}) } },
            (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => (text += chunk));
              res.on('end', () => {
                if ((res.statusCode ?? 500) >= 300) reject(new Error(`syncthing ${peer.name} ${method} ${path}: ${res.statusCode} ${text.trim()}`));
                else resolve((text.trim() ? JSON.parse(text) : null) as T);
              });
            },
          );
          req.on('error', reject);
          req.setTimeout(Math.max(1_000, deadline - performance.now()), () => req.destroy(new Error('timed out')));
          req.end(payload);
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if ((code === 'ENOENT' || code === 'ECONNREFUSED') && performance.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        throw error;
      }
    }
  }

  private async inSync(me: Peer, other: Peer, expectedFiles: number): Promise<boolean> {
    const theirs = this.instance(other);
    // Before the other's index arrives, completion says 100 % for a device that has told us nothing: require the connection and its index.
    const connections = await this.rest<{ connections: Record<string, { connected: boolean }> }>(me, 'GET', '/rest/system/connections');
    if (!connections.connections[theirs.deviceId]?.connected) return false;
    const status = await this.rest<{ state: string; needTotalItems: number; localFiles: number; globalFiles: number }>(me, 'GET', `/rest/db/status?folder=${FOLDER}`);
    if (status.state !== 'idle' || status.needTotalItems !== 0 || status.localFiles < expectedFiles || status.globalFiles !== status.localFiles) return false;
    const completion = await this.rest<{ completion: number; needItems: number; needDeletes: number; globalItems: number; sequence: number }>(
      me,
      'GET',
      `/rest/db/completion?folder=${FOLDER}&device=${theirs.deviceId}`,
    );
    return (
      completion.completion === 100 &&
      completion.needItems === 0 &&
      completion.needDeletes === 0 &&
      completion.globalItems >= expectedFiles &&
      (expectedFiles === 0 || completion.sequence > 0)
    );
  }

  async waitInSync(a: Peer, b: Peer, _since: number, timeoutMs: number, expectedFiles = 0): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const at = performance.now();
      if ((await this.inSync(a, b, expectedFiles)) && (await this.inSync(b, a, expectedFiles))) return at;
      if (performance.now() > deadline) throw new Error(`syncthing: not in sync within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async settleLocal(peer: Peer): Promise<void> {
    // The scan call returns once the scan is done; then wait for the folder to be idle again.
    await this.rest(peer, 'POST', `/rest/db/scan?folder=${FOLDER}`, undefined, 300_000);
    for (let i = 0; i < 3_000; i += 1) {
      const status = await this.rest<{ state: string }>(peer, 'GET', `/rest/db/status?folder=${FOLDER}`);
      if (status.state === 'idle') return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async setWatcherDelay(peer: Peer, seconds: number): Promise<void> {
    await this.rest(peer, 'PATCH', `/rest/config/folders/${FOLDER}`, { fsWatcherDelayS: seconds });
    const folder = await this.rest<{ fsWatcherDelayS: number }>(peer, 'GET', `/rest/config/folders/${FOLDER}`);
    if (folder.fsWatcherDelayS !== seconds) throw new Error(`syncthing ${peer.name}: fsWatcherDelayS is ${folder.fsWatcherDelayS}, not ${seconds}`);
    // Changing the folder restarts it (and its watcher): wait until it is idle again.
    for (let i = 0; i < 600; i += 1) {
      await new Promise((r) => setTimeout(r, 100));
      const status = await this.rest<{ state: string }>(peer, 'GET', `/rest/db/status?folder=${FOLDER}`);
      if (status.state === 'idle') return;
    }
  }

  async dispose(): Promise<void> {
    for (const instance of this.instances.values()) await instance.process?.stop();
    this.instances.clear();
  }
}
