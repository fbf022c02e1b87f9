"""A schedule's start-workflow action keeps the search attributes it was
given, and describe returns them typed even when they were given untyped
(as the SDK's schedule search-attribute test expects of Temporal since 1.24)."""

import asyncio
import uuid

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, Schedule, ScheduleActionStartWorkflow, ScheduleSpec
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes


def test_schedule_action_search_attributes_are_typed(server):
    asyncio.run(schedule_action_search_attributes_are_typed(server))


async def schedule_action_search_attributes_are_typed(server):
    client = await Client.connect(server.address)
    text_key = SearchAttributeKey.for_text("ScheduleText")
    keyword_key = SearchAttributeKey.for_keyword("ScheduleKeyword")
    await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace="default", search_attributes={
            text_key.name: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
            keyword_key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}))
    action = ScheduleActionStartWorkflow(
        "SomeWorkflow", [], id=f"wf-{uuid.uuid4()}", task_queue=f"tq-{uuid.uuid4()}",
        typed_search_attributes=TypedSearchAttributes([SearchAttributePair(text_key, "typed value")]))
    # Given without a type, as older SDKs send them.
    action.untyped_search_attributes = {keyword_key.name: ["untyped value"]}
    handle = await client.create_schedule(f"schedule-{uuid.uuid4()}", Schedule(action=action, spec=ScheduleSpec()))
    described = (await handle.describe()).schedule.action
    assert isinstance(described, ScheduleActionStartWorkflow)
    typed = described.typed_search_attributes
    assert len(typed) == 2
    assert typed[text_key] == "typed value"
    assert typed[keyword_key] == "untyped value"
    await handle.delete()
