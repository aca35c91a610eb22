/*
 * Stamp's passkey ceremonies, a static file: the hosted pages' CSP allows no inline script.
 * It drives @simplewebauthn/browser (served beside it) from data attributes the server renders:
 *
 *   form[data-passkey="signin"]   sign-in page: conditional UI (autofill) on load, and a button
 *   form[data-passkey="factor"]   second-factor page: a button
 *   form[data-passkey="register"] account page, enrolment at sign-in: registers a passkey on submit
 *   .passkey-only                 hidden until WebAuthn is known to work (the enrolment's passkey part)
 *
 * Each form names its options endpoint in data-options; the options are fetched with a POST
 * carrying the form's CSRF token, the ceremony's result goes into hidden fields, and the form is
 * submitted normally, so the server answers with a page or a redirect as for any form.
 * User-visible texts come from the page (data-error), so they are translated with it.
 */
(function () {
  'use strict'
  var lib = window.SimpleWebAuthnBrowser
  if (!lib) return

  function body (form) {
    var out = new URLSearchParams()
    ;['request', 'csrf'].forEach(function (name) {
      var el = form.querySelector('input[name="' + name + '"]')
      if (el) out.set(name, el.value)
    })
    return out
  }

  function fetchOptions (form) {
    return fetch(form.getAttribute('data-options'), {
      method: 'POST', body: body(form), credentials: 'same-origin', headers: { accept: 'application/json' },
    }).then(function (res) {
      // 401: the sign-in is too old for this change; submitting the form lets the server send
      // the browser through the sign-in and back.
      if (res.status === 401) {
        form.submit()
        return new Promise(function () {})
      }
      if (!res.ok) throw new Error('options refused: ' + res.status)
      return res.json()
    })
  }

  function show (form, text) {
    var el = form.querySelector('.passkey-status')
    if (!el) return
    el.textContent = text
    el.hidden = false
  }

  function complete (form, challengeId, response) {
    form.querySelector('input[name="challenge"]').value = challengeId
    form.querySelector('input[name="credential"]').value = JSON.stringify(response)
    form.submit()
  }

  function authenticate (form, autofill) {
    return fetchOptions(form).then(function (o) {
      return lib.startAuthentication({ optionsJSON: o.options, useBrowserAutofill: autofill }).then(function (response) {
        complete(form, o.challengeId, response)
      })
    }).catch(function (err) {
      // A conditional request is aborted whenever the button starts a modal one: not an error.
      if (autofill || (err && err.name === 'AbortError')) return
      show(form, form.getAttribute('data-error'))
    })
  }

  function register (form) {
    return fetchOptions(form).then(function (o) {
      return lib.startRegistration({ optionsJSON: o.options }).then(function (response) {
        complete(form, o.challengeId, response)
      })
    }).catch(function () {
      show(form, form.getAttribute('data-error'))
    })
  }

  function init () {
    if (!lib.browserSupportsWebAuthn()) return
    document.querySelectorAll('.passkey-only').forEach(function (el) { el.hidden = false })
    document.querySelectorAll('form[data-passkey]').forEach(function (form) {
      var kind = form.getAttribute('data-passkey')
      var button = form.querySelector('.passkey-button')
      if (button) button.hidden = false
      if (kind === 'register') {
        form.addEventListener('submit', function (event) {
          event.preventDefault()
          register(form)
        })
        return
      }
      if (button) button.addEventListener('click', function () { authenticate(form, false) })
      if (kind === 'signin' && form.getAttribute('data-conditional') !== 'off') {
        lib.browserSupportsWebAuthnAutofill().then(function (supported) {
          if (supported) authenticate(form, true)
        })
      }
    })
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init)
  else init()
})()
