/**
 * Spelling of google.rpc.BadRequest field paths (AIP-193): `steps[12].depends_on[0]`,
 * `vars["bad key"]`, `steps[3].config.items[0].id`. One place, so every violation is spelled alike.
 */

/** The field path of a map entry, AIP-193 style: `vars["region"]`. Quoting keeps odd keys unambiguous. */
export function mapEntryPath(field: string, key: string): string {
  return `${field}[${JSON.stringify(key)}]`;
}

/** The field path of an object member: `.url` for identifier-like keys, `["a b"]` otherwise. */
export function memberPath(parent: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${parent}.${key}` : mapEntryPath(parent, key);
}


/** The field path of a list element: `steps[12]`. Decimal at any index (the Go seed broke at 10). */
export function indexPath(field: string, index: number): string {
  return `${field}[${index}]`;
}
