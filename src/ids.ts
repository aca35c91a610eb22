/**
 * Identifier shapes shared by every layer.
 *
 * @module
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** True for a UUID in its canonical text form (user, provider and link ids; PostgreSQL `uuid`). */
export function isUUID (value: string): boolean {
  return UUID.test(value)
}
