// Herald admin UI: small enhancements on top of server-rendered pages. Every page works without
// this file; it adds the event-type search, shows only the chosen authentication's fields, and
// streams an inbox's requests as they arrive. No inline script: the CSP allows only this file.
'use strict';

(function () {
  function each(root, selector, fn) {
    Array.prototype.forEach.call(root.querySelectorAll(selector), fn);
  }

  // ---- event-type picker: search and selected count ----------------------------------------
  function setupPicker(fieldset) {
    var search = fieldset.querySelector('[data-picker-search]');
    var count = fieldset.querySelector('[data-picker-count]');
    function updateCount() {
      var n = fieldset.querySelectorAll('input[name="event_types"]:checked').length;
      if (count) count.textContent = n === 1 ? '1 selected' : n + ' selected';
    }
    function filter() {
      var q = search.value.trim().toLowerCase();
      each(fieldset, 'details.topic', function (topic) {
        var shown = 0;
        each(topic, '.check[data-name]', function (label) {
          var match = !q || label.getAttribute('data-name').indexOf(q) >= 0;
          label.hidden = !match;
          if (match) shown++;
        });
        topic.hidden = shown === 0;
        if (q) topic.open = shown > 0;
      });
    }
    if (search) search.addEventListener('input', filter);
    fieldset.addEventListener('change', updateCount);
    updateCount();
  }

  // ---- authentication: only the chosen kind's fields ---------------------------------------
  function setupAuth(form) {
    var radios = form.querySelectorAll('input[name="auth_type"]');
    if (radios.length === 0) return;
    function sync() {
      var chosen = form.querySelector('input[name="auth_type"]:checked');
      each(form, '.auth-fields', function (box) {
        box.hidden = !chosen || box.getAttribute('data-auth') !== chosen.value;
      });
    }
    each(form, 'input[name="auth_type"]', function (r) { r.addEventListener('change', sync); });
    sync();
  }

  // ---- the alert area: what the last action came to ---------------------------------------
  // Refusals land in #flash (the server retargets them there). A new action clears what the
  // one before said; a request that never reached Herald says so, until one gets through.
  var UNREACHABLE = 'Herald did not answer; check the connection and try again.';

  function setupFlash(flash) {
    function say(text) {
      var p = el('p', 'notice error', text);
      p.setAttribute('data-unreachable', '');
      flash.replaceChildren(p);
    }
    document.body.addEventListener('htmx:beforeRequest', function (e) {
      if (e.detail.elt && e.detail.elt.tagName === 'FORM') flash.replaceChildren();
    });
    document.body.addEventListener('htmx:afterRequest', function (e) {
      if (e.detail.successful && flash.querySelector('[data-unreachable]')) flash.replaceChildren();
    });
    document.body.addEventListener('htmx:sendError', function () { say(UNREACHABLE); });
    document.body.addEventListener('htmx:timeout', function () { say(UNREACHABLE); });
  }

  // ---- inbox: live requests ----------------------------------------------------------------
  function utc(iso) {
    return iso ? iso.slice(0, 19).replace('T', ' ') + ' UTC' : '';
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function requestCard(r) {
    var card = el('article', 'card inbox-request arrived');
    card.setAttribute('data-id', r.id);
    var head = el('header', 'delivery-head');
    head.appendChild(el('span', 'badge badge-method', r.method));
    head.appendChild(el('code', 'path', r.path + (r.query ? '?' + r.query : '')));
    head.appendChild(el('span', 'small muted', utc(r.received_at)));
    head.appendChild(el('span', 'small muted', r.body_size + ' bytes'));
    if (r.signature) {
      head.appendChild(el('span', 'badge ' + (r.signature.verified ? 'badge-succeeded' : 'badge-failed'), r.signature.verified ? 'signature verified' : 'signature not verified'));
    }
    card.appendChild(head);
    var details = el('details');
    details.appendChild(el('summary', '', 'Headers and body'));
    var wrap = el('div', 'table-wrap');
    var table = el('table', 'headers');
    Object.keys(r.headers || {}).forEach(function (name) {
      var row = el('tr');
      row.appendChild(el('th', '', name));
      row.appendChild(el('td', '', r.headers[name]));
      table.appendChild(row);
    });
    wrap.appendChild(table);
    details.appendChild(wrap);
    var body = r.body === null ? '(not shown in lists)' : r.body_encoding === 'base64' ? '(binary, base64) ' + r.body : r.body || '(empty)';
    details.appendChild(el('pre', 'body', body));
    card.appendChild(details);
    return card;
  }

  // The stream resumes after the newest request shown: EventSource sends Last-Event-ID itself
  // when it reconnects; a stream opened anew here says `after`. Herald restarting (`shutdown`) or
  // a stream that failed outright (a proxy's 502 meanwhile) or that Herald did not start in time
  // (`timeout`) is retried, less often each time;
  // only a deleted inbox and an ended sign-in stop it.
  var RETRY_FIRST_MS = 2000;
  var RETRY_MAX_MS = 30000;

  function setupInbox(list) {
    var state = document.getElementById('live-state');
    var url = list.getAttribute('data-stream');
    if (!window.EventSource || !url) return;
    var newest = list.getAttribute('data-newest');
    var source = null;
    var retryMs = RETRY_FIRST_MS;
    var timer = null;
    var over = false;
    function say(text) { if (state) state.textContent = text; }
    function show(e) {
      var r;
      try { r = JSON.parse(e.data); } catch (err) { return; }
      if (e.lastEventId) newest = e.lastEventId;
      if (list.querySelector('[data-id="' + CSS.escape(r.id) + '"]')) return;
      var empty = document.getElementById('no-requests');
      if (empty) empty.remove();
      list.insertBefore(requestCard(r), list.firstChild);
    }
    function stop(text) {
      over = true;
      if (source) source.close();
      say(text);
    }
    function retryLater() {
      if (source) source.close();
      if (over || timer) return;
      say('disconnected; trying again in ' + Math.round(retryMs / 1000) + ' s…');
      timer = setTimeout(function () { timer = null; connect(); }, retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    }
    function connect() {
      if (over) return;
      var es = new EventSource(newest ? url + '?after=' + encodeURIComponent(newest) : url);
      source = es;
      var openedAtMs = retryMs;
      es.addEventListener('open', function () { openedAtMs = retryMs; retryMs = RETRY_FIRST_MS; say('● live'); });
      es.addEventListener('error', function () {
        if (es.readyState === EventSource.CLOSED) retryLater();
        else say('reconnecting…');
      });
      es.addEventListener('request', show);
      // The stream ends; EventSource connects again by itself once Herald is back.
      es.addEventListener('shutdown', function () { say('Herald is restarting; reconnecting…'); });
      // Herald did not start the stream in time: tried again later, as a failed connection is.
      // The UI answered (open) but the API did not, so the wait keeps growing.
      es.addEventListener('timeout', function () { retryMs = openedAtMs; retryLater(); });
      es.addEventListener('deleted', function () { stop('this inbox was deleted'); });
      es.addEventListener('unauthorized', function () { stop('signed out (or the API key was deleted): reload to sign in again'); });
    }
    connect();
    window.addEventListener('pagehide', function () {
      clearTimeout(timer);
      timer = null;
      if (source) source.close();
    });
    // A page restored from the back-forward cache comes back with its stream closed.
    window.addEventListener('pageshow', function (e) { if (e.persisted && !over) connect(); });
  }

  function init() {
    each(document, 'fieldset.event-types', setupPicker);
    each(document, 'form.endpoint-form', setupAuth);
    var flash = document.getElementById('flash');
    if (flash) setupFlash(flash);
    var inbox = document.getElementById('inbox-requests');
    if (inbox) setupInbox(inbox);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
