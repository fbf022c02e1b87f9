"""Workflows that start workflows, with the Python SDK: child workflows,
cron workflows and schedules (issue 9)."""

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import ContinueAsNewInitiator, EventType
from temporalio.client import (Client, Schedule, ScheduleActionStartWorkflow, ScheduleBackfill,
                               ScheduleIntervalSpec, ScheduleOverlapPolicy, ScheduleSpec, ScheduleState)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, ChildWorkflowError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker


@workflow.defn
class LineItem:
    @workflow.run
    async def run(self, cents: int) -> int:
        if cents < 0:
            raise ApplicationError("negative amount", non_retryable=True)
        return cents * 2


@workflow.defn
class Invoice:
    @workflow.run
    async def run(self, items: list[int]) -> list[int]:
        info = workflow.info()
        return list(await asyncio.gather(*[
            workflow.execute_child_workflow(LineItem.run, c, id=f"{info.workflow_id}-line-{i}")
            for i, c in enumerate(items)]))


@workflow.defn
class InvoiceWithBadLine:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_child_workflow(LineItem.run, -1, id=f"{workflow.info().workflow_id}-bad")
        except ChildWorkflowError as err:
            return f"child failed: {err.cause}"
        return "unexpected"


@workflow.defn
class CronCount:
    @workflow.run
    async def run(self) -> int:
        last = workflow.get_last_completion_result(int) if workflow.has_last_completion_result() else 0
        return (last or 0) + 1


@workflow.defn
class Echo:
    @workflow.run
    async def run(self, arg: str) -> str:
        return arg


def event_types(history) -> list[int]:
    return [e.event_type for e in history.events]


async def wait_for(predicate, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def test_child_workflows(server):
    async def scenario():
        client = await Client.connect(server.address)
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[Invoice, LineItem, InvoiceWithBadLine]):
            handle = await client.start_workflow(Invoice.run, [100, 250, 5], id="invoice-1", task_queue=queue)
            assert await handle.result() == [200, 500, 10]
            history = await handle.fetch_history()
            types = event_types(history)
            assert types.count(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED) == 3
            assert types.count(EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED) == 3
            assert types.count(EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED) == 3
            child = await client.get_workflow_handle("invoice-1-line-1").fetch_history()
            started = child.events[0].workflow_execution_started_event_attributes
            assert started.parent_workflow_execution.workflow_id == "invoice-1"
            assert started.parent_initiated_event_id > 0
            assert started.root_workflow_execution.workflow_id == "invoice-1"
            desc = await client.get_workflow_handle("invoice-1-line-1").describe()
            assert desc.parent_id == "invoice-1"

            bad = await client.start_workflow(InvoiceWithBadLine.run, id="invoice-bad", task_queue=queue)
            assert "negative amount" in await bad.result()
            assert EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED in event_types(await bad.fetch_history())

    asyncio.run(scenario())


def test_cron_workflow_carries_its_last_result(server):
    async def scenario():
        client = await Client.connect(server.address)
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[CronCount]):
            handle = await client.start_workflow(CronCount.run, id="cron-count", task_queue=queue,
                                                 cron_schedule="@every 2s")

            async def completed_runs():
                runs = [w async for w in client.list_workflows("WorkflowId = 'cron-count' AND ExecutionStatus = 'Completed'")]
                return runs if len(runs) >= 3 else None

            runs = await wait_for(completed_runs, 30, "three completed cron runs")
            results = []
            for run in sorted(runs, key=lambda r: r.start_time)[:3]:
                history = await client.get_workflow_handle("cron-count", run_id=run.run_id).fetch_history()
                first = history.events[0].workflow_execution_started_event_attributes
                assert first.first_workflow_task_backoff.ToTimedelta() > timedelta(0)
                assert first.cron_schedule == "@every 2s"
                closed = history.events[-1]
                assert closed.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
                assert closed.workflow_execution_completed_event_attributes.new_execution_run_id
                payload = closed.workflow_execution_completed_event_attributes.result.payloads[0]
                results.append(int(payload.data))
                if len(results) > 1:
                    assert first.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE
            assert results == [1, 2, 3]
            await handle.terminate("enough")
            desc = await handle.describe()
            assert desc.status.name == "TERMINATED"

    asyncio.run(scenario())


def test_schedule(server):
    async def scenario():
        client = await Client.connect(server.address)
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[Echo]):
            handle = await client.create_schedule("py-schedule", Schedule(
                action=ScheduleActionStartWorkflow(Echo.run, "hello", id="echo", task_queue=queue),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=1))]),
                state=ScheduleState(paused=True, note="created paused")))
            await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
            base = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(second=0, microsecond=0)
            await handle.backfill(ScheduleBackfill(start_at=base, end_at=base + timedelta(minutes=2),
                                                   overlap=ScheduleOverlapPolicy.ALLOW_ALL))

            async def four_completed():
                runs = [w async for w in client.list_workflows(
                    "TemporalScheduledById = 'py-schedule' AND ExecutionStatus = 'Completed'")]
                return runs if len(runs) == 4 else None

            runs = await wait_for(four_completed, 20, "four completed scheduled runs")
            ids = sorted(r.id for r in runs)
            for minute in range(3):
                stamp = (base + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
                assert f"echo-{stamp}" in ids, ids
            assert await client.get_workflow_handle(ids[0]).result() == "hello"
            desc = await handle.describe()
            assert desc.info.num_actions == 4
            assert desc.schedule.state.paused and desc.schedule.state.note == "created paused"
            assert len(desc.info.next_action_times) == 10
            await handle.unpause(note="running")
            assert (await handle.describe()).schedule.state.note == "running"
            listed = [s async for s in await client.list_schedules()]
            assert any(s.id == "py-schedule" for s in listed)
            await handle.delete()
            with pytest.raises(RPCError) as raised:
                await handle.describe()
            assert raised.value.status == RPCStatusCode.NOT_FOUND

    asyncio.run(scenario())
