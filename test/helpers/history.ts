// Reading a workflow's history in tests.
import type { WorkflowHandle } from '@temporalio/client';

/** The activity type of every local activity a workflow run recorded (each is a marker in its history). */
export async function localActivityTypes(handle: WorkflowHandle): Promise<string[]> {
  const { events } = await handle.fetchHistory();
  return (events ?? []).flatMap((e) => {
    const data = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
    return data ? [(JSON.parse(Buffer.from(data).toString()) as { activity_type: string }).activity_type] : [];
  });
}
