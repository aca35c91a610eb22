import t from 'tap'
import { generateClientId } from '../../src/domain/client_auth.js'

// A generated id starting with '-' cannot be passed to the CLI (`stamp client disable -0ab…`
// parses as options): one in 64 plain base64url ids did, and the CLI test failed at random.
t.test('generated client ids never start with - or _, and stay 96 random bits', async (t) => {
  const ids = Array.from({ length: 4000 }, generateClientId)
  t.equal(ids.filter((id) => !/^[A-Za-z0-9]/.test(id)).length, 0)
  t.ok(ids.every((id) => /^[A-Za-z0-9_-]{16}$/.test(id)))
  t.equal(new Set(ids).size, ids.length)
})
