import { readFileSync } from "node:fs";
import type { Phase } from "./target.js";

/** The actions every chaos worker serves: step actions and compensations share the handler. */
export const WORKER_ACTIONS = ["chaos.work", "chaos.undo"] as const;

/**
 * How a worker step answers, by attempt, as the http target's behaviours do: `ok` succeeds,
 * `flaky` fails retryably (kind FLAKY) on attempt 1 and succeeds after, `fail` fails for good
 * (kind PLANNED).
 */
export type StepBehaviour = "ok" | "flaky" | "fail";
export type ReportMethod = "complete" | "fail" | "cancelled";

/** One line of a worker's journal (see worker-process.ts). */
export type JournalEntry = {
  at: number;
  pid: number;
  instance: string;
} & (
  | { ev: "registered" }
  | { ev: "start"; saga: string; step: string; phase: Phase; attempt: number; delivery: number; key: string; behaviour: StepBehaviour }
  | { ev: "end"; saga: string; step: string; phase: Phase; attempt: number; delivery: number; outcome: "ok" | "retryable" | "failed" | "aborted"; nonce?: string; message?: string }
  | { ev: "sent"; saga: string; stepIdx: number; phase: Phase; attempt: number; delivery: number; method: ReportMethod }
  | {
      ev: "answered";
      saga: string;
      stepIdx: number;
      phase: Phase;
      attempt: number;
      delivery: number;
      method: ReportMethod;
      /** "OK", or the Connect code number of the error. */
      code: "OK" | number;
      alreadyRecorded?: boolean;
      message?: string;
    }
);

export type Entry<E extends JournalEntry["ev"]> = Extract<JournalEntry, { ev: E }>;

/** What a worker writes; the journal adds the time, its pid and instance id. */
export type JournalLine = { [E in JournalEntry["ev"]]: Omit<Entry<E>, "at" | "pid" | "instance"> }[JournalEntry["ev"]];

/** Every journal line of every file, in file order; a line cut short by a SIGKILL is skipped. */
export function readJournals(paths: readonly string[]): JournalEntry[] {
  const entries: JournalEntry[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      continue; // the process died before its first line
    }
    for (const line of text.split("\n")) {
      if (line === "") continue;
      try {
        entries.push(JSON.parse(line) as JournalEntry);
      } catch {
        // a torn last line
      }
    }
  }
  return entries;
}

/** The entries of one saga, by kind. */
export interface SagaJournal {
  starts: Entry<"start">[];
  ends: Entry<"end">[];
  sent: Entry<"sent">[];
  answered: Entry<"answered">[];
}

export function bySaga(entries: readonly JournalEntry[]): Map<string, SagaJournal> {
  const out = new Map<string, SagaJournal>();
  const of = (saga: string) => {
    let j = out.get(saga);
    if (!j) out.set(saga, (j = { starts: [], ends: [], sent: [], answered: [] }));
    return j;
  };
  for (const e of entries) {
    switch (e.ev) {
      case "start": of(e.saga).starts.push(e); break;
      case "end": of(e.saga).ends.push(e); break;
      case "sent": of(e.saga).sent.push(e); break;
      case "answered": of(e.saga).answered.push(e); break;
      case "registered": break;
    }
  }
  return out;
}
