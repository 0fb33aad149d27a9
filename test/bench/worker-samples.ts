/** What the bench's worker processes record and are configured with (types only, shared with the children). */

export interface WorkerProcessConfig {
  url: string;
  token: string;
  instanceId: string;
  slots: number;
  action: string;
  /** The replica's ack timeout: a Task's ack_deadline minus it is when the replica offered it. */
  ackTimeoutMs: number;
}

/** One task as a worker process saw it; times are epoch ms from Date.now() on this machine. */
export interface TaskSample {
  sagaId: string;
  sagaName: string;
  step: string;
  attempt: number;
  delivery: number;
  /** The Task message came off the Subscribe stream (null if the interceptor missed it). */
  arrivedAt: number | null;
  /** The replica's offer: the Task's ack_deadline minus the ack timeout (the replica's clock, ms). */
  offeredAt: number | null;
  /** The handler started: after the SDK acknowledged the task (AckTasks answered). */
  handlerAt: number;
}

export interface HolderConfig {
  url: string;
  token: string;
  /** Sessions this process opens. */
  sessions: number;
  /** HTTP/2 connections they share (one transport each), sessions spread round-robin. */
  connections: number;
  instancePrefix: string;
}

export interface HolderStatus {
  registered: number;
  streamsOpen: number;
  heartbeatsOk: number;
  heartbeatErrors: number;
  streamErrors: number;
  lastError: string | null;
}
