/**
 * From an upstream identity to a local one, without I/O: the claim mapping (which upstream claim
 * or userinfo member fills `sub`, `email`, `name`, `username`), and a safe username for a user
 * created just in time.
 *
 * The upstream `sub` is the only key a link is made on (OIDC Core §5.7: "The sub (subject) and
 * iss (issuer) Claims, used together, are the only Claims that an RP can rely upon as a stable
 * identifier for the End-User"); an email is a hint for the user, never a key.
 *
 * @module
 */
import type { ClaimMapping, IdentityProviderKind } from '../../storage/types.js'
import { USERNAME_MAX_LENGTH, usernameProblem } from '../usernames.js'

export const MAPPED_FIELDS = ['sub', 'email', 'email_verified', 'name', 'username'] as const

/** OIDC's own claim names; GitHub's /user members for plain OAuth 2 (`id` is a number there). */
export const DEFAULT_MAPPING: Record<IdentityProviderKind, Required<ClaimMapping>> = {
  oidc: { sub: 'sub', email: 'email', email_verified: 'email_verified', name: 'name', username: 'preferred_username' },
  oauth2: { sub: 'id', email: 'email', email_verified: 'email_verified', name: 'name', username: 'login' },
}

export interface UpstreamIdentity {
  subject: string
  email: string | null
  emailVerified: boolean
  name: string | null
  username: string | null
}

export class ClaimMappingError extends Error {
  override name = 'ClaimMappingError'
}

/** A member by name, or by a dotted path into nested objects (`user.id`). */
function pick (claims: Record<string, unknown>, path: string): unknown {
  let value: unknown = claims
  for (const part of path.split('.')) {
    if (!value || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

function text (value: unknown, max: number): string | null {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
  if (typeof value !== 'string') return null
  const trimmed = value.trim()
  return trimmed && trimmed.length <= max ? trimmed : null
}

/** The local view of upstream `claims` under `mapping` (defaults per kind). */
export function mapClaims (kind: IdentityProviderKind, mapping: ClaimMapping, claims: Record<string, unknown>): UpstreamIdentity {
  const m = { ...DEFAULT_MAPPING[kind], ...mapping }
  const subject = text(pick(claims, m.sub), 255)
  if (!subject) throw new ClaimMappingError(`the upstream identity has no usable "${m.sub}" (the subject)`)
  const email = text(pick(claims, m.email), 320)
  const verified = pick(claims, m.email_verified)
  return {
    subject,
    email: email && /^[^@\s]{1,64}@[^@\s]{1,255}$/.test(email) ? email : null,
    emailVerified: verified === true || verified === 'true',
    name: text(pick(claims, m.name), 256),
    username: text(pick(claims, m.username), USERNAME_MAX_LENGTH),
  }
}

/** Checks an admin-given mapping: known fields, claim paths of letters, digits, `_ - : .`. */
export function mappingProblem (mapping: Record<string, unknown>): string | undefined {
  for (const [key, value] of Object.entries(mapping)) {
    if (!(MAPPED_FIELDS as readonly string[]).includes(key)) return `claim mapping: unknown field "${key}" (one of ${MAPPED_FIELDS.join(', ')})`
    if (typeof value !== 'string' || !/^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*$/.test(value) || value.length > 128) return `claim mapping: "${key}" must name a claim`
  }
  return undefined
}

/** Parses `sub=id,username=login,email=email` (the CLI's `--claim-mapping`) or a JSON object. */
export function parseClaimMapping (value: string): ClaimMapping {
  const trimmed = value.trim()
  let mapping: Record<string, unknown>
  if (trimmed.startsWith('{')) {
    mapping = JSON.parse(trimmed)
  } else {
    mapping = {}
    for (const pair of trimmed.split(',').map((p) => p.trim()).filter(Boolean)) {
      const eq = pair.indexOf('=')
      if (eq < 1) throw new ClaimMappingError(`claim mapping: "${pair}" is not field=claim`)
      mapping[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim()
    }
  }
  const problem = mappingProblem(mapping)
  if (problem) throw new ClaimMappingError(problem)
  return mapping as ClaimMapping
}

/**
 * Candidate usernames for a new user, best first: the upstream username, the email's local part,
 * then `slug-subject`; each reduced to characters every username allows (letters, digits and
 * `. _ -`), so an upstream cannot smuggle look-alike or control characters into a local name.
 */
export function usernameCandidates (identity: UpstreamIdentity, slug: string): string[] {
  const clean = (s: string) => s.normalize('NFKC').toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 64)
  const out: string[] = []
  for (const raw of [identity.username, identity.email?.split('@')[0], `${slug}-${identity.subject}`]) {
    const name = raw ? clean(raw) : ''
    if (name && !usernameProblem(name) && !out.includes(name)) out.push(name)
  }
  return out
}
