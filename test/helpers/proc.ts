// Linux /proc readings for the tests that check processes' and threads' scheduling.
import { readFileSync } from 'node:fs';

/** SCHED_IDLE's number in /proc (sched.h). */
export const SCHED_IDLE = 5;

/**
 * Niceness and scheduling policy from a /proc stat file (`/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat`:
 * fields 19 and 41, counted after the command name, which may hold spaces); null when it is gone.
 */
export function schedOf(statFile: string): { nice: number; policy: number } | null {
  let stat: string;
  try {
    stat = readFileSync(statFile, 'utf8');
  } catch {
    return null; // the process or thread ended meanwhile
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { nice: Number(fields[16]), policy: Number(fields[38]) };
}
