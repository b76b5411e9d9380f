/* Check-in, live: attendance counters and quorum on consoles, widgets and the hall screen,
   the staff's feed of latest scans with undo, and the hall screen's rotating self check-in code.
   A block marked data-follow-current shows whichever session the hall screen shows; other
   blocks show the list named by data-list-id. Everything is redrawn from the full state on
   every (re)connect, then from coalesced updates. */
(function () {
  'use strict';
  let currentListId = null;
  let eventRef = null;
  let codeTimer = null;

  function setText(root, selector, value) {
    const el = root.querySelector(selector);
    if (el) el.textContent = value;
  }

  function fill(template, values) {
    return (template || '').replace(/\{(\w+)\}/g, function (_m, k) { return values[k]; });
  }

  function drawTable(tbody, items) {
    if (!tbody) return;
    tbody.textContent = '';
    items.forEach(function (r) {
      const tr = document.createElement('tr');
      const name = document.createElement('td');
      name.textContent = r.name || '—';
      const count = document.createElement('td');
      count.textContent = r.present + ' / ' + r.convened;
      tr.appendChild(name);
      tr.appendChild(count);
      tbody.appendChild(tr);
    });
  }

  function draw(box, att) {
    box.dataset.listId = att.list_id;
    setText(box, '[data-att-session]', att.session);
    setText(box, '[data-att-present]', att.present);
    setText(box, '[data-att-convened]', att.convened);
    setText(box, '[data-att-guests]', att.guests_present);
    const q = att.quorum;
    const quorum = box.querySelector('[data-att-quorum]');
    if (quorum) {
      quorum.classList.toggle('met', q.met);
      quorum.classList.toggle('not-met', !q.met);
      quorum.dataset.met = q.met ? '1' : '0';
      setText(quorum, '[data-att-quorum-text]', q.met ? box.dataset.labelMet : box.dataset.labelNotMet);
      let rule = fill(box.dataset.labelNeeds, {n: q.needed, total: att.convened});
      if (q.units_rule) rule += '; ' + fill(box.dataset.labelUnits, {n: q.units_needed, total: q.units_total});
      setText(quorum, '[data-att-quorum-rule]', '(' + rule + ')');
    }
    const bar = box.querySelector('[data-att-bar]');
    if (bar) bar.style.width = (att.convened ? Math.min(100, 100 * att.present / att.convened) : 0) + '%';
    drawTable(box.querySelector('[data-att-groups]'), att.by_group);
    drawTable(box.querySelector('[data-att-units]'), att.by_unit);
  }

  function drawAll(att) {
    document.querySelectorAll('[data-attendance]').forEach(function (box) {
      const follows = box.hasAttribute('data-follow-current');
      if ((follows && att.list_id === currentListId) ||
          (!follows && parseInt(box.dataset.listId, 10) === att.list_id)) {
        draw(box, att);
      }
    });
  }

  function emit(name, payload, ack) {
    if (window.DaiHoi.socket && window.DaiHoi.socket.connected) {
      window.DaiHoi.socket.emit(name, payload, ack);
    }
  }

  // ------------------------------------------------------------ staff feed

  function feedItem(feed, r) {
    const li = document.createElement('li');
    li.dataset.scan = r.scan_id;
    li.className = 'verdict-' + r.verdict + (r.undone ? ' undone' : '');
    const time = document.createElement('b');
    time.textContent = r.time;
    li.appendChild(time);
    li.appendChild(document.createTextNode(' ' + (r.name || r.reason_text) + ' '));
    const small = document.createElement('small');
    small.className = 'muted';
    small.textContent = r.station + (r.undone ? ' · ' + feed.dataset.undoneLabel : '');
    li.appendChild(small);
    if (feed.dataset.canUndo === '1' && r.verdict !== 'refused' && !r.undone) {
      const undo = document.createElement('button');
      undo.type = 'button';
      undo.className = 'link danger';
      undo.dataset.undo = r.scan_id;
      undo.textContent = feed.dataset.undoLabel;
      undo.addEventListener('click', function () {
        if (!window.confirm(feed.dataset.confirmUndo)) return;
        emit('checkin:undo', {event: eventRef, scan: r.scan_id}, function (ack) {
          if (ack && !ack.ok) window.alert(ack.message);
        });
      });
      li.appendChild(document.createTextNode(' '));
      li.appendChild(undo);
    }
    return li;
  }

  function drawFeed(data) {
    document.querySelectorAll('[data-recent]').forEach(function (feed) {
      if (parseInt(feed.dataset.listId, 10) !== data.list_id) return;
      feed.textContent = '';
      data.scans.forEach(function (r) { feed.appendChild(feedItem(feed, r)); });
    });
  }

  // ------------------------------------------------------------ hall screen code

  function refreshCode() {
    const box = document.querySelector('[data-self-code]');
    if (!box) return;
    clearTimeout(codeTimer);
    emit('checkin:self_code', {event: eventRef}, function (ack) {
      const code = ack && ack.ok ? ack.code : null;
      if (!code) {
        box.hidden = true;
        codeTimer = setTimeout(refreshCode, 15000);
        return;
      }
      // The SVG is drawn by the server from the code's own address; no user text is in it.
      box.querySelector('[data-self-code-image]').innerHTML = code.svg;
      box.dataset.url = code.url;
      box.hidden = false;
      codeTimer = setTimeout(refreshCode, code.rotate * 1000);
    });
  }

  DaiHoi.onState(function (state) {
    eventRef = state.event.ref;
    const mine = state.checkin;
    if (mine && mine.attendance) {
      currentListId = mine.attendance.list_id;
      drawAll(mine.attendance);
    }
    // Blocks fixed to another session ask for theirs after every (re)connect.
    document.querySelectorAll('[data-attendance]:not([data-follow-current])').forEach(function (box) {
      const id = parseInt(box.dataset.listId, 10);
      if (id === currentListId) return;
      emit('checkin:attendance', {event: eventRef, list: id}, function (ack) {
        if (ack && ack.ok) drawAll(ack.attendance);
      });
    });
    refreshCode();
  });
  DaiHoi.on('checkin:attendance', drawAll);
  DaiHoi.on('checkin:current', function (data) {
    if (!data.attendance) return;
    currentListId = data.attendance.list_id;
    drawAll(data.attendance);
    refreshCode();
  });
  DaiHoi.on('checkin:recent', drawFeed);
})();
