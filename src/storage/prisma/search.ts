/** Search helpers shared by the Prisma stores. @module */

/**
 * A search term as a literal LIKE pattern: Prisma's `contains` wraps the value in `%…%` but does
 * not escape LIKE's own wildcards, so `%` would match everything and `_` any character.
 * PostgreSQL's default escape character is the backslash.
 */
export function literal (term: string): string {
  return term.replace(/[\\%_]/g, (c) => `\\${c}`)
}
