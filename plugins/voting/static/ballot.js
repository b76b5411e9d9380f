/* A delegate's ballot page. The server renders every poll's part (and the page works without
   JavaScript: a plain form POST). Here: a vote is kept on the phone before it is sent, sent
   over Socket.IO and answered only after it is committed; with no answer it goes over plain
   HTTP with the same nonce, and a vote still unsent is sent again after a reload or a
   reconnect. A live update swaps in a poll's part from the server, never while its ballot is
   being filled in. */
(function () {
  'use strict';
  const root = document.querySelector('[data-ballot-polls]');
  if (!root) return;
  const labels = JSON.parse(root.dataset.labels);
  const store = 'daihoi.votes:' + root.dataset.pollUrl;
  const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  let eventRef = null;

  function fragmentUrl(id) { return root.dataset.fragmentUrl.replace(/\/0$/, '/' + id); }
  function voteUrl(id) { return root.dataset.pollUrl.replace(/\/0\/vote$/, '/' + id + '/vote'); }
  function load() {
    try { return JSON.parse(localStorage.getItem(store) || '{}'); } catch (e) { return {}; }
  }
  function save(all) { try { localStorage.setItem(store, JSON.stringify(all)); } catch (e) { /* private mode */ } }
  function remember(id, rec) { const all = load(); all[id] = rec; save(all); }
  function forget(id) { const all = load(); delete all[id]; save(all); }
  function random(n, alphabet) {
    const bytes = new Uint8Array(n);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return alphabet[b % alphabet.length]; }).join('');
  }
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : '';
  }
  function section(id) { return root.querySelector('[data-ballot-poll="' + id + '"]'); }

  function showReceipts() {
    const all = load();
    root.querySelectorAll('[data-receipt-for]').forEach(function (el) {
      const rec = all[el.dataset.receiptFor];
      el.textContent = '';
      el.dataset.receipt = rec && rec.shown ? rec.shown : '';
      if (!(rec && rec.state === 'done' && rec.shown)) return;
      const code = document.createElement('b');
      code.className = 'vote-receipt';
      code.textContent = rec.shown;
      el.append(labels.receipt + ': ', code, '. ' + labels.receiptHelp);
    });
  }

  function chosen(form) {
    return Array.prototype.filter.call(form.querySelectorAll('input[name="choice"]'), function (i) {
      return i.checked && i.value !== '';
    }).map(function (i) { return parseInt(i.value, 10); });
  }

  function message(form, text) {
    const el = form && form.querySelector('[data-vote-error]');
    if (!el) return;
    el.textContent = text || '';
    el.hidden = !text;
  }

  function countKept(form) {
    const seats = parseInt(form.dataset.seats, 10);
    const n = chosen(form).length;
    const kept = form.querySelector('[data-kept]');
    if (kept) kept.textContent = n;
    const tooMany = form.querySelector('[data-too-many]');
    if (tooMany) tooMany.hidden = n <= seats;
    form.querySelector('.vote-send').disabled = n > seats;
    form.dataset.touched = '1';
  }

  function wire(sec) {
    const form = sec && sec.querySelector('form[data-ballot]');
    if (!form) return;
    form.addEventListener('change', function () { countKept(form); });
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      const id = parseInt(form.dataset.ballot, 10);
      const choices = chosen(form);
      const kind = form.dataset.kind;
      if (choices.length > parseInt(form.dataset.seats, 10)) { message(form, labels.tooMany); return; }
      const empty = kind === 'election' && choices.length === 0 && form.dataset.options !== '1';
      if (!window.confirm(empty ? labels.confirmEmpty : labels.confirm)) return;
      remember(id, {state: 'pending', choices: choices, nonce: random(32, 'abcdef0123456789'),
                    receipt: random(10, ALPHABET)});
      send(id);
    });
  }

  function sending(id, text) {
    const sec = section(id);
    const form = sec && sec.querySelector('form[data-ballot]');
    if (form) {
      form.querySelector('.vote-send').disabled = true;
      message(form, text);
    }
  }

  function send(id) {
    const rec = load()[id];
    if (!rec || rec.state !== 'pending') return;
    sending(id, labels.sending);
    const payload = {event: eventRef, poll: id, choices: rec.choices, nonce: rec.nonce, receipt: rec.receipt};
    const socket = window.DaiHoi.socket;
    if (socket && socket.connected && eventRef) {
      socket.timeout(8000).emit('voting:vote', payload, function (err, ack) {
        if (err) { sendHttp(id, payload); return; }
        answered(id, ack);
      });
    } else {
      sendHttp(id, payload);
    }
  }

  function sendHttp(id, payload) {
    fetch(voteUrl(id), {method: 'POST', credentials: 'same-origin',
                        headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrfToken()},
                        body: JSON.stringify(payload)})
      .then(function (r) { return r.json(); })
      .then(function (ack) { answered(id, ack); })
      .catch(function () {
        sending(id, labels.waiting);
        setTimeout(function () { send(id); }, 5000);
      });
  }

  function answered(id, ack) {
    if (ack && ack.ok) {
      const rec = load()[id] || {};
      rec.state = 'done';
      // A resend of a vote whose answer was lost is answered without the receipt: the ballot
      // carries the one this phone made and kept.
      rec.shown = ack.receipt || rec.shown ||
        (rec.receipt ? rec.receipt.slice(0, 5) + '-' + rec.receipt.slice(5) : null);
      delete rec.choices;  // the phone keeps the receipt, not the vote
      remember(id, rec);
      refresh(id);
      return;
    }
    // Busy, or the database out of reach for a moment: nothing was saved, and the same vote
    // (same nonce) is sent again until it is answered.
    if (ack && (ack.error === 'busy' || ack.error === 'unavailable')) {
      sending(id, ack.message);
      setTimeout(function () { send(id); }, 3000);
      return;
    }
    forget(id);
    const sec = section(id);
    const form = sec && sec.querySelector('form[data-ballot]');
    if (form) {
      form.querySelector('.vote-send').disabled = false;
      message(form, ack ? ack.message : '');
    }
    if (ack && ['already_voted', 'closed', 'not_eligible', 'not_found'].indexOf(ack.error) >= 0) {
      setTimeout(function () { refresh(id); }, 2500);
    }
  }

  function refresh(id) {
    return fetch(fragmentUrl(id), {credentials: 'same-origin'}).then(function (r) {
      if (!r.ok) return null;
      return r.text();
    }).then(function (html) {
      if (html === null || html === undefined) return;
      const box = document.createElement('div');
      box.innerHTML = html;
      const fresh = box.firstElementChild;
      const old = section(id);
      if (old) old.replaceWith(fresh); else root.prepend(fresh);
      const none = root.querySelector('[data-no-poll]');
      if (none) none.remove();
      wire(fresh);
      startCountdowns(fresh);
      showReceipts();
    });
  }

  // The poll's countdown, from the seconds the server said were left.
  function startCountdowns(scope) {
    scope.querySelectorAll('[data-countdown]').forEach(function (el) { countdown(el, el.dataset.remaining); });
  }
  function countdown(el, remaining) {
    clearInterval(el._timer);
    if (remaining === '' || remaining === null || remaining === undefined) { el.hidden = true; return; }
    const end = Date.now() + parseFloat(remaining) * 1000;
    el.hidden = false;
    const tick = function () {
      const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
      el.querySelector('[data-seconds]').textContent = left;
      if (!left) clearInterval(el._timer);
    };
    tick();
    el._timer = setInterval(tick, 250);
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function plural(forms, n) { return (n === 1 ? forms[0] : forms[1]).replace('{n}', n); }

  function choice(type, value, text, detail, answer) {
    const label = el('label', 'vote-choice' + (answer ? ' answer-' + answer : ''));
    const input = el('input');
    input.type = type;
    input.name = 'choice';
    input.value = value;
    if (type === 'radio') input.required = true;
    label.append(input, ' ' + text);
    if (detail) label.append(' ', el('small', 'muted', detail));
    return label;
  }

  // The ballot of a poll that has just opened, built here from the broadcast rather than
  // fetched: a thousand phones asking the server to render it at the same moment would queue.
  // It is the same form as the server's (voting/_ballot_poll.html).
  function build(p) {
    const sec = el('section', 'card vote-poll');
    sec.dataset.ballotPoll = p.id;
    sec.dataset.status = p.status;
    sec.dataset.voted = '0';
    const h = el('h2', '', p.title);
    if (p.round > 1) h.append(' ', el('span', 'badge', labels.round.replace('{n}', p.round)));
    sec.append(h);
    if (p.description) sec.append(el('p', '', p.description));
    const note = document.querySelector('template[data-note="' + p.mode + '"]');
    if (note) sec.append(note.content.cloneNode(true));
    const form = el('form', 'vote-form');
    form.method = 'post';
    form.action = voteUrl(p.id);
    form.dataset.ballot = p.id;
    form.dataset.kind = p.kind;
    form.dataset.seats = p.seats;
    form.dataset.options = p.options.length;
    const cd = el('p', 'vote-countdown');
    cd.dataset.countdown = p.id;
    cd.dataset.remaining = p.remaining === null || p.remaining === undefined ? '' : p.remaining;
    cd.append(labels.closesIn + ' ', el('b'), ' s');
    cd.querySelector('b').dataset.seconds = '';
    cd.hidden = true;
    form.append(cd);
    if (p.kind === 'motion') {
      p.options.forEach(function (o) { form.append(choice('radio', o.id, o.label, '', o.answer)); });
    } else if (p.kind === 'election' && p.options.length === 1) {
      const o = p.options[0];
      const who = el('p');
      who.append(el('b', '', o.label));
      if (o.detail) who.append(' ', el('small', 'muted', o.detail));
      form.append(who, choice('radio', o.id, labels.agree, '', 'yes'),
                  choice('radio', '', labels.disagree, '', 'no'));
    } else {
      const hint = el('p', 'vote-hint', plural(p.kind === 'election' ? labels.hintElection : labels.hintChoice, p.seats) + ' ');
      const kept = el('b', '', '0');
      kept.dataset.kept = '';
      hint.append(kept, '/' + p.seats);
      form.append(hint);
      p.options.forEach(function (o) { form.append(choice('checkbox', o.id, o.label, o.detail)); });
      const too = el('p', 'error', plural(labels.tooManyNames, p.seats));
      too.dataset.tooMany = '';
      too.hidden = true;
      form.append(too);
    }
    const error = el('p', 'error');
    error.dataset.voteError = '';
    error.hidden = true;
    const send = el('button', 'primary wide vote-send', labels.cast);
    send.type = 'submit';
    form.append(error, send, el('p', 'muted', labels.final));
    sec.append(form);
    return sec;
  }

  // Whether this phone may vote and has voted is asked a little later, spread over a few
  // seconds, and the server's own rendering replaces the ballot only if it differs.
  function verifyLater(id) {
    setTimeout(function () {
      const socket = window.DaiHoi.socket;
      if (!socket || !socket.connected) return;
      socket.emit('voting:state', {event: eventRef}, function (ack) {
        if (!ack || !ack.ok) return;
        const p = ack.polls.filter(function (x) { return x.id === id; })[0];
        if (!p || !p.me || !p.me.eligible || p.me.voted || p.status !== 'open') refresh(id);
      });
    }, Math.random() * 8000);
  }

  function update(p) {
    if (p.status === 'draft') return;
    const sec = section(p.id);
    if (sec && sec.dataset.status === p.status && p.status === 'open') {
      // Still open: a half-filled ballot stays as it is; only the countdown may change.
      const cd = sec.querySelector('[data-countdown]');
      if (cd) countdown(cd, p.remaining);
      return;
    }
    if (!sec && p.status === 'open' && p.channel === 'electronic' && root.dataset.delegate === '1') {
      const fresh = build(p);
      root.prepend(fresh);
      const none = root.querySelector('[data-no-poll]');
      if (none) none.remove();
      wire(fresh);
      startCountdowns(fresh);
      verifyLater(p.id);
      return;
    }
    // Closed, published, cancelled: the server's rendering, fetched at a moment spread over a
    // few seconds so the phones of a whole hall do not all ask at once.
    setTimeout(function () { refresh(p.id); }, Math.random() * 3000);
  }

  window.DaiHoi.onState(function (state) {
    eventRef = state.event.ref;
    window.DaiHoi.socket.emit('voting:state', {event: eventRef}, function (ack) {
      if (!ack || !ack.ok) return;
      ack.polls.forEach(function (p) {
        const sec = section(p.id);
        const votedHere = sec && sec.dataset.voted === '1';
        const votedThere = p.me && p.me.voted;
        if (!sec || sec.dataset.status !== p.status || (votedThere && !votedHere)) refresh(p.id);
      });
      // Votes cast while the connection was down, or before a reload, go now.
      Object.keys(load()).forEach(function (id) { send(parseInt(id, 10)); });
    });
  });
  window.DaiHoi.on('voting:poll', update);

  root.querySelectorAll('[data-ballot-poll]').forEach(function (sec) { wire(sec); });
  startCountdowns(root);
  showReceipts();
})();
