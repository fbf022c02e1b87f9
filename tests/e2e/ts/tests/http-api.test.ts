/**
 * Temporal's HTTP API (--http-port): start, signal, query, describe, list and
 * history through plain HTTP JSON calls, each compared with what the gRPC API
 * (the SDK's client) answers for the same workflow; errors as JSON
 * google.rpc.Status with the matching HTTP status.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useKairosServer, withWorker } from '../src/e2e';
import { DEFAULT_NAMESPACE, uniqueId } from '../src/harness';
import { approverQuery } from '../src/workflows/messages';

interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<Reply> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return { status: res.status, body: JSON.parse(text) };
}

describe('HTTP API', () => {
  const kairos = useKairosServer();
  const ns = `/api/v1/namespaces/${DEFAULT_NAMESPACE}`;

  test('start, query, signal, describe, list and history match the gRPC answers', () =>
    kairos.run(async ({ client, server }) => {
      const http = server.httpUrl;
      await withWorker(server.address, async (taskQueue) => {
        const workflowId = uniqueId('http/start'); // a slash, sent as %2F
        const path = `${ns}/workflows/${encodeURIComponent(workflowId)}`;
        const started = await call(http, 'POST', path, {
          workflowType: { name: 'approval' },
          taskQueue: { name: taskQueue },
          input: [60_000], // payload shorthand: plain JSON values
          requestId: uniqueId('req'),
        });
        assert.equal(started.status, 200, JSON.stringify(started.body));
        assert.equal(started.body.started, true);
        const handle = client.workflow.getHandle(workflowId);
        const grpcDescribe = await handle.describe();
        assert.equal(started.body.runId, grpcDescribe.runId);

        // Describe: the same execution, type, queue and status as over gRPC.
        const described = await call(http, 'GET', path);
        assert.equal(described.status, 200);
        const info = described.body.workflowExecutionInfo;
        assert.deepEqual(info.execution, { workflowId, runId: grpcDescribe.runId });
        assert.equal(info.type.name, grpcDescribe.type);
        assert.equal(info.taskQueue, grpcDescribe.taskQueue);
        assert.equal(info.status, 'WORKFLOW_EXECUTION_STATUS_RUNNING');
        assert.equal(typeof info.historyLength, 'string', 'int64 is written as a string');
        assert.equal(new Date(info.startTime).getTime(), grpcDescribe.startTime.getTime());

        // Query: the answer in shorthand equals the SDK's query.
        const queried = await call(http, 'POST', `${path}/query/approver`, { query: {} });
        assert.equal(queried.status, 200, JSON.stringify(queried.body));
        assert.deepEqual(queried.body.queryResult, [await handle.query(approverQuery)]);

        // Signal: the workflow sees it, as the SDK's result and query show.
        const signalled = await call(http, 'POST', `${path}/signal/approve`, { input: ['alice'] });
        assert.equal(signalled.status, 200, JSON.stringify(signalled.body));
        // As Temporal 1.32: a link to the signaled event, by request id (none given here).
        assert.deepEqual(signalled.body, {
          link: {
            workflowEvent: {
              namespace: 'default',
              workflowId,
              runId: grpcDescribe.runId,
              requestIdRef: { eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED' },
            },
          },
        });
        assert.equal(await handle.result(), 'approved by alice');
        const after = await call(http, 'POST', `${path}/query/approver`, { query: {} });
        assert.deepEqual(after.body.queryResult, ['alice']);

        // List: the same executions as the SDK's list for the same query.
        const query = `WorkflowId = '${workflowId}'`;
        const listed = await call(http, 'GET', `${ns}/workflows?query=${encodeURIComponent(query)}`);
        assert.equal(listed.status, 200);
        const fromGrpc = [];
        for await (const wf of client.workflow.list({ query })) fromGrpc.push(wf);
        assert.deepEqual(
          listed.body.executions.map((e: { execution: { runId: string }; status: string }) => [e.execution.runId, e.status]),
          fromGrpc.map((wf) => [wf.runId, 'WORKFLOW_EXECUTION_STATUS_COMPLETED']),
        );

        // History: payloads in shorthand by default, standard with ?noPayloadShorthand.
        const history = await call(http, 'GET', `${path}/history`);
        const events = history.body.history.events;
        assert.equal(events[0].eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
        assert.deepEqual(events[0].workflowExecutionStartedEventAttributes.input, [60_000]);
        const last = events[events.length - 1];
        assert.deepEqual(last.workflowExecutionCompletedEventAttributes.result, ['approved by alice']);
        const grpcHistory = await handle.fetchHistory();
        assert.equal(events.length, grpcHistory.events?.length);
        const standard = await call(http, 'GET', `${path}/history?noPayloadShorthand=true`);
        const input = standard.body.history.events[0].workflowExecutionStartedEventAttributes.input;
        assert.equal(Buffer.from(input.payloads[0].metadata.encoding, 'base64').toString(), 'json/plain');
        assert.equal(Buffer.from(input.payloads[0].data, 'base64').toString(), '60000');
      });
    }));

  test('schedule count and list match the gRPC list', () =>
    kairos.run(async ({ client, server }) => {
      const scheduleId = uniqueId('http-schedule');
      const handle = await client.schedule.create({
        scheduleId,
        spec: { intervals: [{ every: '1h' }] },
        action: { type: 'startWorkflow', workflowType: 'greet', args: ['x'], taskQueue: uniqueId('tq') },
      });
      const fromGrpc: string[] = [];
      for await (const s of client.schedule.list()) fromGrpc.push(s.scheduleId);
      const count = await call(server.httpUrl, 'GET', `${ns}/schedule-count`);
      assert.equal(count.status, 200, JSON.stringify(count.body));
      assert.equal(count.body.count, String(fromGrpc.length));
      const listed = await call(server.httpUrl, 'GET', `${ns}/schedules`);
      assert.deepEqual(listed.body.schedules.map((s: { scheduleId: string }) => s.scheduleId), fromGrpc);
      await handle.delete();
    }));

  test('errors are google.rpc.Status JSON with the matching HTTP status', () =>
    kairos.run(async ({ server }) => {
      const http = server.httpUrl;
      const missing = await call(http, 'GET', `${ns}/workflows/${uniqueId('missing')}`);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, 5);
      assert.match(missing.body.message, /not found/i);
      assert.equal(missing.body.details[0]['@type'], 'type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure');

      const noNamespace = await call(http, 'GET', '/api/v1/namespaces/no-such-namespace');
      assert.equal(noNamespace.status, 404);
      assert.equal(noNamespace.body.details[0]['@type'], 'type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure');

      // The same validation as gRPC: a start without a task queue.
      const invalid = await call(http, 'POST', `${ns}/workflows/${uniqueId('bad')}`, { workflowType: { name: 'x' } });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.body.code, 3);

      const notJson = await fetch(`${http}${ns}/workflows/x`, { method: 'POST', body: '{' });
      assert.equal(notJson.status, 400);

      const unknownRoute = await call(http, 'GET', '/api/v1/no/such/route');
      assert.deepEqual([unknownRoute.status, unknownRoute.body.code], [404, 5]);
      const wrongVerb = await call(http, 'DELETE', `${ns}/workflows/x/history`);
      assert.deepEqual([wrongVerb.status, wrongVerb.body.code], [501, 12]);
    }));
});
