/**
 * Test harness: starts a Kairos dev server on a free loopback port with a
 * fresh on-disk database, waits until it answers gRPC, and stops it with
 * SIGTERM (expecting exit code 0).
 *
 * Environment:
 *   KAIROS_BIN            path to the kairos binary
 *                         (default: <repo>/build/server/kairos)
 *   KAIROS_E2E_KEEP_TMP=1 keep the temp dir (db + server log) after the run
 *   KAIROS_E2E_LOG_LEVEL  --log-level passed to the server (default: warn)
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';

/** tests/e2e/ts (this file is compiled to tests/e2e/ts/dist/src/harness.js). */
export const E2E_TS_DIR = path.resolve(__dirname, '..', '..');

export const DEFAULT_NAMESPACE = 'default';

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const LOG_TAIL_LINES = 80;

export function kairosBinary(): string {
  const fromEnv = process.env.KAIROS_BIN;
  if (fromEnv && fromEnv.length > 0) {
    return path.resolve(process.cwd(), fromEnv);
  }
  return path.resolve(E2E_TS_DIR, '..', '..', '..', 'build', 'server', 'kairos');
}

/** Ask the OS for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error(`unexpected server address ${String(addr)}`));
        return;
      }
      const port = addr.port;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface ServerOptions {
  /** Serve the Web UI on a free port (else --headless). */
  ui?: boolean;
  /** Namespaces to register at start (--namespace), besides default. */
  namespaces?: string[];
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class KairosServer {
  /** host:port to give to Connection.connect / NativeConnection.connect */
  readonly address: string;
  private exitInfo: ExitInfo | undefined;
  private readonly exited: Promise<ExitInfo>;
  private stopped = false;

  private constructor(
    readonly binary: string,
    readonly port: number,
    readonly tmpDir: string,
    readonly logFile: string,
    readonly dbFile: string,
    private readonly child: ChildProcess,
  ) {
    this.address = `127.0.0.1:${port}`;
    this.exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  /** Base URL of Temporal's HTTP API (--http-port). */
  httpUrl = '';
  /** Base URL of the Web UI; empty unless started with { ui: true }. */
  uiUrl = '';

  /**
   * Start the server and wait until it is ready (or throw with its log tail).
   * The HTTP API always listens on a free port; the Web UI only with `ui`.
   * `namespaces` are registered at start (`--namespace`), besides `default`.
   */
  static async start(options: ServerOptions = {}): Promise<KairosServer> {
    const binary = kairosBinary();
    if (!fs.existsSync(binary)) {
      throw new Error(
        `Kairos binary not found at ${binary}. Build the server first or set KAIROS_BIN=/path/to/kairos.`,
      );
    }
    const port = await freePort();
    const httpPort = await freePort();
    const uiPort = options.ui ? await freePort() : 0;
    const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kairos-e2e-ts-'));
    const logFile = path.join(tmpDir, 'server.log');
    const dbFile = path.join(tmpDir, 'kairos.db');
    const logFd = fs.openSync(logFile, 'a');
    const args = [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--http-port',
      String(httpPort),
      ...(options.ui ? ['--ui-port', String(uiPort)] : ['--headless']),
      '--log-level',
      process.env.KAIROS_E2E_LOG_LEVEL || 'warn',
      '--db-filename',
      dbFile,
      ...(options.namespaces ?? []).flatMap((ns) => ['--namespace', ns]),
    ];
    fs.writeSync(logFd, `# ${binary} ${args.join(' ')}\n`);
    const child = spawn(binary, args, {
      cwd: tmpDir,
      stdio: ['ignore', logFd, logFd],
    });
    fs.closeSync(logFd); // the child keeps its own copy
    const server = new KairosServer(binary, port, tmpDir, logFile, dbFile, child);
    server.httpUrl = `http://127.0.0.1:${httpPort}`;
    if (options.ui) server.uiUrl = `http://127.0.0.1:${uiPort}`;
    const spawnError = new Promise<never>((_, reject) => {
      child.once('error', (err) => reject(new Error(`failed to spawn ${binary}: ${err.message}`)));
    });
    try {
      await Promise.race([server.waitUntilReady(), spawnError]);
    } catch (err) {
      server.printLogTail('server failed to become ready');
      if (server.exitInfo === undefined) {
        child.kill('SIGKILL');
        await server.exited;
      }
      throw err;
    }
    return server;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Poll Connection.connect + grpc health check until it succeeds, bounded by a deadline. */
  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError: unknown;
    let attempt = 0;
    while (Date.now() < deadline) {
      if (this.exitInfo !== undefined) {
        throw new Error(
          `kairos exited before becoming ready (code=${this.exitInfo.code}, signal=${this.exitInfo.signal})`,
        );
      }
      attempt++;
      let connection: Connection | undefined;
      try {
        connection = await Connection.connect({ address: this.address, connectTimeout: 1_000 });
        const health = await connection.healthService.check({});
        // 1 == SERVING
        if (health.status !== 1) {
          throw new Error(`health status ${health.status}`);
        }
        await connection.workflowService.getSystemInfo({});
        return;
      } catch (err) {
        lastError = err;
      } finally {
        if (connection) {
          await connection.close().catch(() => undefined);
        }
      }
      await sleepMs(Math.min(50 * attempt, 250));
    }
    throw new Error(
      `kairos at ${this.address} not ready within ${READY_TIMEOUT_MS}ms after ${attempt} attempts; ` +
        `last error: ${errorMessage(lastError)}`,
    );
  }

  logTail(lines = LOG_TAIL_LINES): string {
    try {
      const all = fs.readFileSync(this.logFile, 'utf8').split('\n');
      return all.slice(-lines - 1).join('\n');
    } catch (err) {
      return `<could not read ${this.logFile}: ${errorMessage(err)}>`;
    }
  }

  printLogTail(reason: string): void {
    process.stderr.write(
      `\n===== ${reason}: last ${LOG_TAIL_LINES} lines of ${this.logFile} =====\n` +
        `${this.logTail()}\n===== end of kairos log =====\n`,
    );
  }

  /**
   * Stop with SIGTERM and return how the process exited. Escalates to SIGKILL
   * (and reports the timeout) if it does not exit in time.
   */
  async stop(): Promise<ExitInfo & { timedOut: boolean }> {
    if (this.stopped) {
      return { ...(await this.exited), timedOut: false };
    }
    this.stopped = true;
    if (this.exitInfo !== undefined) {
      return { ...this.exitInfo, timedOut: false };
    }
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.child.kill('SIGKILL');
      return { ...(await this.exited), timedOut: true };
    }
    return { ...result, timedOut: false };
  }

  /** Stop and throw (printing the log tail) unless the server exited 0 on SIGTERM. */
  async stopAndAssertCleanExit(): Promise<void> {
    const info = await this.stop();
    const ok = !info.timedOut && info.code === 0 && info.signal === null;
    if (!ok) {
      this.printLogTail('server did not exit cleanly');
      throw new Error(
        `kairos did not exit cleanly after SIGTERM: code=${info.code} signal=${info.signal}` +
          (info.timedOut ? ` (did not exit within ${STOP_TIMEOUT_MS}ms, sent SIGKILL)` : ''),
      );
    }
    this.cleanup();
  }

  /** Remove the temp dir unless KAIROS_E2E_KEEP_TMP is set. */
  cleanup(): void {
    if (process.env.KAIROS_E2E_KEEP_TMP) {
      process.stderr.write(`kept kairos temp dir ${this.tmpDir}\n`);
      return;
    }
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
  }

  /** Run fn; on failure print the server log tail and rethrow. */
  async withLogOnFailure<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.printLogTail('test failed');
      process.stderr.write(`test error chain:\n${describeErrorChain(err)}\n`);
      throw err;
    }
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return code !== undefined ? `${err.message} (code ${String(code)})` : err.message;
  }
  return String(err);
}

/**
 * One line per error in the `cause` chain, with gRPC code/details when present
 * (the SDK wraps gRPC errors, e.g. ServiceError('Failed to start Workflow')
 * with the real status in `cause`).
 */
export function describeErrorChain(err: unknown): string {
  const lines: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 10; depth++) {
    if (cur instanceof Error) {
      const e = cur as Error & { code?: unknown; details?: unknown };
      let line = `  ${'  '.repeat(depth)}${e.name}: ${e.message}`;
      if (e.code !== undefined) line += ` [code=${String(e.code)}]`;
      if (e.details !== undefined && e.details !== e.message) line += ` [details=${String(e.details)}]`;
      lines.push(line);
      cur = e.cause;
    } else {
      lines.push(`  ${'  '.repeat(depth)}${String(cur)}`);
      break;
    }
  }
  return lines.join('\n');
}

/** Unique-ish id for task queues / workflow ids so tests never collide. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
