/**
 * Shared glue for e2e test files. Typical test file:
 *
 *   describe('my feature', () => {
 *     const kairos = useKairosServer();
 *     test('does X', () => kairos.run(async ({ client, address }) => { ... }));
 *   });
 *
 * Each test file runs in its own process (node --test) and gets its own
 * server with a fresh database; it is stopped with SIGTERM after the file's
 * tests and must exit 0.
 */
import { after, before } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  LogLevel,
  NativeConnection,
  Runtime,
  Worker,
  WorkerOptions,
  WorkflowBundle,
} from '@temporalio/worker';
import * as activities from './activities';
import { DEFAULT_NAMESPACE, KairosServer, ServerOptions, uniqueId } from './harness';

export const WORKFLOWS_PATH = require.resolve('./workflows');

let runtimeInstalled = false;

/**
 * Install the SDK Runtime once per process with a quieter logger (the
 * workflow bundler and core are chatty at INFO). Override with
 * KAIROS_E2E_SDK_LOG_LEVEL=TRACE|DEBUG|INFO|WARN|ERROR.
 */
export function ensureRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level = (process.env.KAIROS_E2E_SDK_LOG_LEVEL || 'WARN').toUpperCase() as LogLevel;
  Runtime.install({ logger: new DefaultLogger(level) });
}

let sharedBundle: Promise<WorkflowBundle> | undefined;

/**
 * The workflows bundled once per process, for tests that run several workers
 * (pass it as withWorker's `workflowBundle`; each worker would bundle again).
 */
export function sharedWorkflowBundle(): Promise<WorkflowBundle> {
  ensureRuntime();
  sharedBundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: Runtime.instance().logger });
  return sharedBundle;
}

export interface TestEnv {
  server: KairosServer;
  address: string;
  connection: Connection;
  client: Client;
}

export interface KairosHandle {
  /** Valid once the before() hook has run. */
  readonly env: TestEnv;
  /** Run a test body; prints the server log tail if it throws. */
  run<T>(fn: (env: TestEnv) => Promise<T>): Promise<T>;
}

/** Register before/after hooks starting and stopping a Kairos server for the enclosing suite. */
export function useKairosServer(options: ServerOptions = {}): KairosHandle {
  let env: TestEnv | undefined;

  before(async () => {
    const server = await KairosServer.start(options);
    try {
      const connection = await Connection.connect({ address: server.address });
      const client = new Client({ connection, namespace: DEFAULT_NAMESPACE });
      env = { server, address: server.address, connection, client };
    } catch (err) {
      server.printLogTail('client connection failed');
      await server.stop();
      throw err;
    }
  });

  after(async () => {
    if (!env) return;
    await env.connection.close().catch(() => undefined);
    await env.server.stopAndAssertCleanExit();
  });

  const handle: KairosHandle = {
    get env(): TestEnv {
      if (!env) throw new Error('Kairos server not started (before() hook failed?)');
      return env;
    },
    run<T>(fn: (e: TestEnv) => Promise<T>): Promise<T> {
      const e = handle.env;
      return e.server.withLogOnFailure(() => fn(e));
    },
  };
  return handle;
}

export interface WithWorkerOptions extends Partial<WorkerOptions> {
  /**
   * Fail (and shut the worker down) if fn has not settled by then, so a
   * server that never hands out a task fails the test instead of hanging
   * the test process. Default 60s.
   */
  timeoutMs?: number;
}

/**
 * Create a worker (own NativeConnection) polling a fresh task queue, run
 * `fn(taskQueue)` while the worker runs (worker.runUntil), then shut the
 * worker down and close its connection.
 */
export async function withWorker<T>(
  address: string,
  fn: (taskQueue: string, worker: Worker) => Promise<T>,
  options: WithWorkerOptions = {},
): Promise<T> {
  const { timeoutMs = 60_000, ...workerOptions } = options;
  ensureRuntime();
  const connection = await NativeConnection.connect({ address });
  let timer: NodeJS.Timeout | undefined;
  try {
    const taskQueue = workerOptions.taskQueue ?? uniqueId('tq');
    const worker = await Worker.create({
      connection,
      namespace: DEFAULT_NAMESPACE,
      taskQueue,
      ...(workerOptions.workflowBundle ? {} : { workflowsPath: WORKFLOWS_PATH }),
      activities,
      ...workerOptions,
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`withWorker: body did not finish within ${timeoutMs}ms (task queue ${taskQueue})`)),
        timeoutMs,
      );
    });
    return await worker.runUntil(Promise.race([fn(taskQueue, worker), timeout]));
  } finally {
    clearTimeout(timer);
    await connection.close();
  }
}
