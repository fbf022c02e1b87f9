"""A synchronous activity whose function returned but whose completion is
held past its start-to-close timeout, as in the SDK's
test_sync_activity_cancel_after_return_does_not_kill_thread_pool_worker:
the server times the attempt out (the workflow sees START_TO_CLOSE), the
worker learns of it from its own local timer (Core cancels the activity
5 s after the timeout elapses; no heartbeat, no server message), the late
completion is refused, and the one-thread pool still runs the next activity.

The SDK's test waits only 5 s after the workflow failed for that
cancellation; it passes because the server fires the 200 ms timeout after
about 1 s (scheduled tasks are not read before now +
history.timerProcessorMaxTimeShift, on Temporal and on Kairos; see
test_timer_floor.py), close enough to Core's 5.2 s cancellation."""

import asyncio
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, TimeoutError
from temporalio.worker import (ActivityInboundInterceptor, ExecuteActivityInput, Interceptor,
                               UnsandboxedWorkflowRunner, Worker)


@activity.defn
def returns_at_once() -> str:
    return "done"


@activity.defn
def probe() -> str:
    return "probe"


class HoldsCompletion(Interceptor):
    def __init__(self) -> None:
        self.returned = asyncio.Event()
        self.release = asyncio.Event()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        outer = self

        class Inbound(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> Any:
                result = await super().execute_activity(input)
                if activity.info().activity_type == "returns_at_once":
                    outer.returned.set()
                    await outer.release.wait()
                return result

        return Inbound(next)


@workflow.defn
class RunsOne:
    @workflow.run
    async def run(self, name: str, timeout_ms: int, tq: str) -> str:
        return await workflow.execute_activity(
            name, task_queue=tq, start_to_close_timeout=timedelta(milliseconds=timeout_ms),
            retry_policy=RetryPolicy(maximum_attempts=1))


def test_completion_held_past_start_to_close_is_cancelled_locally(server):
    async def scenario():
        client = await Client.connect(server.address)
        wf_tq, act_tq = f"wf-{uuid.uuid4()}", f"act-{uuid.uuid4()}"
        holds = HoldsCompletion()
        with ThreadPoolExecutor(max_workers=1) as pool:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # more slots than threads, on purpose
                act_worker = Worker(client, task_queue=act_tq, activities=[returns_at_once, probe],
                                    activity_executor=pool, max_concurrent_activities=2, interceptors=[holds])
            async with Worker(client, task_queue=wf_tq, workflows=[RunsOne],
                              workflow_runner=UnsandboxedWorkflowRunner()), act_worker:
                try:
                    handle = await client.start_workflow(RunsOne.run, args=["returns_at_once", 200, act_tq],
                                                         id=f"held-{uuid.uuid4()}", task_queue=wf_tq)
                    await asyncio.wait_for(holds.returned.wait(), timeout=5)
                    started = time.monotonic()
                    try:
                        await handle.result()
                        raise AssertionError("the workflow should fail")
                    except WorkflowFailureError as e:
                        assert isinstance(e.cause, ActivityError)
                        assert isinstance(e.cause.cause, TimeoutError)
                        assert e.cause.cause.type.name == "START_TO_CLOSE"

                    running = act_worker._activity_worker._running_activities
                    deadline = time.monotonic() + 15
                    while not any(r.cancelled_event and r.cancelled_event.is_set() for r in running.values()):
                        assert time.monotonic() < deadline, "the worker never cancelled the held activity"
                        await asyncio.sleep(0.05)
                    # Core's local timer: the timeout plus its 5 s buffer.
                    assert time.monotonic() - started > 4

                    result = await client.execute_workflow(RunsOne.run, args=["probe", 30000, act_tq],
                                                           id=f"probe-{uuid.uuid4()}", task_queue=wf_tq)
                    assert result == "probe"
                    assert sum(1 for t in list(pool._threads) if t.is_alive()) == 1
                finally:
                    holds.release.set()

        timed_out = [e for e in (await handle.fetch_history()).events
                     if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT]
        assert len(timed_out) == 1
        assert timed_out[0].activity_task_timed_out_event_attributes.failure.timeout_failure_info.timeout_type \
            == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE

    asyncio.run(scenario())
