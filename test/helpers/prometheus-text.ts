/** One sample line: `name{label="value",...} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family as the exposition format declares it, with its samples (histograms: _bucket, _sum, _count). */
export interface Family {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Parses Prometheus text format 0.0.4 strictly enough for tests: every sample must belong to a
 * family declared by # HELP and # TYPE before it, and every line must parse, so a malformed
 * exposition fails the test instead of being skipped.
 */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, help: "", type: "", samples: [] }));
    return f;
  };
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2]!);
      if (meta[1] === "HELP") f.help = meta[3]!;
      else f.type = meta[3]!;
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const [, name, rawLabels, rawValue] = m;
    const owner = [...families.values()].find(
      (f) => f.name === name || (["histogram", "summary"].includes(f.type) && /_(bucket|sum|count)$/.test(name!) && name!.replace(/_(bucket|sum|count)$/, "") === f.name),
    );
    if (!owner || owner.type === "") throw new Error(`sample ${name} before its # TYPE line`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (rawLabels ?? "").matchAll(LABEL)) labels[key!] = value!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    // Prometheus parses values with Go's ParseFloat: NaN and Inf in any case (prom-client writes "Nan").
    const special: Record<string, number> = { nan: NaN, "+inf": Infinity, inf: Infinity, "-inf": -Infinity };
    const value = special[rawValue!.toLowerCase()] ?? Number(rawValue);
    if (Number.isNaN(value) && rawValue!.toLowerCase() !== "nan") throw new Error(`bad value in metrics line: ${line}`);
    owner.samples.push({ name: name!, labels, value });
  }
  return families;
}

/**
 * The value of the one sample of `family` (or of `sampleName`, e.g. a histogram's `_count`) whose
 * labels include `labels`; undefined if none matches, and an error if several do.
 */
export function sampleValue(
  families: Map<string, Family>,
  family: string,
  labels: Record<string, string> = {},
  sampleName = family,
): number | undefined {
  const f = families.get(family);
  if (!f) throw new Error(`no metric family ${family}`);
  const matches = f.samples.filter((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${sampleName} match ${JSON.stringify(labels)}`);
  return matches[0]?.value;
}
