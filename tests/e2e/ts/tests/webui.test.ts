/**
 * The Web UI in a real browser: Debian's Chromium, headless, driven by
 * Playwright against a Kairos serving the UI (--ui-port), with workflows run
 * by a TypeScript worker. Each step writes a screenshot to $KAIROS_E2E_OUT
 * (default <tmp>/kairos-webui); an error banner, or a table that should list
 * something and is empty, fails the step. Actions taken in the UI (signal,
 * terminate) are checked through the SDK.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowExecutionStatusName } from '@temporalio/client';
import { Browser, chromium, Page } from 'playwright-core';
import { useKairosServer, withWorker } from '../src/e2e';
import { uniqueId } from '../src/harness';
import type { approval, greet, stuckOnActivity } from '../src/workflows';
import { notesQuery } from '../src/workflows/webui';

const OUT = process.env.KAIROS_E2E_OUT || path.join(os.tmpdir(), 'kairos-webui');
const CHROMIUM = process.env.KAIROS_CHROMIUM || '/usr/bin/chromium';
const STEP_TIMEOUT_MS = 15_000;

let shots = 0;
async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  shots += 1;
  await page.screenshot({ path: path.join(OUT, `${String(shots).padStart(2, '0')}-${name}.png`), fullPage: true });
}

/** Fails when the page shows an error toast, banner or alert. */
async function assertNoError(page: Page, step: string): Promise<void> {
  // The UI's error toasts and banners use the danger surface colour.
  const danger = page.locator('.bg-surface-danger:visible');
  if ((await danger.count()) > 0) {
    await shot(page, `${step}-FAILED`);
    assert.fail(`${step}: the UI shows an error: ${await danger.first().innerText()}`);
  }
  const alerts = page.locator('[role="alert"]:visible');
  for (let i = 0; i < (await alerts.count()); i++) {
    const text = (await alerts.nth(i).innerText()).trim();
    if (/error|fail|unable|not found|denied|unavailable/i.test(text)) {
      await shot(page, `${step}-FAILED`);
      assert.fail(`${step}: the UI shows an error: ${text}`);
    }
  }
}

/** Opens a UI page, waits for `expect` to show, screenshots it, checks for errors. */
async function open(page: Page, url: string, step: string, expect: (p: Page) => Promise<void>): Promise<void> {
  await page.goto(url);
  try {
    await expect(page);
  } catch (err) {
    await shot(page, `${step}-FAILED`);
    throw err;
  }
  await shot(page, step);
  await assertNoError(page, step);
}

async function waitForStatus(
  describeStatus: () => Promise<WorkflowExecutionStatusName>,
  want: WorkflowExecutionStatusName,
): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while ((await describeStatus()) !== want) {
    if (Date.now() > deadline) assert.fail(`status did not become ${want}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Web UI', () => {
  const kairos = useKairosServer({ ui: true });
  let browser: Browser | undefined;

  before(async () => {
    fs.rmSync(OUT, { recursive: true, force: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
  });

  test('lists, filters, shows histories, pending activities, queries, signals, terminates, schedules and workers', () =>
    kairos.run(async ({ client, server }) => {
      const ui = `${server.uiUrl}/namespaces/default`;
      await withWorker(server.address, async (taskQueue) => {
        const doneId = uniqueId('ui-done');
        const done = await client.workflow.start<typeof greet>('greet', { taskQueue, workflowId: doneId, args: ['UI'] });
        assert.equal(await done.result(), 'Hello, UI!');
        const stuckId = uniqueId('ui-stuck');
        const stuck = await client.workflow.start<typeof stuckOnActivity>('stuckOnActivity', {
          taskQueue,
          workflowId: stuckId,
          args: ['boom'],
        });
        const scheduleId = uniqueId('ui-schedule');
        const schedule = await client.schedule.create({
          scheduleId,
          spec: { intervals: [{ every: '1h' }] },
          action: { type: 'startWorkflow', workflowType: 'greet', args: ['schedule'], taskQueue },
        });

        const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
        page.setDefaultTimeout(STEP_TIMEOUT_MS);
        const link = (p: Page, id: string) => p.getByRole('link', { name: id, exact: true });

        // The workflow list shows both runs.
        await open(page, `${ui}/workflows`, 'workflow-list', async (p) => {
          await link(p, doneId).waitFor();
          await link(p, stuckId).waitFor();
        });

        // The status filter button, then a filter on type and status.
        await page.getByRole('link', { name: 'Running', exact: true }).click();
        await link(page, stuckId).waitFor();
        await link(page, doneId).waitFor({ state: 'detached' });
        await shot(page, 'filter-running');
        await assertNoError(page, 'filter-running');
        const query = `WorkflowType="greet" AND ExecutionStatus="Completed"`;
        await open(page, `${ui}/workflows?query=${encodeURIComponent(query)}`, 'filter-type-and-status', async (p) => {
          await link(p, doneId).waitFor();
          assert.equal(await link(p, stuckId).count(), 0);
        });

        // A completed workflow: its events and its result.
        await open(page, `${ui}/workflows/${doneId}/${done.firstExecutionRunId}/history`, 'completed-history', async (p) => {
          await p.getByText('Hello, UI!').first().waitFor();
          await p.getByText(/Workflow\s*Execution\s*Completed/).first().waitFor();
          await p.getByText(/Activity\s*Task\s*Completed/).first().waitFor();
        });

        // A running workflow: the pending activity, its attempts and last failure.
        const stuckUrl = `${ui}/workflows/${stuckId}/${stuck.firstExecutionRunId}`;
        await open(page, `${stuckUrl}/pending-activities`, 'pending-activity', async (p) => {
          await p.getByText('alwaysFails').first().waitFor();
          await p.getByText(/boom \(attempt \d+\)/).first().waitFor();
        });
        const body = await page.innerText('main');
        const attempt = Number(/Attempt\s+(\d+)/.exec(body)?.[1]);
        assert.ok(attempt >= 2, `attempt count shown: ${attempt}`);

        // A signal sent from the UI reaches the workflow.
        await page.getByRole('button', { name: 'More Actions' }).click();
        await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
        const signalModal = page.locator('dialog[open][data-testid="signal-confirmation-modal"]');
        await signalModal.getByTestId('signal-select-button').filter({ visible: true }).first().click();
        await signalModal.getByRole('option', { name: 'note' }).filter({ visible: true }).first().click();
        await signalModal.getByRole('textbox', { name: 'Data' }).filter({ visible: true }).first().click();
        await page.keyboard.type('"sent from the UI"');
        await shot(page, 'signal-modal');
        await signalModal.getByTestId('confirm-modal-button').filter({ visible: true }).first().click();
        await signalModal.waitFor({ state: 'hidden' });
        await assertNoError(page, 'signal-sent');
        const deadline = Date.now() + STEP_TIMEOUT_MS;
        while (!(await stuck.query(notesQuery)).includes('sent from the UI')) {
          if (Date.now() > deadline) assert.fail('the signal sent from the UI did not arrive');
          await new Promise((r) => setTimeout(r, 100));
        }

        // The Queries tab runs the "notes" query and shows its answer.
        await open(page, `${stuckUrl}/query`, 'query', async (p) => {
          await p.getByRole('button', { name: 'Run Query' }).click();
          await p.getByText('sent from the UI').first().waitFor();
        });

        // Terminate from the UI; the SDK sees the run terminated.
        await page.getByRole('button', { name: 'More Actions' }).click();
        await page.getByRole('menuitem', { name: 'Terminate' }).click();
        const terminateModal = page.locator('dialog[open]');
        await terminateModal.getByRole('textbox').first().fill('terminated from the UI');
        await shot(page, 'terminate-modal');
        await terminateModal.getByTestId('confirm-modal-button').click();
        await waitForStatus(async () => (await stuck.describe()).status.name, 'TERMINATED');
        await page.getByText(/terminated/i).first().waitFor();
        await shot(page, 'terminated');
        await assertNoError(page, 'terminated');

        // Request cancellation from the UI; the SDK sees the run cancelled.
        const cancelId = uniqueId('ui-cancel');
        const toCancel = await client.workflow.start<typeof approval>('approval', {
          taskQueue,
          workflowId: cancelId,
          args: [600_000],
        });
        await open(page, `${ui}/workflows/${cancelId}/${toCancel.firstExecutionRunId}/history`, 'cancel-page', async (p) => {
          await p.getByRole('button', { name: 'Request Cancellation' }).waitFor();
        });
        await page.getByRole('button', { name: 'Request Cancellation' }).click();
        const cancelModal = page.locator('dialog[open]');
        await cancelModal.getByTestId('confirm-modal-button').filter({ visible: true }).first().click();
        await waitForStatus(async () => (await toCancel.describe()).status.name, 'CANCELLED');
        await shot(page, 'cancelled');
        await assertNoError(page, 'cancelled');

        // The schedules page lists the schedule.
        await open(page, `${ui}/schedules`, 'schedules', async (p) => {
          await p.getByText(scheduleId).first().waitFor();
          await p.getByText(/^1 Schedules?$/).first().waitFor();
        });
        await schedule.delete();

        // The task queue's page lists this worker.
        await open(page, `${ui}/task-queues/${taskQueue}`, 'task-queue-workers', async (p) => {
          await p.getByText(`${process.pid}@`).first().waitFor();
        });
        await page.close();
      });
    }));
});
