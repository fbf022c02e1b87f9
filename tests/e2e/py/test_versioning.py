"""Worker Versioning from the Python SDK: a workflow pinned to build v1 of
a worker deployment stays on v1 after v2 becomes current, across a
continue-as-new too, while a new workflow goes to v2; describe and the
workflow task completed events report the versions."""

import asyncio
import uuid

from temporalio import workflow
from temporalio.api.enums.v1 import VersioningBehavior as ApiVersioningBehavior
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentVersionRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkerDeploymentConfig


@workflow.defn(name="VersionedPinned", versioning_behavior=VersioningBehavior.PINNED)
class Pinned:
    """Both builds' code: the first run waits for "proceed" and continues as
    new; the next run completes."""

    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, hop: int) -> str:
        if hop == 0:
            await workflow.wait_condition(lambda: self.go)
            workflow.continue_as_new(1)
        return "done"

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


async def wait_until(check, what: str) -> None:
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never {what}")


def test_pinned_workflow_stays_on_its_version(server):
    async def scenario():
        client = await Client.connect(server.address)
        tq = f"versioning-{uuid.uuid4()}"
        deployment = f"deploy-{tq}"
        versions = {b: WorkerDeploymentVersion(deployment_name=deployment, build_id=b) for b in ("v1", "v2")}

        def versioned_worker(build: str) -> Worker:
            return Worker(client, task_queue=tq, workflows=[Pinned],
                          workflow_runner=UnsandboxedWorkflowRunner(),
                          deployment_config=WorkerDeploymentConfig(version=versions[build], use_worker_versioning=True))

        async def registered(build: str) -> bool:
            try:
                await client.workflow_service.describe_worker_deployment_version(DescribeWorkerDeploymentVersionRequest(
                    namespace="default", deployment_version=versions[build]._to_proto()))
                return True
            except RPCError:
                return False

        async def set_current(build: str) -> None:
            await client.workflow_service.set_worker_deployment_current_version(SetWorkerDeploymentCurrentVersionRequest(
                namespace="default", deployment_name=deployment, build_id=build))

        async def versioning_info(handle):
            return (await handle.describe()).raw_description.workflow_execution_info.versioning_info

        async def builds(handle) -> list[str]:
            """The build of each completed workflow task of the handle's run."""
            history = await handle.fetch_history()
            return [e.workflow_task_completed_event_attributes.deployment_version.build_id
                    for e in history.events if e.HasField("workflow_task_completed_event_attributes")]

        async with versioned_worker("v1"), versioned_worker("v2"):
            for build in ("v1", "v2"):
                await wait_until(lambda: registered(build), f"registered {build}")
            await set_current("v1")
            handle = await client.start_workflow("VersionedPinned", 0, id=f"pinned-{uuid.uuid4()}", task_queue=tq)

            async def pinned_to_v1() -> bool:
                info = await versioning_info(handle)
                return info.behavior == ApiVersioningBehavior.VERSIONING_BEHAVIOR_PINNED and \
                    info.deployment_version.build_id == "v1" and info.deployment_version.deployment_name == deployment
            await wait_until(pinned_to_v1, "pinned to v1")

            await set_current("v2")
            await handle.signal("proceed")
            assert await handle.result() == "done"
            first = client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
            assert await builds(first) == ["v1", "v1"]  # The first run, after v2 became current.
            latest = client.get_workflow_handle(handle.id)  # The run it continued as.
            info = await versioning_info(latest)
            assert info.behavior == ApiVersioningBehavior.VERSIONING_BEHAVIOR_PINNED
            assert info.deployment_version.build_id == "v1"
            history = await latest.fetch_history()
            started = history.events[0].workflow_execution_started_event_attributes
            assert started.continued_execution_run_id == handle.result_run_id
            assert started.inherited_pinned_version.build_id == "v1"
            assert await builds(latest) == ["v1"]

            fresh = await client.start_workflow("VersionedPinned", 1, id=f"fresh-{uuid.uuid4()}", task_queue=tq)
            assert await fresh.result() == "done"
            assert await builds(fresh) == ["v2"]

    asyncio.run(scenario())
