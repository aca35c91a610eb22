/*
 * A hosted page sent as the answer to a form POST (the second-factor form answering the password
 * form) names the address that shows it by GET in data-address on <html>. Replacing the history
 * entry's URL with it makes a reload, or a tab restored later, ask for that address instead of
 * posting the password again: what a redirect after the POST gives, without its extra request.
 * A static file: the hosted pages' CSP allows no inline script.
 */
(function () {
  'use strict'
  var address = document.documentElement.getAttribute('data-address')
  if (!address || !window.history || !window.history.replaceState) return
  try {
    // Same origin only (replaceState throws otherwise); the server renders its own URL here.
    if (new URL(address, window.location.href).origin !== window.location.origin) return
    window.history.replaceState(window.history.state, '', address)
  } catch (e) {}
})()
