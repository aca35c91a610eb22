/**
 * A row of a statement that joins several records, whose columns are named by record
 * (`user.id`, `held.stateHash`): split by that prefix, unprefixed columns under `''`.
 *
 * @module
 */
export function splitByPrefix (row: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const parts: Record<string, Record<string, unknown>> = { '': {} }
  for (const [name, value] of Object.entries(row)) {
    const dot = name.indexOf('.')
    if (dot < 0) parts[''][name] = value
    else (parts[name.slice(0, dot)] ??= {})[name.slice(dot + 1)] = value
  }
  return parts
}
