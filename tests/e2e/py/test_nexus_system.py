"""The __temporal_system Nexus endpoint: a workflow signals-with-start another
through `workflow.signal_with_start_workflow`, which the SDK schedules as a
Nexus operation (WorkflowService.SignalWithStartWorkflowExecution) that the
server answers itself, synchronously, with links both ways. Also passes on
Temporal's dev server (KAIROS_BIN=temporal, with the dynamic config below)."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from conftest import Server

# Temporal serves the endpoint only with these; Kairos always.
DYNAMIC_CONFIG = ("history.enableChasm=true", "history.enableSignalWithStartFromWorkflow=true")


@pytest.fixture
def system_server(tmp_path):
    args = []
    for value in DYNAMIC_CONFIG:
        args += ["--dynamic-config-value", value]
    srv = Server(tmp_path, tuple(args))
    yield srv
    srv.stop()


@workflow.defn
class SignaledTarget:
    def __init__(self) -> None:
        self.signals: list[str] = []

    @workflow.run
    async def run(self, greeting: str) -> str:
        await workflow.wait_condition(lambda: len(self.signals) >= 2)
        return greeting + " " + ",".join(self.signals)

    @workflow.signal
    def go(self, value: str) -> None:
        self.signals.append(value)


@workflow.defn
class SignalWithStartCaller:
    @workflow.run
    async def run(self, target_id: str, signal: str) -> str:
        handle = await workflow.signal_with_start_workflow(
            "SignaledTarget",
            "hello",
            id=target_id,
            task_queue=workflow.info().task_queue,
            signal="go",
            signal_args=[signal],
        )
        return handle.id


def test_signal_with_start_from_workflow(system_server):
    asyncio.run(signal_with_start_from_workflow(system_server))


async def signal_with_start_from_workflow(system_server):
    client = await Client.connect(system_server.address)
    task_queue = str(uuid.uuid4())
    target_id = f"target-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[SignaledTarget, SignalWithStartCaller],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        first = await client.execute_workflow(SignalWithStartCaller.run, args=[target_id, "one"],
                                              id=f"caller-{uuid.uuid4()}", task_queue=task_queue,
                                              execution_timeout=timedelta(seconds=30))
        assert first == target_id
        # The target is running now: the second call only signals it.
        second_id = f"caller-{uuid.uuid4()}"
        second = await client.execute_workflow(SignalWithStartCaller.run, args=[target_id, "two"],
                                               id=second_id, task_queue=task_queue,
                                               execution_timeout=timedelta(seconds=30))
        assert second == target_id
        target = client.get_workflow_handle(target_id)
        assert await target.result() == "hello one,two"

    caller = client.get_workflow_handle(second_id)
    events = [e async for e in caller.fetch_history_events()]
    types = [e.event_type for e in events if "NEXUS" in EventType.Name(e.event_type)]
    assert types == [EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED, EventType.EVENT_TYPE_NEXUS_OPERATION_COMPLETED]
    scheduled = next(e for e in events if e.event_type == EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)
    attrs = scheduled.nexus_operation_scheduled_event_attributes
    assert attrs.endpoint == "__temporal_system"
    assert attrs.service == "temporal.api.workflowservice.v1.WorkflowService"
    assert attrs.operation == "SignalWithStartWorkflowExecution"
    completed = next(e for e in events if e.event_type == EventType.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
    result = completed.nexus_operation_completed_event_attributes.result
    assert result.metadata["encoding"] == b"binary/protobuf"
    assert result.metadata["messageType"] == b"temporal.api.workflowservice.v1.SignalWithStartWorkflowExecutionResponse"
    # The completed event links to the signal; the target's signal event back
    # to the caller's scheduled event.
    forward = [l.workflow_event for l in completed.links]
    assert any(w.workflow_id == target_id and w.request_id_ref.request_id == attrs.request_id and
               w.request_id_ref.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED for w in forward)
    signaled = [e async for e in client.get_workflow_handle(target_id).fetch_history_events()
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    assert len(signaled) == 2
    back = [l.workflow_event for l in signaled[1].links]
    assert any(w.workflow_id == second_id and w.event_ref.event_id == scheduled.event_id and
               w.event_ref.event_type == EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED for w in back)
