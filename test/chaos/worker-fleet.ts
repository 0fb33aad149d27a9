import { execFile, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "../helpers/replica-process.js";
import type { Cleanup } from "./cleanup.js";
import { readJournals, type JournalEntry } from "./worker-journal.js";

const run = promisify(execFile);
const SCRIPT = "test/chaos/worker-process.ts";

/** Creates a token with the `workers` scope with the real CLI, as an operator would. */
export async function createWorkerToken(databaseUrl: string, name: string): Promise<string> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "src/main.ts", "token", "create", "--scope", "workers", "--name", name], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl },
  });
  return stdout.trim();
}

/** One worker process of the fleet; `instanceId` survives restarts that keep it. */
export interface WorkerSlot {
  readonly name: string;
  instanceId: string;
  /** The URL it is given: a proxy the harness controls. */
  readonly url: string;
  generation: number;
  child: ChildProcess | null;
  stderr: string;
}

/**
 * Worker processes (worker-process.ts) that the harness can SIGKILL and replace. Each process
 * writes its own journal file; the fleet reads them all back. A replacement either keeps the
 * instance id (a pod with a stable name: registering again resumes the session while it is
 * alive) or takes a new one (a new pod: the old session must expire first).
 */
export class WorkerFleet {
  private readonly slots: WorkerSlot[] = [];
  private readonly journals: string[] = [];
  /** Processes that exited without the harness killing them. */
  readonly unexpectedExits: string[] = [];

  constructor(
    private readonly dir: string,
    private readonly token: string,
    private readonly env: Record<string, string>,
    cleanup: Cleanup,
  ) {
    cleanup.add("chaos workers", () => this.stopAll());
  }

  get all(): readonly WorkerSlot[] {
    return this.slots;
  }

  /** Adds a worker behind `url` and waits until it has registered. */
  async add(name: string, url: string): Promise<WorkerSlot> {
    const slot: WorkerSlot = { name, instanceId: `${name}.1`, url, generation: 1, child: null, stderr: "" };
    this.slots.push(slot);
    await this.launch(slot);
    return slot;
  }

  /** kill -9; resolves once the process is gone. */
  async kill(slot: WorkerSlot): Promise<number> {
    const child = slot.child;
    if (!child) throw new Error(`${slot.name} is already down`);
    slot.child = null;
    const pid = child.pid!;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await gone;
    return pid;
  }

  /** Starts the slot again, keeping its instance id or taking a new one; waits until registered. */
  async restart(slot: WorkerSlot, sameId: boolean): Promise<string> {
    if (slot.child) throw new Error(`${slot.name} is running`);
    slot.generation++;
    if (!sameId) slot.instanceId = `${slot.name}.${slot.generation}`;
    await this.launch(slot);
    return slot.instanceId;
  }

  entries(): JournalEntry[] {
    return readJournals(this.journals);
  }

  /** Handlers started and not ended in `slot`'s current process, by its journal. */
  running(slot: WorkerSlot): number {
    const pid = slot.child?.pid;
    if (pid === undefined) return 0;
    let open = 0;
    for (const e of this.entries()) {
      if (e.pid !== pid) continue;
      if (e.ev === "start") open++;
      else if (e.ev === "end") open--;
    }
    return open;
  }

  /** Warnings the workers printed, counted by message (their own stderr). */
  loggedProblems(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const slot of this.slots) {
      for (const line of slot.stderr.split("\n")) {
        const m = /^\S+ (warn|error) (.*?) \{/.exec(line);
        if (!m) continue;
        const key = `${slot.name} ${m[1]}: ${m[2]}`;
        counts[key] = (counts[key] ?? 0) + 1;
      }
    }
    return counts;
  }

  /** The last `chars` of each worker slot's stderr (every process it ran), for failure reports. */
  stderrTails(chars: number): Record<string, string> {
    return Object.fromEntries(this.slots.map((s) => [s.name, s.stderr.slice(-chars)]));
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        const child = slot.child;
        slot.child = null;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const gone = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await gone;
        clearTimeout(timer);
      }),
    );
  }

  private async launch(slot: WorkerSlot): Promise<void> {
    const journal = path.join(this.dir, `${slot.name}.${slot.generation}.jsonl`);
    this.journals.push(journal);
    const child = spawn(process.execPath, ["--import", "tsx", SCRIPT], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        ...this.env,
        CHAOS_WORKER_URL: slot.url,
        CHAOS_WORKER_TOKEN: this.token,
        CHAOS_WORKER_INSTANCE: slot.instanceId,
        CHAOS_WORKER_JOURNAL: journal,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    slot.child = child;
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (slot.stderr = (slot.stderr + chunk).slice(-256 * 1024)));
    void new Promise((resolve) => child.once("exit", resolve)).then(() => {
      if (slot.child !== child) return; // killed or stopped by us
      slot.child = null;
      this.unexpectedExits.push(`${slot.instanceId} (pid ${child.pid}) exited by itself: code ${child.exitCode}, signal ${child.signalCode}`);
    });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`worker ${slot.instanceId} did not register within 30 s\n${slot.stderr.slice(-4_000)}`)), 30_000);
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
        if (out.includes(`ready ${slot.instanceId}`)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`worker ${slot.instanceId} exited before it registered (code ${code}, signal ${signal})\n${slot.stderr.slice(-4_000)}`));
      });
    });
  }
}
