/* Voting, live, on every event page: turnout counters on the board's pages, and the hall
   screen's panel (turnout while a poll is open, "counting" once closed, the result once
   published; a poll's partial count never reaches the screen before it closes). */
(function () {
  'use strict';
  let shown = null;  // the poll on the hall screen

  function setText(root, selector, value) {
    const el = root.querySelector(selector);
    if (el) el.textContent = value;
  }

  function percent(a, b) { return b ? Math.min(100, 100 * a / b) : 0; }

  function countdown(el, remaining, label) {
    clearInterval(el._timer);
    if (remaining === null || remaining === undefined || remaining === '') { el.hidden = true; return; }
    const end = Date.now() + parseFloat(remaining) * 1000;
    el.hidden = false;
    const tick = function () {
      const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
      if (label) el.textContent = label + ' ' + left + ' s';
      else { const s = el.querySelector('[data-seconds]'); if (s) s.textContent = left; }
      if (!left) clearInterval(el._timer);
    };
    tick();
    el._timer = setInterval(tick, 250);
  }

  function drawTurnout(t) {
    if (!t) return;
    document.querySelectorAll('[data-turnout="' + t.poll + '"]').forEach(function (box) {
      setText(box, '[data-voted]', t.voted);
      setText(box, '[data-eligible]', t.eligible);
      const bar = box.querySelector('[data-turnout-bar]');
      if (bar) bar.style.width = percent(t.voted, t.eligible) + '%';
    });
    if (shown && shown.id === t.poll && shown.status === 'open') {
      shown.voted = t.voted;
      drawScreen(shown);
    }
  }

  // ------------------------------------------------------------ hall screen

  function resultRows(box, p, labels) {
    const r = p.result;
    box.textContent = '';
    const figures = document.createElement('dl');
    figures.className = 'vote-figures';
    if (!r.appointed) {
      [['eligible', r.present], ['returned', r.returned], ['valid', r.valid], ['invalid', r.invalid]]
        .forEach(function (f) {
          const div = document.createElement('div');
          const dt = document.createElement('dt');
          dt.textContent = labels[f[0]];
          const dd = document.createElement('dd');
          dd.textContent = f[1];
          div.appendChild(dt);
          div.appendChild(dd);
          figures.appendChild(div);
        });
      box.appendChild(figures);
    }
    const list = document.createElement('ol');
    list.className = 'vote-bars';
    const names = {};
    p.options.forEach(function (o) { names[o.id] = o.label; });
    r.options.forEach(function (o) {
      if (r.appointed && !o.elected) return;
      const li = document.createElement('li');
      li.dataset.option = o.id;
      if (o.elected) li.classList.add('elected');
      if (o.tie) li.classList.add('tie');
      if (p.kind === 'motion' && o.answer === 'yes' && r.passed) li.classList.add('passed');
      const label = document.createElement('span');
      label.className = 'vote-label';
      label.textContent = names[o.id] || o.label;
      li.appendChild(label);
      if (!r.appointed) {
        const bar = document.createElement('span');
        bar.className = 'vote-bar';
        const fill = document.createElement('span');
        fill.style.width = Math.min(100, o.percent) + '%';
        bar.appendChild(fill);
        li.appendChild(bar);
        const count = document.createElement('span');
        count.className = 'vote-count';
        count.textContent = o.votes + ' · ' + o.percent.toFixed(2) + '%';
        li.appendChild(count);
      }
      if (o.elected || o.tie) {
        const badge = document.createElement('span');
        badge.className = 'badge ' + (o.elected ? 'ok' : 'warn');
        badge.textContent = o.elected ? labels.elected : labels.tie;
        li.appendChild(badge);
      }
      list.appendChild(li);
    });
    box.appendChild(list);
    if (p.kind === 'motion') {
      const verdict = document.createElement('p');
      verdict.className = 'vote-verdict ' + (r.passed ? 'ok' : 'no');
      verdict.textContent = r.passed ? labels.passed : labels.notPassed;
      box.appendChild(verdict);
    }
  }

  function drawScreen(p) {
    document.querySelectorAll('[data-vote-screen]').forEach(function (box) {
      const labels = JSON.parse(box.dataset.labels);
      box.hidden = !p;
      if (!p) return;
      box.dataset.poll = p.id;
      box.dataset.status = p.status;
      setText(box, '[data-vote-title]', p.title);
      setText(box, '[data-vote-mode]', p.channel === 'appointed' ? labels.appointed : (p.mode === 'secret' ? labels.secret : labels.named));
      const turnout = box.querySelector('[data-vote-turnout]');
      const counting = box.querySelector('[data-vote-counting]');
      const result = box.querySelector('[data-vote-result]');
      turnout.hidden = !(p.status === 'open' || p.status === 'closed');
      setText(turnout, '[data-voted]', p.voted === undefined || p.voted === null ? 0 : p.voted);
      setText(turnout, '[data-eligible]', p.eligible || 0);
      setText(turnout, '[data-voted-label]', labels.voted);
      turnout.querySelector('[data-turnout-bar]').style.width = percent(p.voted || 0, p.eligible) + '%';
      countdown(turnout.querySelector('[data-vote-countdown]'), p.status === 'open' ? p.remaining : null, labels.closesIn);
      counting.hidden = p.status !== 'closed';
      counting.textContent = labels.counting;
      result.hidden = p.status !== 'published' || !p.result;
      if (!result.hidden) resultRows(result, p, labels);
    });
  }

  function onPoll(p) {
    // Turnout counters on the board's pages follow the poll's state.
    document.querySelectorAll('[data-poll-status]').forEach(function (el) {
      if (el.closest('[data-poll-page="' + p.id + '"]')) window.location.reload();
    });
    if (!document.querySelector('[data-vote-screen]')) return;
    if (p.status === 'open' || (shown && shown.id === p.id) ||
        (p.status === 'published' && !(shown && shown.status === 'open'))) {
      shown = p.status === 'cancelled' || p.status === 'draft' ? null : p;
      drawScreen(shown);
    }
  }

  const initial = document.querySelector('[data-vote-screen]');
  if (initial && initial.dataset.initial) {
    shown = JSON.parse(initial.dataset.initial);
    drawScreen(shown);
  }
  document.querySelectorAll('[data-countdown][data-remaining]').forEach(function (el) {
    if (!el.closest('[data-ballot-polls]')) countdown(el, el.dataset.remaining);
  });

  DaiHoi.onState(function (state) {
    if (state.voting && document.querySelector('[data-vote-screen]')) {
      shown = state.voting.screen;
      drawScreen(shown);
    }
  });
  DaiHoi.on('voting:turnout', drawTurnout);
  DaiHoi.on('voting:poll', onPoll);
})();
