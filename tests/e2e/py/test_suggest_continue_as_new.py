"""Workflow tasks suggest continue-as-new past the history length that
`limit.historyCount.suggestContinueAsNew` sets (as the SDK's history-info
test configures it), not only past Temporal's default of 4096 events."""

import asyncio
import uuid

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import pytest

from conftest import Server


@pytest.fixture
def server_suggesting_at_20(tmp_path):
    srv = Server(tmp_path, ("--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=20"))
    yield srv
    assert srv.stop() == 0


@workflow.defn
class GrowsUntilSuggested:
    @workflow.run
    async def run(self) -> int:
        while not workflow.info().is_continue_as_new_suggested():
            await workflow.sleep(0.01)  # A timer and a workflow task: five events.
        return workflow.info().get_current_history_length()


def test_suggest_continue_as_new_follows_dynamic_config(server_suggesting_at_20):
    async def scenario():
        client = await Client.connect(server_suggesting_at_20.address)
        tq = f"suggest-{uuid.uuid4()}"
        async with Worker(client, task_queue=tq, workflows=[GrowsUntilSuggested],
                          workflow_runner=UnsandboxedWorkflowRunner()):
            length = await client.execute_workflow(GrowsUntilSuggested.run, id=f"grows-{uuid.uuid4()}", task_queue=tq)
        assert 20 <= length < 30, length

    asyncio.run(scenario())
