/** Command-line options of `npm run bench`; every scenario's size can be turned down for a quick look. */
export interface BenchOptions {
  /** Sagas per throughput round. */
  sagas: number;
  /** Steps per saga. */
  steps: number;
  /** Sagas in flight. */
  concurrency: number;
  /** Rounds per measurement; the median is reported. */
  rounds: number;
  /** Sagas run one at a time for the C=1 latency. */
  serialSagas: number;
  /** Concurrent WatchSaga streams for delivery latency. */
  watchers: number;
  /** Step periods (ms) of the staggered watch loads, after the lockstep one. */
  watchSteps: number[];
  /** Open-stream counts at which server RSS is read. */
  rssStreams: number[];
  /** Table sizes for the ListSagas measurement. */
  listSizes: number[];
  /** Seconds of pgbench for the baseline. */
  baselineSeconds: number;
  /** Scenarios to run (default all). */
  only: Set<Scenario>;
  /** Write a V8 CPU profile of every sagad replica and the floor server into this directory (node --cpu-prof). */
  profileDir: string | null;
  /** Run sagad (and the floor server) from the sources through tsx instead of compiled JavaScript. */
  fromSource: boolean;
  /** Throughput and C=1 clients watch one message per event instead of with batch_events. */
  oneByOne: boolean;
  /** Worker processes (TS SDK) for the `workers` and `dispatch` scenarios, and slots each. */
  workerProcesses: number;
  workerSlots: number;
  /** Sagas per round of the C=1 `dispatch` scenario (5-step chains, on workers and in process). */
  dispatchSagas: number;
  /** Idle worker sessions held on one replica by `worker-rss`, from this many client processes. */
  workerSessions: number;
  sessionHolders: number;
  /** A checkout of an older commit, built there, for `before-after`; null skips it. */
  beforeDir: string | null;
}

export const SCENARIOS = [
  "baseline", "throughput", "latency", "definition-create", "watch", "watch-floor", "rss", "list",
  "workers", "dispatch", "worker-rss", "before-after", "console",
] as const;
export type Scenario = (typeof SCENARIOS)[number];

const DEFAULTS: Omit<BenchOptions, "only" | "profileDir" | "fromSource" | "oneByOne" | "beforeDir"> = {
  sagas: 2000,
  steps: 5,
  concurrency: 50,
  rounds: 3,
  serialSagas: 200,
  watchers: 1000,
  watchSteps: [1000, 400, 200, 100],
  rssStreams: [1000, 10_000],
  listSizes: [100_000, 1_000_000],
  baselineSeconds: 10,
  workerProcesses: 2,
  workerSlots: 50,
  dispatchSagas: 200,
  workerSessions: 1000,
  sessionHolders: 4,
};

export const USAGE = `Usage: npm run bench -- [options]
  --sagas <n>            sagas per throughput round (${DEFAULTS.sagas})
  --steps <n>            steps per saga (${DEFAULTS.steps})
  --concurrency <n>      sagas in flight (${DEFAULTS.concurrency})
  --rounds <n>           rounds per measurement, median reported (${DEFAULTS.rounds})
  --serial-sagas <n>     sagas for the one-at-a-time latency (${DEFAULTS.serialSagas})
  --watchers <n>         concurrent WatchSaga streams for delivery latency (${DEFAULTS.watchers})
  --watch-steps <a,b>    step periods in ms of the staggered watch loads (${DEFAULTS.watchSteps.join(",")})
  --rss-streams <a,b>    open streams at which server RSS is read (${DEFAULTS.rssStreams.join(",")})
  --list-sizes <a,b>     sagas in the table for ListSagas (${DEFAULTS.listSizes.join(",")})
  --baseline-seconds <n> pgbench duration (${DEFAULTS.baselineSeconds})
  --worker-processes <n> TS SDK worker processes for workers and dispatch (${DEFAULTS.workerProcesses})
  --worker-slots <n>     slots of each worker process (${DEFAULTS.workerSlots})
  --dispatch-sagas <n>   sagas per round of the C=1 dispatch scenario (${DEFAULTS.dispatchSagas})
  --worker-sessions <n>  idle worker sessions held on one replica by worker-rss (${DEFAULTS.workerSessions})
  --session-holders <n>  client processes holding them (${DEFAULTS.sessionHolders})
  --before-dir <dir>     before-after: a checkout of an older commit (e.g. git worktree add /tmp/sagad-before <rev>,
                         with node_modules) to run the in-process throughput against, alternating rounds
  --only <a,b>           scenarios: ${SCENARIOS.join(", ")} (all)
  --profile <dir>        write a CPU profile of each sagad replica and the floor server there (node --cpu-prof)
  --source               run sagad and the floor server from the sources through tsx (default: compiled, dist/)
  --one-by-one           throughput and C=1 clients watch one message per event (default: batch_events)
  --quick                small sizes for a smoke run
Runs against DATABASE_URL (a scratch database is created and dropped) or an embedded PostgreSQL.
JSON result on stdout, a readable table on stderr.`;

export function parseBenchFlags(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { ...DEFAULTS, only: new Set(SCENARIOS), profileDir: null, fromSource: false, oneByOne: false, beforeDir: null };
  let explicitOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--sagas": options.sagas = int(name, value()); break;
      case "--steps": options.steps = int(name, value()); break;
      case "--concurrency": options.concurrency = int(name, value()); break;
      case "--rounds": options.rounds = int(name, value()); break;
      case "--serial-sagas": options.serialSagas = int(name, value()); break;
      case "--watchers": options.watchers = int(name, value()); break;
      case "--watch-steps": options.watchSteps = list(name, value()); break;
      case "--rss-streams": options.rssStreams = list(name, value()); break;
      case "--list-sizes": options.listSizes = list(name, value()); break;
      case "--baseline-seconds": options.baselineSeconds = int(name, value()); break;
      case "--worker-processes": options.workerProcesses = int(name, value()); break;
      case "--worker-slots": options.workerSlots = int(name, value()); break;
      case "--dispatch-sagas": options.dispatchSagas = int(name, value()); break;
      case "--worker-sessions": options.workerSessions = int(name, value()); break;
      case "--session-holders": options.sessionHolders = int(name, value()); break;
      case "--before-dir": options.beforeDir = value(); break;
      case "--only": options.only = scenarios(value()); explicitOnly = true; break;
      case "--profile": options.profileDir = value(); break;
      case "--source": options.fromSource = true; break;
      case "--one-by-one": options.oneByOne = true; break;
      case "--quick":
        Object.assign(options, {
          sagas: 200, rounds: 1, serialSagas: 30, watchers: 100, watchSteps: [400, 100], rssStreams: [100, 1000],
          listSizes: [10_000], baselineSeconds: 3, dispatchSagas: 30, workerSessions: 100,
        });
        break;
      default:
        throw new Error(`unknown option ${name}\n\n${USAGE}`);
    }
  }
  if (options.only.has("before-after") && options.beforeDir === null) {
    if (explicitOnly) throw new Error("--only before-after needs --before-dir <a checkout of the older commit>");
    options.only.delete("before-after");
  }
  return options;
}

function int(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

function list(name: string, raw: string): number[] {
  return raw.split(",").map((part) => int(name, part.trim()));
}

function scenarios(raw: string): Set<Scenario> {
  return pickScenarios(raw, SCENARIOS);
}

/** `--only a,b`: the named scenarios, each one of `known`; the bench and the chaos harness share it. */
export function pickScenarios<T extends string>(raw: string, known: readonly T[]): Set<T> {
  const picked = new Set<T>();
  for (const part of raw.split(",")) {
    const s = known.find((x) => x === part.trim());
    if (!s) throw new Error(`--only: unknown scenario "${part}" (known: ${known.join(", ")})`);
    picked.add(s);
  }
  return picked;
}
