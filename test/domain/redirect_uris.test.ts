import t from 'tap'
import { matchRegisteredURI, uriProblem } from '../../src/domain/redirect_uris.js'

t.test('registrable redirect URIs (issue 11 item 9)', async (t) => {
  for (const uri of [
    'https://app.example/cb', 'https://app.example:8443/cb?x=1', 'http://127.0.0.1/cb', 'http://127.0.0.1:8080/cb', 'http://[::1]:9/cb',
    'http://localhost:3000/callback', 'com.example.app:/oauth2redirect', 'com.example.app:/cb?x=1',
  ]) t.equal(uriProblem(uri, 'redirect_uri'), undefined, uri)
  for (const uri of [
    'javascript:alert(1)', 'JavaScript:alert(1)', 'data:text/html,<script>x</script>', 'file:///etc/passwd', 'vbscript:msgbox(1)',
    'http://app.example/cb', 'http://10.0.0.1/cb', 'http://127.0.0.2.evil.example/cb', 'https://*.example/cb', 'https://app.example/*',
    'https://user:pw@app.example/cb', 'https://user@app.example/cb', 'https://@app.example/cb', 'https://app.example/cb#frag', 'https://app.example/cb#',
    'myapp:/cb', 'cb', '/relative', 'https:///nohost', ' https://app.example/cb', 'https://app.example/c b', 'com.example.app://host/cb',
    'http://127.0.0.1@evil.example/', 'blob:https://app.example/x',
  ]) t.type(uriProblem(uri, 'redirect_uri'), 'string', uri)
})

t.test('back-channel logout URIs: https, or http on loopback; no private-use schemes', async (t) => {
  t.equal(uriProblem('https://rp.example/bcl', 'backchannel_logout_uri'), undefined)
  t.equal(uriProblem('http://127.0.0.1:4000/bcl', 'backchannel_logout_uri'), undefined)
  t.type(uriProblem('http://rp.example/bcl', 'backchannel_logout_uri'), 'string')
  t.type(uriProblem('com.example.app:/bcl', 'backchannel_logout_uri'), 'string')
})

t.test('matching: exact, except loopback http takes any port (RFC 8252 §7.3)', async (t) => {
  const registered = ['https://app.example/cb', 'http://127.0.0.1/cb', 'http://[::1]:8080/native', 'http://localhost/dev']
  t.equal(matchRegisteredURI(registered, 'https://app.example/cb'), 'https://app.example/cb')
  t.equal(matchRegisteredURI(registered, 'https://app.example/cb/'), undefined)
  t.equal(matchRegisteredURI(registered, 'https://app.example:444/cb'), undefined, 'no port freedom for https')
  t.equal(matchRegisteredURI(registered, 'http://127.0.0.1:51234/cb'), 'http://127.0.0.1/cb')
  t.equal(matchRegisteredURI(registered, 'http://127.0.0.1/cb'), 'http://127.0.0.1/cb')
  t.equal(matchRegisteredURI(registered, 'http://[::1]:1/native'), 'http://[::1]:8080/native')
  t.equal(matchRegisteredURI(registered, 'http://localhost:3000/dev'), 'http://localhost/dev')
  t.equal(matchRegisteredURI(registered, 'http://127.0.0.1:51234/other'), undefined, 'the path still matches exactly')
  t.equal(matchRegisteredURI(registered, 'http://localhost:3000/cb'), undefined, 'the host still matches exactly')
  t.equal(matchRegisteredURI(registered, 'http://127.0.0.1:99999/cb'), undefined)
  t.equal(matchRegisteredURI(registered, 'http://127.0.0.1:80@evil.example/cb'), undefined)
  t.equal(matchRegisteredURI(registered, 'http://127.0.0.1:8080/cb#x'), undefined)
})
