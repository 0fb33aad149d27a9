import { createSagaClient, type SagaClient } from "../../src/client/index.js";
import { describeOutput, startSagad, type RunningSagad } from "../helpers/replica-process.js";
import { replicaEnv, startReplicas } from "../bench/environment.js";
import type { Cleanup } from "./cleanup.js";

/** One replica's place in the set: the address clients know, and whatever process serves it now. */
interface Slot {
  readonly name: string;
  replicaId: string;
  /** Restarts reuse the port, as a pod behind a fixed address would, so clients keep their URL. */
  port: number;
  process: RunningSagad | null;
  readonly client: SagaClient;
  generation: number;
}

/**
 * Real sagad processes on one database that the harness can SIGKILL and restart. A restart keeps
 * the slot's address; it either keeps the replica id (a StatefulSet pod, or SAGAD_REPLICA_ID set
 * from a stable name) or takes a new one (the default `<host>-<pid>-<hex>` id, i.e. a new
 * process): both happen in production, and they recover differently (with the same id, the
 * restarted process finds leases already in its own name).
 */
export class ReplicaSet {
  /** Processes that were killed or stopped, kept for their logs. */
  private readonly retired: RunningSagad[] = [];
  /** Replicas that exited without the harness killing or stopping them. */
  readonly unexpectedExits: string[] = [];

  private constructor(
    private readonly slots: Slot[],
    private readonly databaseUrl: string,
    private readonly env: Record<string, string>,
    private readonly token: string,
  ) {}

  static async start(
    databaseUrl: string,
    count: number,
    idPrefix: string,
    env: Record<string, string>,
    token: () => Promise<string>,
    cleanup: Cleanup,
  ): Promise<ReplicaSet> {
    // The token first, so the replicas load it as they start instead of racing its NOTIFY.
    const secret = await token();
    const processes = await startReplicas(databaseUrl, count, env, idPrefix);
    const slots = processes.map((p, i) => ({
      name: `${idPrefix}-${i + 1}`,
      replicaId: p.replicaId,
      port: p.port,
      process: p,
      client: clientFor(p.url, secret),
      generation: 1,
    }));
    const set = new ReplicaSet(slots, databaseUrl, env, secret);
    cleanup.add(`replicas ${idPrefix}`, () => set.stopAll());
    for (const slot of slots) set.watchExit(slot);
    return set;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Clients of the replicas that are up. */
  liveClients(): SagaClient[] {
    return this.slots.filter((s) => s.process !== null).map((s) => s.client);
  }

  /** Every slot's client, up or not (a real client does not know which replica is down). */
  allClients(): SagaClient[] {
    return this.slots.map((s) => s.client);
  }

  anyDown(): boolean {
    return this.slots.some((s) => s.process === null);
  }

  /** Base URLs of the replicas that are up. */
  urls(): string[] {
    return this.slots.flatMap((s) => (s.process ? [s.process.url] : []));
  }

  /**
   * Live memory of each replica started with heap-probe.cjs: SIGUSR2 makes it collect garbage and
   * print its heap; resolves with heapUsed + external in MiB (replicas that do not answer within
   * `timeoutMs` are left out).
   */
  async probeHeap(timeoutMs = 5_000): Promise<{ replica: string; liveMiB: number }[]> {
    const up = this.slots.flatMap((s) => (s.process ? [{ replica: s.replicaId, p: s.process }] : []));
    const answers = await Promise.all(
      up.map(async ({ replica, p }) => {
        const sent = Date.now();
        p.signal("SIGUSR2");
        for (const deadline = sent + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
          const lines = p.stderr().split("\n").filter((l) => l.startsWith("sagad-heap-probe "));
          const last = lines.length ? (JSON.parse(lines.at(-1)!.slice("sagad-heap-probe ".length)) as { at: number; heapUsed: number; external: number }) : null;
          if (last && last.at >= sent) return { replica, liveMiB: Math.round(((last.heapUsed + last.external) / 2 ** 20) * 10) / 10 };
        }
        return null;
      }),
    );
    return answers.filter((a) => a !== null);
  }

  /** The slot's address, whether it is up or not (restarts keep it). */
  urlOf(slot: number): string {
    return `http://127.0.0.1:${this.slots[slot]!.port}`;
  }

  pids(): { replica: string; pid: number }[] {
    return this.slots.flatMap((s) => (s.process ? [{ replica: s.replicaId, pid: s.process.pid }] : []));
  }

  replicaId(slot: number): string {
    return this.slots[slot]!.replicaId;
  }

  /** kill -9; resolves once the process is gone. */
  async kill(slot: number): Promise<string> {
    const s = this.slots[slot]!;
    if (!s.process) throw new Error(`${s.name} is already down`);
    const p = s.process;
    s.process = null;
    this.retired.push(p);
    p.signal("SIGKILL");
    await p.waitForExit(10_000);
    return s.replicaId;
  }

  /** Starts the slot again on its port, with the same replica id or a new one. */
  async restart(slot: number, sameId: boolean): Promise<string> {
    const s = this.slots[slot]!;
    if (s.process) throw new Error(`${s.name} is running`);
    s.generation++;
    if (!sameId) s.replicaId = `${s.name}.${s.generation}`;
    s.process = await startSagad({ env: replicaEnv(this.databaseUrl, s.replicaId, { ...this.env, SAGAD_PORT: String(s.port) }) });
    this.watchExit(s);
    return s.replicaId;
  }

  /** A replica that exits while the harness still counts on it is a finding, not a fault it injected. */
  private watchExit(s: Slot): void {
    const p = s.process!;
    void p.exited.then(({ code, signal }) => {
      if (s.process !== p) return; // killed or stopped by us
      s.process = null;
      this.retired.push(p);
      this.unexpectedExits.push(`${s.replicaId} (pid ${p.pid}) exited by itself at ${new Date().toISOString()}: code ${code}, signal ${signal}`);
    });
  }

  /** Output of every live replica, for failure reports. */
  describe(): string {
    return this.slots.map((s) => (s.process ? describeOutput(s.process) : `${s.name}: down`)).join("\n");
  }

  /**
   * Warnings and errors the replicas logged (JSON lines at level >= 40), counted by replica, level
   * and message ("lease lost" on a replica nobody killed means its renewals fell behind).
   */
  loggedProblems(): Record<string, number> {
    const processes = [...this.retired, ...this.slots.flatMap((s) => (s.process ? [s.process] : []))];
    const counts: Record<string, number> = {};
    for (const line of processes.flatMap((p) => p.stderr().split("\n"))) {
      if (!/"level":(4|5|6)\d/.test(line)) continue;
      let key = line.slice(0, 200);
      try {
        const entry = JSON.parse(line) as { level: number; replica?: string; msg?: string; err?: { message?: string } };
        const level = entry.level >= 60 ? "fatal" : entry.level >= 50 ? "error" : "warn";
        key = `${entry.replica ?? "?"} ${level}: ${entry.msg ?? ""}${entry.err?.message ? ` (${entry.err.message.slice(0, 120)})` : ""}`;
      } catch {
        // not JSON: keep the raw line
      }
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      this.slots.map(async (s) => {
        const p = s.process;
        s.process = null;
        if (p) this.retired.push(p);
        await p?.stop(5_000);
      }),
    );
  }

  /** The token every client sends (see createAdminToken). */
  get bearer(): string {
    return this.token;
  }
}

export function clientFor(url: string, token: string): SagaClient {
  return createSagaClient(url, { protocol: "grpc", headers: { authorization: `Bearer ${token}` } });
}
