"""Resetting pending activities and updating their options with the Python
SDK (ResetActivity, UpdateActivityOptions): a running attempt learns of the
reset from its heartbeat (cancellation details say reset) and its retry
starts over with or without its heartbeat details; an activity waiting in
retry backoff runs again at once as attempt 1; keep_paused keeps it paused;
an options update moves a queued activity to another task queue and a new
retry policy shortens the backoff of one waiting. Each checked against
Temporal's dev server too."""

import asyncio
import contextlib
import uuid
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from temporalio import activity, workflow
from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.common.v1 import RetryPolicy as RetryPolicyProto
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (PauseActivityRequest, ResetActivityRequest,
                                               UpdateActivityOptionsRequest)
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import pytest

import test_activity_pause
from test_activity_pause import RunsQueued, describe, heartbeat_until_paused, quick, wait_for


@workflow.defn
class RunsResettable:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            heartbeat_until_paused, activity_id="resettable", start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=2),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)))


def execution(wf_id: str) -> WorkflowExecution:
    return WorkflowExecution(workflow_id=wf_id)


async def activity_started(client: Client, wf_id: str):
    async def started():
        d = await describe(client, wf_id)
        return any(p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED and p.heartbeat_details.payloads
                   for p in d.pending_activities)
    await wait_for(started, "the activity to start and heartbeat")


@pytest.mark.parametrize("reset_heartbeat", [False, True])
def test_reset_running_activity(server, reset_heartbeat):
    asyncio.run(reset_running_activity(server, reset_heartbeat))


async def reset_running_activity(server, reset_heartbeat: bool):
    # The pause tests' activity, told of the reset instead.
    test_activity_pause.paused_seen, test_activity_pause.details_seen = asyncio.Event(), []
    client = await Client.connect(server.address)
    tq = f"reset-{uuid.uuid4()}"
    wf_id = f"reset-running-{reset_heartbeat}"
    async with Worker(client, task_queue=tq, workflows=[RunsResettable], activities=[heartbeat_until_paused],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        handle = await client.start_workflow(RunsResettable.run, id=wf_id, task_queue=tq)
        await activity_started(client, wf_id)
        await client.workflow_service.reset_activity(ResetActivityRequest(
            namespace="default", execution=execution(wf_id), id="resettable", reset_heartbeat=reset_heartbeat))
        await asyncio.wait_for(test_activity_pause.paused_seen.wait(), 10)
        details = test_activity_pause.details_seen[0]
        assert details is not None and details.reset and not details.paused
        expected = "attempt 2 details []" if reset_heartbeat else "attempt 2 details ['working']"
        assert await handle.result() == expected


fails_left: dict = {}


@activity.defn
async def fails_first() -> str:
    key = activity.info().workflow_id
    if fails_left.get(key, 0) > 0:
        fails_left[key] -= 1
        raise RuntimeError("not yet")
    return f"ran attempt {activity.info().attempt}"


@workflow.defn
class RunsWithLongBackoff:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            fails_first, activity_id="backoff", start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(hours=1)))


@contextlib.asynccontextmanager
async def waiting_for_retry(server, wf_id: str):
    """A client and the handle of a workflow whose activity failed once and
    waits an hour for its retry."""
    client = await Client.connect(server.address)
    tq = f"{wf_id}-{uuid.uuid4()}"
    fails_left[wf_id] = 1
    async with Worker(client, task_queue=tq, workflows=[RunsWithLongBackoff], activities=[fails_first],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        handle = await client.start_workflow(RunsWithLongBackoff.run, id=wf_id, task_queue=tq)

        async def in_backoff():
            d = await describe(client, wf_id)
            p = d.pending_activities[0] if d.pending_activities else None
            return p if p and p.attempt == 2 and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED else None
        await wait_for(in_backoff, "the activity to wait for its retry")
        yield client, handle


def test_reset_activity_in_backoff(server):
    asyncio.run(reset_activity_in_backoff(server))


async def reset_activity_in_backoff(server):
    async with waiting_for_retry(server, "backoff-wf") as (client, handle):
        # By type: the attempt an hour away runs now, as attempt 1.
        await client.workflow_service.reset_activity(ResetActivityRequest(
            namespace="default", execution=execution("backoff-wf"), type="fails_first"))
        assert await handle.result() == "ran attempt 1"


def test_reset_keeps_paused(server):
    asyncio.run(reset_keeps_paused(server))


async def reset_keeps_paused(server):
    async with waiting_for_retry(server, "paused-wf") as (client, handle):
        await client.workflow_service.pause_activity(PauseActivityRequest(
            namespace="default", execution=execution("paused-wf"), id="backoff"))
        await client.workflow_service.reset_activity(ResetActivityRequest(
            namespace="default", execution=execution("paused-wf"), match_all=True, keep_paused=True))
        p = (await describe(client, "paused-wf")).pending_activities[0]
        assert p.state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED and p.attempt == 1
        await asyncio.sleep(0.5)
        p = (await describe(client, "paused-wf")).pending_activities[0]
        assert p.state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED  # Not dispatched.
        # Without keep_paused a reset unpauses it too.
        await client.workflow_service.reset_activity(ResetActivityRequest(
            namespace="default", execution=execution("paused-wf"), id="backoff"))
        assert await handle.result() == "ran attempt 1"


def test_reset_errors(server):
    asyncio.run(reset_errors(server))


async def reset_errors(server):
    client = await Client.connect(server.address)
    tq = f"reset-err-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[RunsWithLongBackoff], workflow_runner=UnsandboxedWorkflowRunner()):
        await client.start_workflow(RunsWithLongBackoff.run, id="reset-err-wf", task_queue=tq)
        with pytest.raises(RPCError) as err:
            await client.workflow_service.reset_activity(ResetActivityRequest(
                namespace="default", execution=execution("reset-err-wf")))
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.value.message == "Either Activity.Id or Activity.Type should be set on request."
        with pytest.raises(RPCError) as err:
            await client.workflow_service.reset_activity(ResetActivityRequest(
                namespace="default", execution=execution("reset-err-wf"), type="no_such_type"))
        assert err.value.status == RPCStatusCode.NOT_FOUND
        assert err.value.message == ("Can't find pending activity with such ID. "
                                     "Invalid activityID or activity already completed")
        opts = UpdateActivityOptionsRequest(namespace="default", execution=execution("reset-err-wf"), id="backoff")
        with pytest.raises(RPCError) as err:
            await client.workflow_service.update_activity_options(opts)
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.value.message == "ActivityOptions are not provided"
        opts.activity_options.CopyFrom(ActivityOptions(task_queue=TaskQueue(name="elsewhere")))
        with pytest.raises(RPCError) as err:
            await client.workflow_service.update_activity_options(opts)
        assert err.value.message == "UpdateMask is not provided"
        opts.update_mask.CopyFrom(FieldMask(paths=["task_queue.name"]))
        opts.restore_original = True
        with pytest.raises(RPCError) as err:
            await client.workflow_service.update_activity_options(opts)
        assert err.value.message == "Both UpdateMask and RestoreOriginal are provided"
        opts.restore_original = False
        opts.activity_options.CopyFrom(ActivityOptions(retry_policy=RetryPolicyProto(backoff_coefficient=0.5)))
        opts.update_mask.CopyFrom(FieldMask(paths=["retry_policy.backoff_coefficient"]))
        with pytest.raises(RPCError) as err:
            await client.workflow_service.update_activity_options(opts)
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.value.message == "BackoffCoefficient cannot be less than 1 on retry policy."


def test_update_options_moves_queued_activity(server):
    asyncio.run(update_options_moves_queued_activity(server))


async def update_options_moves_queued_activity(server):
    client = await Client.connect(server.address)
    tq, nobody, worked = (f"{what}-{uuid.uuid4()}" for what in ("opts", "nobody", "worked"))
    async with Worker(client, task_queue=tq, workflows=[RunsQueued], workflow_runner=UnsandboxedWorkflowRunner()):
        handle = await client.start_workflow(RunsQueued.run, nobody, id="moved-wf", task_queue=tq)

        async def scheduled():
            return len((await describe(client, "moved-wf")).pending_activities) == 1
        await wait_for(scheduled, "the activity to be scheduled")
        resp = await client.workflow_service.update_activity_options(UpdateActivityOptionsRequest(
            namespace="default", execution=execution("moved-wf"), id="queued",
            activity_options=ActivityOptions(task_queue=TaskQueue(name=worked),
                                             heartbeat_timeout=Duration(seconds=5)),
            update_mask=FieldMask(paths=["task_queue.name", "heartbeat_timeout"])))
        assert resp.activity_options.task_queue.name == worked
        assert resp.activity_options.heartbeat_timeout.seconds == 5
        assert resp.activity_options.start_to_close_timeout.seconds == 10  # Not in the mask: kept.
        p = (await describe(client, "moved-wf")).pending_activities[0]
        assert p.activity_options.task_queue.name == worked
        assert p.activity_options.heartbeat_timeout.seconds == 5
        async with Worker(client, task_queue=worked, activities=[quick]):
            assert await handle.result() == "ran attempt 1"


def test_update_retry_policy_shortens_backoff(server):
    asyncio.run(update_retry_policy_shortens_backoff(server))


async def update_retry_policy_shortens_backoff(server):
    async with waiting_for_retry(server, "retry-wf") as (client, handle):
        resp = await client.workflow_service.update_activity_options(UpdateActivityOptionsRequest(
            namespace="default", execution=execution("retry-wf"), type="fails_first",
            activity_options=ActivityOptions(retry_policy=RetryPolicyProto(initial_interval=Duration(nanos=100_000_000))),
            update_mask=FieldMask(paths=["retry_policy.initial_interval"])))
        assert resp.activity_options.retry_policy.initial_interval.ToMilliseconds() == 100
        assert resp.activity_options.retry_policy.backoff_coefficient == 2.0  # Not in the mask: kept.
        # The hour's wait becomes the new policy's, from when the attempt failed.
        assert await asyncio.wait_for(handle.result(), 10) == "ran attempt 2"
