import { destination, pino, type DestinationStream, type Logger } from "pino";
import PinoPretty from "pino-pretty";
import type { LogFormat, LogLevel } from "./config.js";

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  replicaId: string;
  /** Whether stderr is a terminal; decides what `auto` means. */
  isTty: boolean;
  /** Where lines go; default stderr (fd 2). Tests pass a stream to read them back. */
  destination?: DestinationStream;
}

/** What `auto` resolves to: pretty for a person at a terminal, JSON for everything that parses logs. */
export function resolveLogFormat(format: LogFormat, isTty: boolean): "json" | "pretty" {
  return format === "auto" ? (isTty ? "pretty" : "json") : format;
}

/**
 * The process logger: JSON lines (pino) unless a person is watching. Pretty output is formatted
 * in this thread, synchronously, not in pino's transport worker: a worker thread would be one more
 * thing to start, stop and lose lines with at exit, for output nobody parses. Every line carries
 * the replica id, so lines from several replicas can be told apart once collected.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = { level: options.level, base: { replica: options.replicaId } };
  if (resolveLogFormat(options.format, options.isTty) === "pretty") {
    return pino(
      base,
      PinoPretty({
        destination: options.destination ?? 2,
        sync: true,
        colorize: options.isTty && options.destination === undefined,
        // One terminal shows one process: the replica name would repeat on every line.
        ignore: "pid,hostname,replica",
        translateTime: "SYS:HH:MM:ss.l",
      }),
    );
  }
  return pino(base, options.destination ?? destination({ dest: 2, sync: false }));
}
