import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { durationText } from "../model/duration-text.js";

/**
 * An instant as "12 s ago" or "in 3 s", measured against `now` (the time the data on screen was
 * read, so a list refreshed every two seconds keeps its ages honest without a timer per cell),
 * with the full local time on hover and in the `datetime` attribute.
 */
export function RelativeTime(props: { time: Timestamp | undefined; now: number; empty?: string }) {
  if (!props.time) return <span class="muted">{props.empty ?? "—"}</span>;
  const ms = timestampMs(props.time);
  return (
    <time dateTime={new Date(ms).toISOString()} title={new Date(ms).toLocaleString()}>
      {relativeText(ms, props.now)}
    </time>
  );
}

/** "just now" under a second either way, else "… ago" or "in …". */
export function relativeText(ms: number, now: number): string {
  const delta = now - ms;
  if (Math.abs(delta) < 1000) return "just now";
  return delta > 0 ? `${durationText(delta)} ago` : `in ${durationText(-delta)}`;
}
