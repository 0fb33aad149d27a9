/**
 * The server's (or the editor's) messages for one form field, right under it. The element carries
 * `data-field-error="<field path>"` as the server names the field, so a test (or a person reading
 * the DOM) finds the message for `output` or `reason` without knowing the layout.
 */
export function FieldErrors(props: { field: string; messages: readonly string[]; id?: string }) {
  if (props.messages.length === 0) return null;
  return (
    <ul class="field-errors" data-field-error={props.field} id={props.id}>
      {props.messages.map((m, i) => (
        <li class="field-error" key={i}>
          {m}
        </li>
      ))}
    </ul>
  );
}
