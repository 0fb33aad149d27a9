import { pino, type Level, type Logger } from "pino";

/** A parsed pino JSON line. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

/** A real pino logger whose lines land, parsed, in `lines` (synchronously, in order). */
export function captureLogs(level: Level = "debug"): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}
