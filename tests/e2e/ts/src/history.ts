import { temporal } from '@temporalio/proto';

type IHistory = temporal.api.history.v1.IHistory;
type IHistoryEvent = temporal.api.history.v1.IHistoryEvent;

const EventType = temporal.api.enums.v1.EventType;

/** 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED' -> 'WorkflowTaskScheduled' */
function screamingToPascal(name: string): string {
  return name
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .split('_')
    .map((w) => (w.length > 0 ? w[0].toUpperCase() + w.slice(1) : w))
    .join('');
}

/** Human-readable event type name, e.g. 'WorkflowExecutionStarted'. */
export function eventTypeName(event: IHistoryEvent): string {
  const t = event.eventType as unknown;
  if (typeof t === 'string') {
    return screamingToPascal(t);
  }
  if (typeof t === 'number') {
    const name = (EventType as unknown as Record<number, string | undefined>)[t];
    return name !== undefined ? screamingToPascal(name) : `Unknown(${t})`;
  }
  return `Unknown(${String(t)})`;
}

export function eventTypeNames(history: IHistory): string[] {
  return (history.events ?? []).map(eventTypeName);
}

/** eventId as a JS number (protobufjs gives Long objects for int64). */
export function eventIdNumber(event: IHistoryEvent): number {
  const id = event.eventId as unknown;
  if (id === null || id === undefined) {
    return NaN;
  }
  return Number(typeof id === 'object' ? (id as { toString(): string }).toString() : id);
}

export function eventIds(history: IHistory): number[] {
  return (history.events ?? []).map(eventIdNumber);
}
