import { DomainError, invalidArgument, type FieldViolation } from "../domain/errors.js";
import { ACTION_NAME_PATTERN, LABEL_KEY_PATTERN } from "../domain/names.js";
import type { RegisterWorkerRequest } from "../gen/saga/v1/worker_pb.js";
import type { ServedAction } from "../store/worker-session-store.js";

/** Workers per session and actions per worker, so one registration cannot bloat every poll. */
const MAX_SLOTS = 10_000;
const MAX_ACTIONS = 100;
const MAX_INSTANCE_ID = 128;
const MAX_SDK = 64;
const MAX_LABELS = 32;
const MAX_LABEL_VALUE = 256;

export interface ValidRegistration {
  instanceId: string;
  actions: ServedAction[];
  slots: number;
  labels: Record<string, string>;
  sdk: string;
}

/** RegisterWorker's request, checked field by field; every problem is named at once. */
export function validateRegistration(req: RegisterWorkerRequest): ValidRegistration {
  const violations: FieldViolation[] = [];
  const add = (field: string, description: string) => violations.push({ field, description });
  if (req.instanceId === "") add("instance_id", "required: a name unique to the worker process (e.g. host, pid and a random suffix)");
  else if ([...req.instanceId].length > MAX_INSTANCE_ID) add("instance_id", `at most ${MAX_INSTANCE_ID} characters`);
  if (req.slots < 1 || req.slots > MAX_SLOTS) add("slots", `must be between 1 and ${MAX_SLOTS}; got ${req.slots}`);
  if (req.actions.length === 0) add("actions", "at least one action is required");
  if (req.actions.length > MAX_ACTIONS) add("actions", `at most ${MAX_ACTIONS} actions; got ${req.actions.length}`);
  const seen = new Set<string>();
  req.actions.forEach((a, i) => {
    const at = `actions[${i}]`;
    if (!ACTION_NAME_PATTERN.test(a.name)) add(`${at}.name`, `${JSON.stringify(a.name)} is not an action name: 1 to 128 of [A-Za-z0-9_.:-], starting with a letter or digit`);
    else if (seen.has(a.name)) add(`${at}.name`, `${JSON.stringify(a.name)} is listed twice`);
    seen.add(a.name);
    if (a.maxConcurrency < 0) add(`${at}.max_concurrency`, `must not be negative; got ${a.maxConcurrency}`);
  });
  const labels = Object.entries(req.labels);
  if (labels.length > MAX_LABELS) add("labels", `at most ${MAX_LABELS} labels`);
  for (const [key, value] of labels) {
    if (!LABEL_KEY_PATTERN.test(key)) add(`labels[${JSON.stringify(key)}]`, "label keys are 1 to 63 of [A-Za-z0-9_./-]");
    else if ([...value].length > MAX_LABEL_VALUE) add(`labels[${JSON.stringify(key)}]`, `values are at most ${MAX_LABEL_VALUE} characters`);
  }
  if ([...req.sdk].length > MAX_SDK) add("sdk", `at most ${MAX_SDK} characters`);
  if (violations.length > 0) throw invalidArgument(violations);
  return {
    instanceId: req.instanceId,
    actions: req.actions.map((a) => ({ name: a.name, maxConcurrency: a.maxConcurrency })),
    slots: req.slots,
    labels: { ...req.labels },
    sdk: req.sdk,
  };
}

export function requireSessionId(id: string): string {
  if (id === "") throw invalidArgument([{ field: "session_id", description: "required: the session_id RegisterWorker returned" }]);
  if (id.length > 64) throw invalidArgument([{ field: "session_id", description: "is not a session id" }]);
  return id;
}

/** The session is gone (heartbeats stopped for its TTL, or never was): the worker registers again. */
export function sessionNotFound(id: string): DomainError {
  return new DomainError("NOT_FOUND", `worker session ${JSON.stringify(id)} not found or expired; call RegisterWorker again`, [], { session_id: id });
}
