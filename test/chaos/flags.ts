import { pickScenarios } from "../bench/flags.js";
/** Command-line options of `npm run chaos`: a size preset, then overrides. */
export interface ChaosOptions {
  size: "small" | "full";
  only: Set<Scenario>;
  /** Seeds the workload mix and the fault schedule (process timing stays the machine's). */
  seed: number;
  /** Lease lifetime given to every replica: how long a killed replica's sagas wait for takeover. */
  leaseTtlMs: number;
  kill: { sagas: number; kills: number };
  pgRestart: { sagas: number; outageMs: number };
  soak: { seconds: number; sagas: number; watchers: number; sampleMs: number };
  workers: WorkerFaults;
}

/** The workers scenario: sagas, and how many of each fault (they alternate, one per period). */
export interface WorkerFaults {
  sagas: number;
  /** Worker processes SIGKILLed mid-task and replaced. */
  workerKills: number;
  /** Replicas SIGKILLed under connected workers (their proxies switched to a live one). */
  replicaKills: number;
  /** Worker network paths silenced without closing the sockets. */
  streamDrops: number;
}

export const SCENARIOS = ["kill", "pg-restart", "bad-input", "soak", "workers"] as const;
export type Scenario = (typeof SCENARIOS)[number];

const PRESETS = {
  full: {
    kill: { sagas: 1000, kills: 5 },
    pgRestart: { sagas: 300, outageMs: 3000 },
    soak: { seconds: 600, sagas: 1000, watchers: 1000, sampleMs: 5000 },
    workers: { sagas: 400, workerKills: 6, replicaKills: 3, streamDrops: 3 },
  },
  small: {
    kill: { sagas: 300, kills: 2 },
    pgRestart: { sagas: 80, outageMs: 3000 },
    soak: { seconds: 60, sagas: 200, watchers: 200, sampleMs: 2000 },
    workers: { sagas: 60, workerKills: 2, replicaKills: 1, streamDrops: 1 },
  },
} as const;

export const USAGE = `Usage: npm run chaos -- [options]
  --size small|full        preset (full): full is the issue's sizes, small fits CI
  --only <a,b>             scenarios: ${SCENARIOS.join(", ")} (all)
  --seed <n>               workload and fault schedule seed (random; printed)
  --lease-ttl-ms <ms>      replicas' lease TTL (15000, sagad's default)
  --sagas <n>              kill: sagas (full ${PRESETS.full.kill.sagas}, small ${PRESETS.small.kill.sagas})
  --kills <n>              kill: kill -9 / restart rounds (full ${PRESETS.full.kill.kills}, small ${PRESETS.small.kill.kills})
  --pg-sagas <n>           pg-restart: sagas (full ${PRESETS.full.pgRestart.sagas}, small ${PRESETS.small.pgRestart.sagas})
  --outage-ms <ms>         pg-restart: how long Postgres stays down (${PRESETS.full.pgRestart.outageMs})
  --soak-seconds <n>       soak: duration (full ${PRESETS.full.soak.seconds}, small ${PRESETS.small.soak.seconds})
  --soak-sagas <n>         soak: sagas kept in flight (full ${PRESETS.full.soak.sagas}, small ${PRESETS.small.soak.sagas})
  --soak-watchers <n>      soak: WatchSaga streams kept open (as many as sagas)
  --sample-ms <ms>         soak: RSS sampling interval (full ${PRESETS.full.soak.sampleMs}, small ${PRESETS.small.soak.sampleMs})
  --worker-sagas <n>       workers: sagas run by worker processes (full ${PRESETS.full.workers.sagas}, small ${PRESETS.small.workers.sagas})
  --worker-kills <n>       workers: worker processes kill -9'd mid-task (full ${PRESETS.full.workers.workerKills}, small ${PRESETS.small.workers.workerKills})
  --worker-replica-kills <n>  workers: replicas kill -9'd under their workers (full ${PRESETS.full.workers.replicaKills}, small ${PRESETS.small.workers.replicaKills})
  --stream-drops <n>       workers: worker connections silenced, sockets left open (full ${PRESETS.full.workers.streamDrops}, small ${PRESETS.small.workers.streamDrops})
Runs against DATABASE_URL (a scratch database per scenario, dropped at the end) or an embedded
PostgreSQL; pg-restart always uses an embedded PostgreSQL it can stop. JSON on stdout, a summary
on stderr; exit code 0 only if every check held.`;

/** Parses argv; throws with a message naming the flag on bad input. */
export function parseChaosFlags(argv: readonly string[]): ChaosOptions {
  const size = sizeOf(argv);
  const preset = PRESETS[size];
  const options: ChaosOptions = {
    size,
    only: new Set(SCENARIOS),
    seed: Math.floor(Math.random() * 2 ** 31),
    leaseTtlMs: 15_000,
    kill: { ...preset.kill },
    pgRestart: { ...preset.pgRestart },
    soak: { ...preset.soak },
    workers: { ...preset.workers },
  };
  let watchersSet = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const [name, inline] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--size": value(); break; // read by sizeOf
      case "--only": options.only = scenarios(value()); break;
      case "--seed": options.seed = int(name, value(), 0); break;
      case "--lease-ttl-ms": options.leaseTtlMs = int(name, value(), 500); break;
      case "--sagas": options.kill.sagas = int(name, value()); break;
      case "--kills": options.kill.kills = int(name, value(), 0); break;
      case "--pg-sagas": options.pgRestart.sagas = int(name, value()); break;
      case "--outage-ms": options.pgRestart.outageMs = int(name, value(), 0); break;
      case "--soak-seconds": options.soak.seconds = int(name, value(), 10); break;
      case "--soak-sagas": options.soak.sagas = int(name, value()); break;
      case "--soak-watchers": options.soak.watchers = int(name, value()); watchersSet = true; break;
      case "--sample-ms": options.soak.sampleMs = int(name, value(), 100); break;
      case "--worker-sagas": options.workers.sagas = int(name, value()); break;
      case "--worker-kills": options.workers.workerKills = int(name, value(), 0); break;
      case "--worker-replica-kills": options.workers.replicaKills = int(name, value(), 0); break;
      case "--stream-drops": options.workers.streamDrops = int(name, value(), 0); break;
      default:
        throw new Error(`unknown option ${name}\n\n${USAGE}`);
    }
  }
  if (!watchersSet) options.soak.watchers = options.soak.sagas;
  if (options.soak.watchers > options.soak.sagas) {
    throw new Error(`--soak-watchers (${options.soak.watchers}) must not exceed --soak-sagas (${options.soak.sagas}): one stream per saga`);
  }
  return options;
}

function sizeOf(argv: readonly string[]): "small" | "full" {
  let size: string = "full";
  argv.forEach((arg, i) => {
    if (arg === "--size") size = argv[i + 1] ?? "";
    else if (arg.startsWith("--size=")) size = arg.slice("--size=".length);
  });
  if (size !== "small" && size !== "full") throw new Error(`--size must be small or full, got "${size}"`);
  return size;
}

function int(name: string, raw: string, min = 1): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

function scenarios(raw: string): Set<Scenario> {
  return pickScenarios(raw, SCENARIOS);
}
