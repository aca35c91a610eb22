import t from 'tap'
import { displayUsername, usernameKey, usernameProblem } from '../../src/domain/usernames.js'

t.test('one key for the forms of one username (RFC 8265 UsernameCaseMapped)', async (t) => {
  t.equal(usernameKey('Alice'), usernameKey('alice'))
  t.equal(usernameKey('ALICE'), 'alice')
  t.equal(usernameKey('ＡＬＩＣＥ'), 'alice', 'fullwidth forms map to their ASCII decomposition')
  t.equal(usernameKey('Jose\u0301'), usernameKey('Jos\u00e9'), 'NFD and NFC are one user')
  t.equal(usernameKey('JOSE\u0301'), 'jos\u00e9')
  t.not(usernameKey('alice'), usernameKey('alíce'))
  t.equal(displayUsername('Jose\u0301'), 'Jos\u00e9', 'shown in NFC, case kept')
  t.equal(displayUsername('Alice'), 'Alice')
})

t.test('zero-width, bidi controls, spaces and controls are refused', async (t) => {
  for (const name of ['al\u200bice', 'al\u200cice', 'al\u200dice', '\ufeffalice', 'alice\u2060', 'ali\u00adce', '\u202egnp.exe', 'a\u2066b\u2069', 'a\u200eb', 'a\u061cb', 'al ice', 'al\u00a0ice', 'a\u3000b', 'a\u0000b', 'a\tb', 'a\ue000b', 'a\ud800b', '']) {
    t.type(usernameProblem(name), 'string', JSON.stringify(name))
  }
  for (const name of ['alice', 'Alice.Smith', 'josé', 'Jose\u0301', '李小龍', 'user@example.com', 'o\'brien']) t.equal(usernameProblem(name), undefined, name)
})
