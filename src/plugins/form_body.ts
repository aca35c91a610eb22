/**
 * `application/x-www-form-urlencoded` bodies (RFC 6749 §3.2) parsed into name → values, so the
 * token endpoint can see and reject repeated parameters (RFC 6749 §3.1: "Request and response
 * parameters MUST NOT be included more than once").
 *
 * @module
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

export type FormBody = Record<string, string[]>

export function parseForm (body: string): FormBody {
  const form: FormBody = Object.create(null)
  for (const [name, value] of new URLSearchParams(body)) (form[name] ??= []).push(value)
  return form
}

export default fp(async function formBody (app: FastifyInstance) {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, parseForm(body as string))
  })
}, { name: 'form-body' })
