/** Labels as `key=value` chips, sorted by key so rows read alike; nothing when there are none. */
export function LabelChips(props: { labels: Readonly<Record<string, string>> | undefined }) {
  const entries = Object.entries(props.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return null;
  return (
    <span class="labels">
      {entries.map(([k, v]) => (
        <span key={k} class="label">
          {k}={v}
        </span>
      ))}
    </span>
  );
}
