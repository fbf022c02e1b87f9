"""The build id a worker reports comes back on its workflow task events
(started and completed; a failed task names no build on Temporal), so that `workflow.info().get_current_build_id()`
gives, in replay too, the build that ran each task (the SDK's
test_workflow_current_build_id_appropriately_set)."""

import asyncio
import uuid

from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import (DescribeWorkerDeploymentRequest, ResetStickyTaskQueueRequest,
                                               SetWorkerDeploymentCurrentVersionRequest)
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkerDeploymentConfig

import pytest

from conftest import Server

failed_once: set[str] = set()


@workflow.defn
class ReportsBuild:
    def __init__(self) -> None:
        self.proceed = False

    @workflow.run
    async def run(self, fail_first_task: bool) -> str:
        if fail_first_task and workflow.info().workflow_id not in failed_once:
            failed_once.add(workflow.info().workflow_id)
            raise RuntimeError("first task fails")  # fails the task, not the workflow
        await workflow.wait_condition(lambda: self.proceed)
        return workflow.info().get_current_build_id()

    @workflow.query
    def build_id(self) -> str:
        return workflow.info().get_current_build_id()

    @workflow.signal
    def go(self) -> None:
        self.proceed = True


def worker(client: Client, tq: str, build_id: str) -> Worker:
    return Worker(client, task_queue=tq, workflows=[ReportsBuild], build_id=build_id,
                  workflow_runner=UnsandboxedWorkflowRunner())


def task_builds(events) -> list[tuple[str, str]]:
    out = []
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            out.append(("started", e.workflow_task_started_event_attributes.worker_version.build_id))
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            out.append(("completed", e.workflow_task_completed_event_attributes.worker_version.build_id))
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            out.append(("failed", e.workflow_task_failed_event_attributes.worker_version.build_id))
    return out


def test_current_build_id_survives_replay_on_another_build(server):
    async def scenario():
        client = await Client.connect(server.address)
        tq = f"builds-{uuid.uuid4()}"
        async with worker(client, tq, "1.0"):
            handle = await client.start_workflow(ReportsBuild.run, False, id=f"builds-{uuid.uuid4()}", task_queue=tq)
            assert await handle.query(ReportsBuild.build_id) == "1.0"
        # The next worker has nothing cached: it replays the history and
        # learns the build of the first task from its events.
        await client.workflow_service.reset_sticky_task_queue(ResetStickyTaskQueueRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=handle.id)))
        async with worker(client, tq, "1.1"):
            assert await handle.query(ReportsBuild.build_id) == "1.0"
            await handle.signal(ReportsBuild.go)
            assert await handle.result() == "1.1"
        history = await handle.fetch_history()
        assert task_builds(history.events) == [("started", "1.0"), ("completed", "1.0"),
                                               ("started", "1.1"), ("completed", "1.1")]

    asyncio.run(scenario())


def test_failed_workflow_task_names_no_build(server):
    async def scenario():
        client = await Client.connect(server.address)
        tq = f"builds-{uuid.uuid4()}"
        async with worker(client, tq, "2.0"):
            handle = await client.start_workflow(ReportsBuild.run, True, id=f"builds-{uuid.uuid4()}", task_queue=tq)
            await handle.signal(ReportsBuild.go)
            assert await handle.result() == "2.0"
        history = await handle.fetch_history()
        builds = task_builds(history.events)
        assert builds[:2] == [("started", "2.0"), ("failed", "")], builds
        assert builds[-1] == ("completed", "2.0"), builds

    asyncio.run(scenario())


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class PinnedTwoTasks:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(0.01)
        return workflow.info().get_current_build_id()


@pytest.fixture
def server_with_deployments(tmp_path):
    srv = Server(tmp_path, ("--dynamic-config-value", "system.enableDeploymentVersions=true",
                            "--dynamic-config-value", "frontend.workerVersioningWorkflowAPIs=true"))
    yield srv
    assert srv.stop() == 0


def test_versioned_deployment_worker_names_its_build_on_completed_tasks(server_with_deployments):
    async def scenario():
        client = await Client.connect(server_with_deployments.address)
        tq = f"deployed-{uuid.uuid4()}"
        version = WorkerDeploymentVersion(deployment_name=f"dep-{uuid.uuid4().hex[:8]}", build_id="b1")
        async with Worker(client, task_queue=tq, workflows=[PinnedTwoTasks], workflow_runner=UnsandboxedWorkflowRunner(),
                          deployment_config=WorkerDeploymentConfig(version=version, use_worker_versioning=True)):
            for _ in range(100):  # the version exists once its worker has polled
                try:
                    described = await client.workflow_service.describe_worker_deployment(
                        DescribeWorkerDeploymentRequest(namespace="default", deployment_name=version.deployment_name))
                    if described.worker_deployment_info.version_summaries:
                        break
                except Exception:
                    pass
                await asyncio.sleep(0.1)
            await client.workflow_service.set_worker_deployment_current_version(SetWorkerDeploymentCurrentVersionRequest(
                namespace="default", deployment_name=version.deployment_name, version=version.to_canonical_string(),
                conflict_token=described.conflict_token))
            handle = await client.start_workflow(PinnedTwoTasks.run, id=f"deployed-{uuid.uuid4()}", task_queue=tq)
            assert await handle.result() == "b1"
        history = await handle.fetch_history()
        assert task_builds(history.events) == [("started", ""), ("completed", "b1")] * 2
        assert all(e.workflow_task_completed_event_attributes.worker_deployment_name == version.deployment_name
                   for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
        info = (await handle.describe()).raw_description.workflow_execution_info
        assert info.most_recent_worker_version_stamp.build_id == "b1"
        build_ids = info.search_attributes.indexed_fields["BuildIds"].data.decode()
        assert '"unversioned:b1"' in build_ids and '"unversioned"' not in build_ids, build_ids

    asyncio.run(scenario())
