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

  function setupInbox(list) {
    var state = document.getElementById('live-state');
    if (!window.EventSource) return;
    var url = list.getAttribute('data-stream');
    var newest = list.getAttribute('data-newest');
    var source = new EventSource(newest ? url + '?after=' + encodeURIComponent(newest) : url);
    function say(text) { if (state) state.textContent = text; }
    source.addEventListener('open', function () { say('● live'); });
    source.addEventListener('error', function () { say(source.readyState === EventSource.CLOSED ? 'disconnected; reload to refresh' : 'reconnecting…'); });
    source.addEventListener('request', function (e) {
      var r;
      try { r = JSON.parse(e.data); } catch (err) { return; }
      if (list.querySelector('[data-id="' + CSS.escape(r.id) + '"]')) return;
      var empty = document.getElementById('no-requests');
      if (empty) empty.remove();
      list.insertBefore(requestCard(r), list.firstChild);
    });
    var endings = {
      deleted: 'this inbox was deleted',
      shutdown: 'the server stopped; reload in a moment',
      unauthorized: 'signed out (or the API key was deleted): reload to sign in again'
    };
    Object.keys(endings).forEach(function (name) {
      source.addEventListener(name, function () {
        source.close();
        say(endings[name]);
      });
    });
    window.addEventListener('pagehide', function () { source.close(); });
  }

  function init() {
    each(document, 'fieldset.event-types', setupPicker);
    each(document, 'form.endpoint-form', setupAuth);
    var inbox = document.getElementById('inbox-requests');
    if (inbox) setupInbox(inbox);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
