"""Pausing and unpausing a running activity with the Python SDK, as the
SDK's own pause tests do: the running attempt learns of the pause from its
heartbeat (cancellation details say paused), no retry is scheduled while
paused, describe shows the pause, and unpausing runs the next attempt."""

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import (DescribeWorkflowExecutionRequest, PauseActivityRequest,
                                               UnpauseActivityRequest)
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import pytest

paused_seen: asyncio.Event
details_seen: list


@activity.defn
async def heartbeat_until_paused() -> str:
    """Heartbeats until cancelled (by a pause or a reset); a later attempt
    says which it is and the heartbeat details it was given."""
    info = activity.info()
    if info.attempt > 1:
        return f"attempt {info.attempt} details {list(info.heartbeat_details)}"
    try:
        while True:
            activity.heartbeat("working")
            await asyncio.sleep(0.1)
    except asyncio.CancelledError:
        details_seen.append(activity.cancellation_details())
        paused_seen.set()
        raise


@workflow.defn
class RunsPausable:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            heartbeat_until_paused, activity_id="pausable", start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)))


async def describe(client: Client, wf_id: str):
    return await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace="default", execution=WorkflowExecution(workflow_id=wf_id)))


async def assert_still_paused(client: Client, wf_id: str, after: float) -> None:
    """The activity is still paused `after` seconds on: nothing dispatched or retried it."""
    await asyncio.sleep(after)
    d = await describe(client, wf_id)
    assert d.pending_activities[0].state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED


async def unpause(client: Client, wf_id: str, **which) -> None:
    await client.workflow_service.unpause_activity(UnpauseActivityRequest(
        namespace="default", execution=WorkflowExecution(workflow_id=wf_id), **which))


async def wait_for(pred, what: str, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await pred()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def test_pause_running_activity_then_unpause(server):
    asyncio.run(pause_running_activity_then_unpause(server))


async def pause_running_activity_then_unpause(server):
    global paused_seen, details_seen
    paused_seen, details_seen = asyncio.Event(), []
    client = await Client.connect(server.address)
    tq = f"pause-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[RunsPausable], activities=[heartbeat_until_paused],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        handle = await client.start_workflow(RunsPausable.run, id="pausable-wf", task_queue=tq)

        async def started():
            d = await describe(client, "pausable-wf")
            return any(p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED for p in d.pending_activities)
        await wait_for(started, "the activity to start")

        await client.workflow_service.pause_activity(PauseActivityRequest(
            namespace="default", execution=WorkflowExecution(workflow_id="pausable-wf"), id="pausable",
            identity="tester", reason="hold on"))
        await asyncio.wait_for(paused_seen.wait(), 10)
        assert details_seen[0] is not None and details_seen[0].paused

        async def paused_and_idle():
            d = await describe(client, "pausable-wf")
            p = d.pending_activities[0]
            return p if p.state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED else None
        p = await wait_for(paused_and_idle, "the paused attempt to end")
        assert p.paused
        assert p.pause_info.manual.identity == "tester" and p.pause_info.manual.reason == "hold on"
        assert p.attempt == 2  # The failed attempt counts; the next one waits.
        await assert_still_paused(client, "pausable-wf", 0.5)  # No retry was scheduled.
        await unpause(client, "pausable-wf", id="pausable")
        assert await handle.result() == "attempt 2 details ['working']"


def test_pause_errors(server):
    asyncio.run(pause_errors(server))


async def pause_errors(server):
    client = await Client.connect(server.address)
    tq = f"pause-err-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[RunsPausable], activities=[heartbeat_until_paused],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        await client.start_workflow(RunsPausable.run, id="pause-err-wf", task_queue=tq)
        execution = WorkflowExecution(workflow_id="pause-err-wf")
        with pytest.raises(RPCError) as err:
            await client.workflow_service.pause_activity(PauseActivityRequest(namespace="default", execution=execution))
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.value.message == "Either Activity.Id or Activity.Type should be set on request."
        with pytest.raises(RPCError) as err:
            await client.workflow_service.pause_activity(PauseActivityRequest(
                namespace="default", execution=execution, id="no-such-activity"))
        assert err.value.status == RPCStatusCode.NOT_FOUND


@activity.defn
async def quick() -> str:
    return f"ran attempt {activity.info().attempt}"


@workflow.defn
class RunsQueued:
    @workflow.run
    async def run(self, activity_queue: str) -> str:
        return await workflow.execute_activity(quick, activity_id="queued", task_queue=activity_queue,
                                               start_to_close_timeout=timedelta(seconds=10))


def test_pause_queued_activity_by_type(server):
    asyncio.run(pause_queued_activity_by_type(server))


async def pause_queued_activity_by_type(server):
    client = await Client.connect(server.address)
    tq, activity_tq = f"queued-{uuid.uuid4()}", f"queued-act-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[RunsQueued], workflow_runner=UnsandboxedWorkflowRunner()):
        handle = await client.start_workflow(RunsQueued.run, activity_tq, id="queued-wf", task_queue=tq)

        async def scheduled():
            d = await describe(client, "queued-wf")
            return len(d.pending_activities) == 1
        await wait_for(scheduled, "the activity to be scheduled")
        await client.workflow_service.pause_activity(PauseActivityRequest(
            namespace="default", execution=WorkflowExecution(workflow_id="queued-wf"), type="quick"))
        d = await describe(client, "queued-wf")
        assert d.pending_activities[0].state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED
        async with Worker(client, task_queue=activity_tq, activities=[quick]):
            # A worker polling the queue does not get the paused activity.
            await assert_still_paused(client, "queued-wf", 1.0)
            await unpause(client, "queued-wf", type="quick")
            assert await handle.result() == "ran attempt 1"
