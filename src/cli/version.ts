/**
 * Stamp's version: package.json's, a semantic version (MAJOR.MINOR.PATCH); CHANGELOG.md says what
 * each release changed and what an upgrade needs.
 *
 * @module
 */
import { readFileSync } from 'node:fs'

export function stampVersion (): string {
  // dist/cli/ and src/cli/ are both two levels below package.json.
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}
