/**
 * CLI output: `--json` prints exactly one JSON object on stdout; otherwise aligned text.
 * Errors go to stderr with a non-zero exit.
 *
 * @module
 */

/** Wrong arguments: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** The command was understood but cannot be done (e.g. the user exists): exit code 1. */
export class CommandError extends Error {
  override name = 'CommandError'
}

export function print (json: boolean, value: object, text: string): void {
  process.stdout.write(json ? JSON.stringify(value) + '\n' : text + '\n')
}

export function table (rows: Record<string, unknown>[], columns: string[]): string {
  const cells = rows.map((row) => columns.map((c) => formatCell(row[c])))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)))
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()
  return [line(columns), ...cells.map(line)].join('\n')
}

function formatCell (value: unknown): string {
  if (value === null || value === undefined) return '-'
  if (value instanceof Date) return value.toISOString()
  return String(value)
}

/** Reads all of stdin (for --password-stdin), without the trailing newline. */
export async function readStdin (): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
}
