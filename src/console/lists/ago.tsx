import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { durationText } from "../model/duration-text.js";

/** A past (or future) instant as "12 s ago" / "in 3 s", with the full time on hover. */
export function Ago(props: { time: Timestamp | undefined; now: number }) {
  if (!props.time) return <span class="muted">—</span>;
  const ms = timestampMs(props.time);
  const delta = props.now - ms;
  return (
    <time dateTime={new Date(ms).toISOString()} title={new Date(ms).toLocaleString()}>
      {delta >= 0 ? `${durationText(delta)} ago` : `in ${durationText(-delta)}`}
    </time>
  );
}
