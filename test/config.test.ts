import path from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_HELP, loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  it("has safe defaults: loopback, embedded database, documented limits", () => {
    const config = loadConfig({}, []);

    expect(config).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      databaseUrl: undefined,
      dataDir: path.resolve(".sagad"),
      leaseTtlMs: 15_000,
      pollIntervalMs: 1_000,
      maxSteps: 1_000,
      maxConfigBytes: 262_144,
      maxRequestBytes: 33_554_432,
      maxConcurrentSteps: 1_000,
      shutdownGraceMs: 10_000,
      logLevel: "info",
      logFormat: "auto",
      metricsPort: undefined,
      breakerFailures: 5,
      breakerOpenMs: 10_000,
      retentionDays: 0,
      workerHeartbeatMs: 5000,
      workerAckTimeoutMs: 10000,
      workerMaxRequeues: 3,
    });
    expect(config.replicaId).toMatch(new RegExp(`-${process.pid}-[0-9a-f]{4}$`));
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("gives every process its own default replica id", () => {
    expect(loadConfig({}, []).replicaId).not.toEqual(loadConfig({}, []).replicaId);
  });

  it("reads environment variables", () => {
    const config = loadConfig(
      {
        SAGAD_PORT: "9090",
        SAGAD_HOST: "0.0.0.0",
        DATABASE_URL: "postgres://u:p@db:5432/sagad",
        SAGAD_DATA_DIR: "/var/lib/sagad",
        SAGAD_REPLICA_ID: "replica-a",
        SAGAD_LEASE_TTL_MS: "3000",
        SAGAD_POLL_INTERVAL_MS: "250",
        SAGAD_MAX_STEPS: "10",
        SAGAD_MAX_CONFIG_BYTES: "1024",
        SAGAD_MAX_REQUEST_BYTES: "4096",
        SAGAD_MAX_CONCURRENT_STEPS: "5",
        SAGAD_SHUTDOWN_GRACE_MS: "0",
        SAGAD_LOG_LEVEL: "debug",
        SAGAD_LOG_FORMAT: "json",
        SAGAD_METRICS_PORT: "9464",
        SAGAD_BREAKER_FAILURES: "0",
        SAGAD_BREAKER_OPEN_MS: "2500",
        SAGAD_ROOT_POSTGRES_DIR: "/srv/sagad-postgres",
        SAGAD_CORS_ORIGINS: "https://app.example.com, http://localhost:5173",
        SAGAD_RETENTION_DAYS: "30",
      },
      [],
    );

    expect(config).toEqual({
      host: "0.0.0.0",
      port: 9090,
      databaseUrl: "postgres://u:p@db:5432/sagad",
      dataDir: "/var/lib/sagad",
      replicaId: "replica-a",
      leaseTtlMs: 3000,
      pollIntervalMs: 250,
      maxSteps: 10,
      maxConfigBytes: 1024,
      maxRequestBytes: 4096,
      maxConcurrentSteps: 5,
      shutdownGraceMs: 0,
      logLevel: "debug",
      logFormat: "json",
      metricsPort: 9464,
      breakerFailures: 0,
      breakerOpenMs: 2500,
      rootPostgresDir: "/srv/sagad-postgres",
      corsOrigins: ["https://app.example.com", "http://localhost:5173"],
      retentionDays: 30,
      workerHeartbeatMs: 5000,
      workerAckTimeoutMs: 10000,
      workerMaxRequeues: 3,
    });
  });

  it("worker timing: defaults, variables, flags, and bounds", () => {
    expect(loadConfig({}, [])).toMatchObject({ workerHeartbeatMs: 5000, workerAckTimeoutMs: 10000, workerMaxRequeues: 3 });
    expect(loadConfig({ SAGAD_WORKER_HEARTBEAT_MS: "1000", SAGAD_WORKER_MAX_REQUEUES: "0" }, ["--worker-ack-timeout-ms", "2000"])).toMatchObject({
      workerHeartbeatMs: 1000,
      workerAckTimeoutMs: 2000,
      workerMaxRequeues: 0,
    });
    expect(() => loadConfig({}, ["--worker-heartbeat-ms", "50"])).toThrow('--worker-heartbeat-ms must be an integer from 100 to 600000, got "50"');
    expect(() => loadConfig({ SAGAD_WORKER_MAX_REQUEUES: "-1" }, [])).toThrow('SAGAD_WORKER_MAX_REQUEUES must be an integer from 0 to 100, got "-1"');
  });

  it("keeps every saga unless told a retention in days, flag beating variable", () => {
    expect(loadConfig({}, []).retentionDays).toBe(0);
    expect(loadConfig({ SAGAD_RETENTION_DAYS: "" }, []).retentionDays).toBe(0);
    expect(loadConfig({ SAGAD_RETENTION_DAYS: "0" }, []).retentionDays).toBe(0);
    expect(loadConfig({ SAGAD_RETENTION_DAYS: "7" }, []).retentionDays).toBe(7);
    expect(loadConfig({ SAGAD_RETENTION_DAYS: "7" }, ["--retention-days", "90"]).retentionDays).toBe(90);
    expect(loadConfig({}, ["--retention-days=1"]).retentionDays).toBe(1);
    expect(CONFIG_HELP).toContain("--retention-days <days>, SAGAD_RETENTION_DAYS (default 0)");
  });

  it.each([
    [{}, ["--retention-days", "-1"], '--retention-days must be an integer from 0 to 36500, got "-1"'],
    [{}, ["--retention-days", "1.5"], '--retention-days must be an integer from 0 to 36500, got "1.5"'],
    [{ SAGAD_RETENTION_DAYS: "a week" }, [], 'SAGAD_RETENTION_DAYS must be an integer from 0 to 36500, got "a week"'],
    [{ SAGAD_RETENTION_DAYS: "100000" }, [], 'SAGAD_RETENTION_DAYS must be an integer from 0 to 36500, got "100000"'],
  ] as const)("rejects the retention %j %j naming the culprit", (env, argv, message) => {
    expect(() => loadConfig(env, argv)).toThrow(message);
  });

  it("defaults to no CORS origins and root's postgres folder in /var/lib/sagad", () => {
    expect(loadConfig({}, [])).toMatchObject({ corsOrigins: [], rootPostgresDir: "/var/lib/sagad" });
    expect(loadConfig({}, ["--cors-origins", "*"]).corsOrigins).toEqual(["*"]);
  });

  it.each([
    ["https://app.example.com/", '"https://app.example.com/" is not an origin'],
    ["app.example.com", '"app.example.com" is not an origin'],
    ["ftp://files.example.com", '"ftp://files.example.com" is not an origin'],
    ["*,https://a.example.com", "* allows every origin and cannot be combined with others"],
  ])("refuses the CORS origin list %j", (value, message) => {
    expect(() => loadConfig({ SAGAD_CORS_ORIGINS: value }, [])).toThrow(`SAGAD_CORS_ORIGINS: ${message}`);
  });

  it("lets a flag beat its environment variable, in both flag spellings", () => {
    const config = loadConfig({ SAGAD_PORT: "9090", SAGAD_DATA_DIR: "/env" }, [
      "--port",
      "7070",
      "--data-dir=/flag",
      "--database-url",
      "postgresql://localhost/x",
    ]);

    expect(config).toMatchObject({ port: 7070, dataDir: "/flag", databaseUrl: "postgresql://localhost/x" });
  });

  it("treats an empty variable as unset", () => {
    expect(loadConfig({ DATABASE_URL: "", SAGAD_PORT: "" }, [])).toMatchObject({ databaseUrl: undefined, port: 8080 });
  });

  it.each([
    [{ SAGAD_PORT: "http" }, [], 'SAGAD_PORT must be an integer from 0 to 65535, got "http"'],
    [{}, ["--port", "70000"], '--port must be an integer from 0 to 65535, got "70000"'],
    [{ SAGAD_LEASE_TTL_MS: "1.5" }, [], 'SAGAD_LEASE_TTL_MS must be an integer at least 300, got "1.5"'],
    [{ SAGAD_MAX_STEPS: "0" }, [], 'SAGAD_MAX_STEPS must be an integer at least 1, got "0"'],
    [{ SAGAD_LOG_LEVEL: "loud" }, [], 'SAGAD_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ DATABASE_URL: "mysql://x" }, [], "DATABASE_URL must be a postgres:// or postgresql:// URL"],
    [{}, ["--host", " "], "--host must not be empty"],
    [{}, ["--port"], "--port needs a value"],
    [{}, ["--prot", "1"], "unknown flag --prot"],
    [{}, ["serve"], 'unexpected argument "serve"'],
  ] as const)("rejects %j %j naming the culprit", (env, argv, message) => {
    expect(() => loadConfig(env, argv)).toThrow(message);
  });

  it("documents every flag and variable with its default", () => {
    expect(CONFIG_HELP).toContain("--port <port>, SAGAD_PORT (default 8080)");
    expect(CONFIG_HELP).toContain("--host <addr>, SAGAD_HOST (default 127.0.0.1)");
    const variables = [
      "DATABASE_URL",
      "SAGAD_DATA_DIR",
      "SAGAD_REPLICA_ID",
      "SAGAD_LEASE_TTL_MS",
      "SAGAD_POLL_INTERVAL_MS",
      "SAGAD_MAX_STEPS",
      "SAGAD_MAX_CONFIG_BYTES",
      "SAGAD_MAX_REQUEST_BYTES",
      "SAGAD_MAX_CONCURRENT_STEPS",
      "SAGAD_SHUTDOWN_GRACE_MS",
      "SAGAD_LOG_LEVEL",
    ];
    for (const variable of variables) expect(CONFIG_HELP).toContain(variable);
  });
});
