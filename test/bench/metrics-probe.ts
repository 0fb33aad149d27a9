/**
 * Reads one metric from a sagad's Prometheus endpoint: the sum over the label sets of `name` that
 * carry every label in `labels`.
 */
export async function metricValue(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (!res.ok) throw new Error(`GET ${baseUrl}/metrics: ${res.status}`);
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of (await res.text()).split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (match && match[1] === name && wanted.every((w) => (match[2] ?? "").includes(w))) sum += Number(match[3]);
  }
  return sum;
}

/** Open WatchSaga streams on a replica. */
export function watchStreamsOpen(baseUrl: string): Promise<number> {
  return metricValue(baseUrl, "sagad_streams_open", { method: "WatchSaga" });
}
