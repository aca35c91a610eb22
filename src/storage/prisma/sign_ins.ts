/**
 * A completed sign-in's writes in one transaction on the pg pool under Prisma: the factor it
 * consumes (a TOTP step, a recovery code), the parked request (taken, or marked authenticated),
 * the session, the browser's new binding, the code, and the audit events that record it.
 *
 * One commit instead of one per write: on PostgreSQL every synchronous commit waits for a WAL
 * flush, and a sign-in made six of them (seven with a second factor: 1.7–2 ms each measured on
 * the shared bench machine). It is also what makes the steps atomic. A TOTP step or recovery code
 * is consumed only together with the session it opens, so a sign-in that fails after the check
 * (its parked request completed meanwhile by a second submission) leaves no session and does not
 * burn the code; and the conditional UPDATE that consumes it holds the factor's row lock until
 * the commit, so a concurrent submission of the same code waits, then finds the step used
 * (READ COMMITTED re-evaluates its WHERE on the committed row) and rolls back: exactly one wins,
 * across instances too. The audit events commit with the sign-in they record, never without it.
 *
 * Named statements (prepared once per connection), like the other sign-in statements on the pool.
 *
 * @module
 */
import type pg from 'pg'
import type { SessionRecord, SignInCompletion, SignInOutcome, SignInStore } from '../types.js'
import { APPEND_EVENTS, eventRows } from './audit.js'

const SESSION_COLUMNS = `id, token_hash AS "tokenHash", user_id AS "userId", auth_time AS "authTime", amr, acr, client_ids AS "clientIds",
  created_at AS "createdAt", expires_at AS "expiresAt", ended_at AS "endedAt"`

/**
 * A TOTP step, then the request's completion, in one statement (one round trip less than two).
 * RFC 6238 §5.2: only a step later than any accepted before. The request's statement reads the
 * step's result, so it takes (or marks) the request only when the step was used, and the answer
 * keeps "refused" and "gone" apart. The step's UPDATE holds the factor's row lock to the commit: a
 * concurrent use of the same step waits, then finds it used (READ COMMITTED re-checks the WHERE on
 * the committed row) and touches nothing.
 */
const STEP_THEN = (request: string) => `WITH step AS (
    UPDATE totp_factors SET last_used_step = $2
    WHERE user_id = $1::uuid AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $2::bigint)
    RETURNING 1),
  request AS (${request} AND EXISTS (SELECT 1 FROM step) RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM step) AS step, EXISTS (SELECT 1 FROM request) AS request`
const USE_TOTP_STEP_TAKE_REQUEST = { name: 'sign_in_totp_step_take_request', text: STEP_THEN('DELETE FROM authorization_requests WHERE id = $3') }
const USE_TOTP_STEP_MARK_REQUEST = { name: 'sign_in_totp_step_mark_request', text: STEP_THEN('UPDATE authorization_requests SET session_id = $4 WHERE id = $3') }
const USE_RECOVERY_CODE = {
  name: 'sign_in_recovery_code',
  text: 'UPDATE recovery_codes SET used_at = $3 WHERE code_hash = $2 AND user_id = $1::uuid AND used_at IS NULL',
}
const RECOVERY_CODES_LEFT = {
  name: 'sign_in_recovery_codes_left',
  text: 'SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1::uuid AND used_at IS NULL',
}
const TAKE_REQUEST = { name: 'sign_in_take_request', text: 'DELETE FROM authorization_requests WHERE id = $1' }
const MARK_REQUEST = { name: 'sign_in_mark_request', text: 'UPDATE authorization_requests SET session_id = $2 WHERE id = $1' }
const REBIND = { name: 'sign_in_rebind', text: 'UPDATE authorization_requests SET browser_hash = $2 WHERE browser_hash = $1' }
/** The audit events (a JSON array, in order) go in with the session's statement: one round trip for both. */
/** A code's client joins the participants at creation (back-channel logout), not by a second UPDATE. */
const CREATE_SESSION = {
  name: 'sign_in_create_session',
  text: `WITH ${APPEND_EVENTS('$9')}
    INSERT INTO sessions (id, token_hash, user_id, auth_time, amr, acr, client_ids, expires_at)
    VALUES ($1, $2, $3::uuid, $4, $5::text[], $6, $7::text[], $8) RETURNING ${SESSION_COLUMNS}`,
}
const REAUTHENTICATE = {
  name: 'sign_in_reauthenticate',
  text: `WITH ${APPEND_EVENTS('$7')}
    UPDATE sessions SET token_hash = $2, auth_time = $3, amr = $4::text[], acr = $5,
    client_ids = CASE WHEN $6::text IS NULL OR $6::text = ANY (client_ids) THEN client_ids ELSE array_append(client_ids, $6::text) END
    WHERE id = $1 RETURNING ${SESSION_COLUMNS}`,
}
const CREATE_CODE = {
  name: 'sign_in_create_code',
  text: `INSERT INTO authorization_codes (code_hash, client_id, user_id, session_id, redirect_uri, redirect_uri_sent, scope, nonce,
    code_challenge, code_challenge_method, dpop_jkt, auth_time, amr, acr, family_id, expires_at)
    VALUES ($1, $2, $3::uuid, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text[], $14, $15, $16)`,
}

/** Thrown inside the transaction to roll it back with a reason. */
class Refused extends Error {
  readonly reason: 'factor_refused' | 'request_gone'
  constructor (reason: 'factor_refused' | 'request_gone') {
    super(reason)
    this.reason = reason
  }
}

export function prismaSignInStore (pool: pg.Pool): SignInStore {
  return {
    async complete (c: SignInCompletion): Promise<SignInOutcome> {
      const client = await pool.connect()
      let broken: unknown
      try {
        await client.query('BEGIN')
        const found: { recoveryCodesLeft?: number } = {}
        const f = c.factor
        const sessionId = 'create' in c.session ? c.session.create.id : c.session.reauthenticate.id
        if (f?.kind === 'totp') {
          // The factor, then the single-completion gate, in one statement.
          const [q, values] = c.request.then === 'taken'
            ? [USE_TOTP_STEP_TAKE_REQUEST, [f.userId, f.step, c.request.id]]
            : [USE_TOTP_STEP_MARK_REQUEST, [f.userId, f.step, c.request.id, sessionId]]
          const used = (await client.query<{ step: boolean, request: boolean }>({ ...q, values })).rows[0]
          if (!used.step) throw new Refused('factor_refused')
          if (!used.request && c.request.then === 'taken') throw new Refused('request_gone')
        } else {
          if (f?.kind === 'recovery') {
            if ((await client.query({ ...USE_RECOVERY_CODE, values: [f.userId, f.codeHash, f.now] })).rowCount !== 1) throw new Refused('factor_refused')
            found.recoveryCodesLeft = (await client.query<{ n: number }>({ ...RECOVERY_CODES_LEFT, values: [f.userId] })).rows[0].n
          }
          // The single-completion gate first: a second submission stops here, before writing anything.
          if (c.request.then === 'taken') {
            if ((await client.query({ ...TAKE_REQUEST, values: [c.request.id] })).rowCount !== 1) throw new Refused('request_gone')
          } else {
            await client.query({ ...MARK_REQUEST, values: [c.request.id, sessionId] })
          }
        }
        const code = c.request.then === 'taken' ? c.request.code : undefined
        const events = c.events(found)
        const rows = eventRows(events)
        let session: SessionRecord | undefined
        if ('create' in c.session) {
          const s = c.session.create
          session = (await client.query<SessionRecord>({ ...CREATE_SESSION, values: [s.id, s.tokenHash, s.userId, s.authTime, s.amr, s.acr, code ? [code.clientId] : [], s.expiresAt, rows] })).rows[0]
        } else {
          const s = c.session.reauthenticate
          session = (await client.query<SessionRecord>({ ...REAUTHENTICATE, values: [s.id, s.tokenHash, s.authTime, s.amr, s.acr, code?.clientId ?? null, rows] })).rows[0]
          // Ended or purged since it was read: the sign-in starts over rather than reviving it.
          if (!session) throw new Refused('request_gone')
        }
        await client.query({ ...REBIND, values: [c.rebind.browserHash, c.rebind.newBrowserHash] })
        if (code) {
          await client.query({
            ...CREATE_CODE,
            values: [code.codeHash, code.clientId, code.userId, code.sessionId, code.redirectUri, code.redirectUriSent, code.scope, code.nonce,
              code.codeChallenge, code.codeChallengeMethod, code.dpopJkt ?? null, code.authTime, code.amr, code.acr, code.familyId, code.expiresAt],
          })
        }
        await client.query('COMMIT')
        return { ok: true, session, events }
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: unknown) => { broken = rollbackErr })
        if (err instanceof Refused) return { ok: false, reason: err.reason }
        throw err
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: the pool drops it.
        client.release(broken instanceof Error ? broken : undefined)
      }
    },
  }
}
