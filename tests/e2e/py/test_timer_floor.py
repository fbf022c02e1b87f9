"""Short timers fire as on Temporal: a scheduled task is never read before
now + history.timerProcessorMaxTimeShift (1 s by default), so a timer or a
timeout shorter than that fires after about a second, and longer ones fire
on time. The SDKs' own tests rely on that lateness (the Python SDK's
test_sync_activity_cancel_after_return_does_not_kill_thread_pool_worker).
Setting the value to 0s gives exact timers."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from conftest import Server


@workflow.defn
class Sleeps:
    @workflow.run
    async def run(self, seconds: list[float]) -> None:
        for s in seconds:
            await workflow.sleep(s)


async def timer_delays(address: str, seconds: list[float]) -> list[float]:
    """How long after it started each timer fired, from the history."""
    client = await Client.connect(address)
    tq = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[Sleeps], workflow_runner=UnsandboxedWorkflowRunner()):
        handle = await client.start_workflow(Sleeps.run, seconds, id=f"sleeps-{uuid.uuid4()}", task_queue=tq)
        await handle.result()
    started, delays = {}, []
    async for e in handle.fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            started[e.event_id] = e.event_time.ToDatetime()
        elif e.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            fired = e.event_time.ToDatetime()
            delays.append((fired - started[e.timer_fired_event_attributes.started_event_id]).total_seconds())
    return delays


def test_short_timers_wait_the_time_shift(server):
    short, zero_ish, long = asyncio.run(timer_delays(server.address, [0.2, 0.05, 1.5]))
    assert 0.95 <= short < 1.5, short
    assert 0.95 <= zero_ish < 1.5, zero_ish
    assert 1.5 <= long < 2.0, long


@pytest.fixture
def exact_server(tmp_path):
    srv = Server(tmp_path, ("--dynamic-config-value", "history.timerProcessorMaxTimeShift=0s"))
    yield srv
    assert srv.stop() == 0


def test_time_shift_zero_fires_on_time(exact_server):
    (short,) = asyncio.run(timer_delays(exact_server.address, [0.2]))
    assert 0.2 <= short < 0.7, short
