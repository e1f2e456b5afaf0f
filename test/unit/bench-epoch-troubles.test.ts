// `spirt bench epoch`'s workflow_task_troubles, from a hand-made history that went through the wire format
// (timestamps as Long, enums as numbers), as the client's fetchHistory returns it.
import { temporal } from '@temporalio/proto';
import { workflowTaskTroubles } from '../../bench/epoch';

const { History } = temporal.api.history.v1;
const T = temporal.api.enums.v1;

const at = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

function history(events: object[]) {
  return History.decode(History.encode(History.fromObject({ events })).finish()).events;
}

test('a timed-out and a failed workflow task, with their queue, times, worker and the event before', () => {
  const events = history([
    { eventId: 1, eventTime: at(1_000), eventType: T.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED },
    {
      eventId: 2,
      eventTime: at(1_010),
      eventType: T.EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      workflowTaskScheduledEventAttributes: { taskQueue: { name: 'sticky-queue-of-p1' } },
    },
    {
      eventId: 3,
      eventTime: at(1_035),
      eventType: T.EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      workflowTaskStartedEventAttributes: { identity: 'worker-p1' },
    },
    {
      eventId: 4,
      eventTime: at(11_035),
      eventType: T.EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
      workflowTaskTimedOutEventAttributes: {
        scheduledEventId: 2,
        startedEventId: 3,
        timeoutType: T.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
      },
    },
    {
      eventId: 5,
      eventTime: at(11_040),
      eventType: T.EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      workflowTaskScheduledEventAttributes: { taskQueue: { name: 'spirt-p1' } },
    },
    {
      eventId: 6,
      eventTime: at(11_050),
      eventType: T.EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
      workflowTaskFailedEventAttributes: {
        scheduledEventId: 5,
        cause: T.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR,
        failure: { message: 'nondeterminism' },
      },
    },
  ]);
  expect(workflowTaskTroubles('wf', 'run-1', events)).toEqual([
    {
      workflow: 'wf',
      run: 'run-1',
      kind: 'timed_out',
      detail: 'TIMEOUT_TYPE_START_TO_CLOSE',
      at: new Date(11_035).toISOString(),
      scheduled_to_start_ms: 25,
      scheduled_to_end_ms: 10_025,
      task_queue: 'sticky-queue-of-p1',
      started_by: 'worker-p1',
      after: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
    },
    {
      workflow: 'wf',
      run: 'run-1',
      kind: 'failed',
      detail: 'WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR: nondeterminism',
      at: new Date(11_050).toISOString(),
      scheduled_to_start_ms: null,
      scheduled_to_end_ms: 10,
      task_queue: 'spirt-p1',
      started_by: null,
      after: 'EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT',
    },
  ]);
});

test('a history without trouble has none', () => {
  const events = history([
    { eventId: 1, eventTime: at(0), eventType: T.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED },
  ]);
  expect(workflowTaskTroubles('wf', 'r', events)).toEqual([]);
});
