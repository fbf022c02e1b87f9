"""Updates with the Python SDK: what Temporal's features suite checks in
Python (update/async_accepted, continue_as_new/updates_do_not_block_...)."""

import asyncio
import threading
import time
import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import (Client, WithStartWorkflowOperation, WorkflowUpdateFailedError,
                               WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateStage)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


@workflow.defn
class Gate:
    def __init__(self) -> None:
        self.open = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.open)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return "closed"

    @workflow.update
    async def wait_open(self) -> str:
        await workflow.wait_condition(lambda: self.open)
        return "opened"

    @workflow.signal
    def release(self) -> None:
        self.open = True


@workflow.defn
class ReturnsWhileUpdating:
    def __init__(self) -> None:
        self.got = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.got)
        return "done"

    @workflow.update(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)
    async def hold(self, block: bool = True) -> str:
        self.got = True
        if block:
            await workflow.wait_condition(lambda: False)
        return "held"


def run(coro):
    return asyncio.run(coro)


def test_accepted_update_result_times_out_at_the_rpc_deadline(server):
    async def scenario():
        client = await Client.connect(server.address)
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[Gate]):
            handle = await client.start_workflow(Gate.run, id=f"gate-{uuid.uuid4()}", task_queue=queue)
            update = await handle.start_update(Gate.wait_open, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
            began = time.monotonic()
            with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
                await update.result(rpc_timeout=timedelta(seconds=1))
            took = time.monotonic() - began
            # The server holds the poll to the caller's deadline rather than
            # answering empty at once (which made the SDK poll in a loop).
            assert 0.9 <= took < 5, took
            await handle.signal(Gate.release)
            assert await update.result() == "opened"
            assert await handle.result() == "closed"

    run(scenario())


def test_update_accepted_then_workflow_completed(server):
    async def scenario():
        client = await Client.connect(server.address)
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[ReturnsWhileUpdating]):
            handle = await client.start_workflow(ReturnsWhileUpdating.run, id=f"ret-{uuid.uuid4()}", task_queue=queue)
            with pytest.raises(WorkflowUpdateFailedError) as raised:
                await handle.execute_update(ReturnsWhileUpdating.hold)
            cause = raised.value.cause
            assert isinstance(cause, ApplicationError) and cause.type == "AcceptedUpdateCompletedWorkflow", cause
            assert await handle.result() == "done"

    run(scenario())


# The workflow and the test share these events to admit an update while the
# first run's workflow task is in flight (as the features suite does).
first_task_running = threading.Event()
update_admitted = threading.Event()


@workflow.defn
class ContinuesOnce:
    def __init__(self) -> None:
        self.received = False

    @workflow.run
    async def run(self) -> str:
        if not first_task_running.is_set():
            first_task_running.set()
            update_admitted.wait()  # Blocks the task on purpose (never in real code).
        if workflow.info().continued_run_id is not None:
            await workflow.wait_condition(lambda: self.received)
            return workflow.info().run_id
        workflow.continue_as_new()

    @workflow.update
    async def which_run(self) -> str:
        self.received = True
        return workflow.info().run_id


async def update_admitted_on(client: Client, workflow_id: str, update_id: str) -> bool:
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.update.v1 import UpdateRef
    from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
    from temporalio.service import RPCError, RPCStatusCode
    try:
        await client.workflow_service.poll_workflow_execution_update(PollWorkflowExecutionUpdateRequest(
            namespace=client.namespace,
            update_ref=UpdateRef(workflow_execution=WorkflowExecution(workflow_id=workflow_id), update_id=update_id)))
        return True
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return False


def test_updates_do_not_block_continue_as_new(server):
    async def scenario():
        client = await Client.connect(server.address)
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[ContinuesOnce],
                          workflow_runner=UnsandboxedWorkflowRunner()):
            handle = await client.start_workflow(ContinuesOnce.run, id=f"can-{uuid.uuid4()}", task_queue=queue,
                                                 execution_timeout=timedelta(minutes=1))
            await asyncio.to_thread(first_task_running.wait)
            update = asyncio.create_task(handle.execute_update(ContinuesOnce.which_run, id="update-id"))
            deadline = time.monotonic() + 10
            while not await update_admitted_on(client, handle.id, "update-id"):
                assert time.monotonic() < deadline, "the update was never admitted"
                await asyncio.sleep(0.05)
            update_admitted.set()
            handled_on = await update
            assert handled_on and handled_on != handle.first_execution_run_id
            assert await handle.result() == handled_on

            async def update_events(run_id: str) -> int:
                history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
                return sum(1 for e in history.events if e.event_type in (
                    workflow_event("WORKFLOW_EXECUTION_UPDATE_ACCEPTED"),
                    workflow_event("WORKFLOW_EXECUTION_UPDATE_COMPLETED")))

            assert await update_events(handle.first_execution_run_id) == 0
            assert await update_events(handled_on) == 2

    run(scenario())


def workflow_event(name: str) -> int:
    from temporalio.api.enums.v1 import EventType
    return EventType.Value("EVENT_TYPE_" + name)


@pytest.mark.parametrize("reuse", [WorkflowIDReusePolicy.ALLOW_DUPLICATE, WorkflowIDReusePolicy.REJECT_DUPLICATE])
def test_update_with_start_does_not_attach_to_unfinished_update_of_closed_run(server, reuse):
    """A closed run whose update never completed does not answer for that
    update id: the id reuse policy decides (a new run, or already started)."""
    async def scenario():
        client = await Client.connect(server.address)
        queue, wf_id, update_id = f"tq-{uuid.uuid4()}", f"uws-{uuid.uuid4()}", f"upd-{uuid.uuid4()}"

        def start_op():
            return WithStartWorkflowOperation(ReturnsWhileUpdating.run, id=wf_id, task_queue=queue,
                                              id_conflict_policy=WorkflowIDConflictPolicy.FAIL, id_reuse_policy=reuse)
        async with Worker(client, task_queue=queue, workflows=[ReturnsWhileUpdating]):
            first = start_op()
            await client.start_update_with_start_workflow(ReturnsWhileUpdating.hold, True, id=update_id,
                                                          start_workflow_operation=first,
                                                          wait_for_stage=WorkflowUpdateStage.ACCEPTED)
            first_handle = await first.workflow_handle()
            assert await first_handle.result() == "done"
            second = start_op()
            if reuse == WorkflowIDReusePolicy.ALLOW_DUPLICATE:
                assert await client.execute_update_with_start_workflow(
                    ReturnsWhileUpdating.hold, False, id=update_id, start_workflow_operation=second) == "held"
                assert (await second.workflow_handle()).first_execution_run_id != first_handle.first_execution_run_id
            else:
                with pytest.raises(WorkflowAlreadyStartedError):
                    await client.execute_update_with_start_workflow(
                        ReturnsWhileUpdating.hold, False, id=update_id, start_workflow_operation=second)

    run(scenario())
