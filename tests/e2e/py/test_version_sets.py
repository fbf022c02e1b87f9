"""The deprecated build-id versioning with compatible version sets, served
when dynamic config frontend.workerVersioningDataAPIs is on (as Temporal
1.32 does): the client's build-id compatibility calls, reachability, and
workers with use_worker_versioning taking the work of their set."""

import asyncio
import uuid

import pytest
from temporalio import workflow
from temporalio.client import (BuildIdOpAddNewCompatible, BuildIdOpAddNewDefault, BuildIdOpMergeSets,
                               BuildIdOpPromoteBuildIdWithinSet, BuildIdOpPromoteSetByBuildId, Client,
                               TaskReachabilityType)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from conftest import Server


@pytest.fixture
def server_with_version_sets(tmp_path):
    srv = Server(tmp_path, ("--dynamic-config-value", "frontend.workerVersioningDataAPIs=true"))
    yield srv
    assert srv.stop() == 0


@workflow.defn(name="VersionSetsWaiter")
class Waiter:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> list[str]:
        first = workflow.info().get_current_build_id()
        await workflow.wait_condition(lambda: self.go)
        return [first, workflow.info().get_current_build_id()]

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


def test_build_id_compatibility_calls(server_with_version_sets):
    async def scenario():
        client = await Client.connect(server_with_version_sets.address)
        tq = f"sets-{uuid.uuid4()}"
        await client.update_worker_build_id_compatibility(tq, BuildIdOpAddNewDefault("1.0"))
        await client.update_worker_build_id_compatibility(tq, BuildIdOpAddNewCompatible("1.1", "1.0"))
        await client.update_worker_build_id_compatibility(tq, BuildIdOpPromoteBuildIdWithinSet("1.0"))
        await client.update_worker_build_id_compatibility(tq, BuildIdOpAddNewDefault("2.0"))
        sets = await client.get_worker_build_id_compatibility(tq)
        assert [s.build_ids for s in sets.version_sets] == [["1.1", "1.0"], ["2.0"]]
        await client.update_worker_build_id_compatibility(tq, BuildIdOpPromoteSetByBuildId("1.1"))
        assert (await client.get_worker_build_id_compatibility(tq)).default_build_id() == "1.0"
        await client.update_worker_build_id_compatibility(tq, BuildIdOpMergeSets(primary_build_id="2.0",
                                                                                  secondary_build_id="1.0"))
        sets = await client.get_worker_build_id_compatibility(tq)
        assert [s.build_ids for s in sets.version_sets] == [["1.1", "1.0", "2.0"]]

        with pytest.raises(RPCError) as err:
            await client.update_worker_build_id_compatibility(tq, BuildIdOpAddNewCompatible("3.1", "3.0"))
        assert err.value.status == RPCStatusCode.NOT_FOUND
        assert err.value.message == "targeted compatible_version 3.0 not found"

        reach = await client.get_worker_task_reachability(build_ids=["2.0", "1.0"])
        assert reach.build_id_reachability["2.0"].task_queue_reachability[tq] == [TaskReachabilityType.NEW_WORKFLOWS]
        assert reach.build_id_reachability["1.0"].task_queue_reachability[tq] == []

    asyncio.run(scenario())


def test_versioned_workers_take_the_work_of_their_set(server_with_version_sets):
    async def scenario():
        client = await Client.connect(server_with_version_sets.address)
        tq = f"sets-{uuid.uuid4()}"

        async def worker(build: str, versioned: bool = True) -> Worker:
            # A client each: the SDK takes one worker per task queue and client.
            own = await Client.connect(server_with_version_sets.address)
            return Worker(own, task_queue=tq, workflows=[Waiter], workflow_runner=UnsandboxedWorkflowRunner(),
                          build_id=build, use_worker_versioning=versioned)

        await client.update_worker_build_id_compatibility(tq, BuildIdOpAddNewDefault("1.0"))
        async with await worker("unversioned", versioned=False), await worker("1.0"):
            old = await client.start_workflow(Waiter.run, id=f"old-{tq}", task_queue=tq)
            await wait_for_first_task(client, old.id)
            # 2.0 is incompatible: new workflows go there, the old one stays on 1.0.
            await client.update_worker_build_id_compatibility(tq, BuildIdOpAddNewDefault("2.0"))
            async with await worker("2.0"):
                new = await client.start_workflow(Waiter.run, id=f"new-{tq}", task_queue=tq)
                await wait_for_first_task(client, new.id)
                await old.signal(Waiter.proceed)
                await new.signal(Waiter.proceed)
                assert await old.result() == ["1.0", "1.0"]
                assert await new.result() == ["2.0", "2.0"]

    asyncio.run(scenario())


async def wait_for_first_task(client: Client, workflow_id: str) -> None:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(200):
        async for event in handle.fetch_history_events():
            if event.HasField("workflow_task_completed_event_attributes"):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id}: no workflow task completed")


def test_version_set_calls_are_refused_without_the_setting(server):
    async def scenario():
        client = await Client.connect(server.address)
        with pytest.raises(RPCError) as err:
            await client.update_worker_build_id_compatibility("q", BuildIdOpAddNewDefault("1.0"))
        assert err.value.status == RPCStatusCode.PERMISSION_DENIED
        assert err.value.message == "Worker versioning v0.1 (Version Set-based, deprecated) is disabled on this namespace."

    asyncio.run(scenario())
