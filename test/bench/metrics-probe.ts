/** Reads one sample from a sagad's Prometheus endpoint: the sum over all label sets of `name`. */
export async function metricValue(baseUrl: string, name: string): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (!res.ok) throw new Error(`GET ${baseUrl}/metrics: ${res.status}`);
  let sum = 0;
  for (const line of (await res.text()).split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})? (\S+)/.exec(line);
    if (match && match[1] === name) sum += Number(match[2]);
  }
  return sum;
}
