/* The scanning station: badge QR codes by camera (camera.js) or by a USB scanner typing into a
   text field, a verdict within a blink, and an offline queue.

   Every scan is written to IndexedDB first, then sent over Socket.IO. The server's answer takes
   it out of the queue; without an answer (no connection, or no acknowledgement within ACK_MS)
   it stays, and the whole queue is sent later in one HTTP request per list. Scans carry a nonce,
   so one that reached the server and is sent again is recorded once. Loaded after DaiHoi.live(),
   so it listens on DaiHoi.socket itself. */
(function () {
  'use strict';
  const cfg = JSON.parse(document.getElementById('station-config').textContent);
  const T = cfg.t;
  const socket = window.DaiHoi.socket;
  const ACK_MS = 3000;          // a scan not acknowledged by then waits in the queue
  const CALL_MS = 6000;         // search, manual entry, undo
  const RETRY_MS = 5000;        // the queue is retried this often while it holds anything
  const BATCH = 500;            // the server takes at most this many scans per request
  const RECENT_MAX = 10;
  const STATION_KEY = 'daihoi-checkin-station';
  const CAMERA_KEY = 'daihoi-checkin-camera';
  const RECENT_KEY = 'daihoi-checkin-recent:' + cfg.event;

  function $(selector, root) { return (root || document).querySelector(selector); }
  const els = {
    root: $('[data-station]'),
    count: $('[data-queue-count]'),
    queue: $('[data-queue]'),
    offline: $('[data-offline]'),
    listSelect: $('[data-list-select]'),
    listOpen: $('[data-list-open]'),
    stationName: $('[data-station-name]'),
    verdict: $('[data-verdict]'),
    headline: $('[data-verdict-headline]'),
    message: $('[data-verdict-message]'),
    photo: $('[data-person-photo]'),
    img: $('[data-person-img]'),
    initials: $('[data-person-initials]'),
    name: $('[data-person-name]'),
    details: $('[data-person-details]'),
    wedgeForm: $('[data-wedge-form]'),
    wedge: $('[data-wedge]'),
    keyboard: $('[data-wedge-keyboard]'),
    camera: $('[data-camera-toggle]'),
    cameraLabel: $('[data-camera-label]'),
    video: $('[data-camera-video]'),
    cameraError: $('[data-camera-error]'),
    sync: $('[data-sync]'),
    syncSummary: $('[data-sync-summary]'),
    conflicts: $('[data-conflicts]'),
    searchForm: $('[data-search-form]'),
    search: $('[data-search]'),
    searchNote: $('[data-search-note]'),
    results: $('[data-search-results]'),
    recent: $('[data-station-recent]')
  };

  function fill(template, values) {
    return (template || '').replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(values, k) ? values[k] : m;
    });
  }

  function newNonce() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  function storage(kind) {
    try { return window[kind]; } catch (e) { return null; }
  }

  // ------------------------------------------------------------ the queue (IndexedDB)

  const Queue = (function () {
    const memory = new Map();   // if IndexedDB is unavailable (or fails), this page keeps them
    let opening = null;

    function open() {
      if (opening) return opening;
      opening = new Promise(function (resolve) {
        let req;
        try { req = window.indexedDB.open('daihoi-checkin', 1); } catch (e) { resolve(null); return; }
        req.onupgradeneeded = function () {
          if (!req.result.objectStoreNames.contains('queue')) {
            req.result.createObjectStore('queue', {keyPath: 'nonce'});
          }
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { resolve(null); };
      });
      return opening;
    }

    function run(mode, work) {
      return open().then(function (db) {
        if (!db) return null;
        return new Promise(function (resolve, reject) {
          let tx;
          try { tx = db.transaction('queue', mode); } catch (e) { reject(e); return; }
          const req = work(tx.objectStore('queue'));
          tx.oncomplete = function () { resolve(req ? req.result : null); };
          tx.onerror = tx.onabort = function () { reject(tx.error); };
        });
      });
    }

    return {
      put: function (item) {
        return run('readwrite', function (store) { return store.put(item); })
          .then(function (r) { if (r === null) memory.set(item.nonce, item); },
                function () { memory.set(item.nonce, item); });
      },
      remove: function (nonce) {
        memory.delete(nonce);
        return run('readwrite', function (store) { return store.delete(nonce); })
          .catch(function () { /* it stays, and is sent again: the nonce makes that harmless */ });
      },
      all: function () {
        return run('readonly', function (store) { return store.getAll(); })
          .catch(function () { return null; })
          .then(function (stored) {
            const items = (stored || []).concat(Array.from(memory.values()));
            return items.filter(function (i) { return i.event === cfg.event; })
              .sort(function (a, b) { return a.scanned_at < b.scanned_at ? -1 : 1; });
          });
      }
    };
  })();

  // ------------------------------------------------------------ connection and counter

  const inflight = new Set();   // nonces sent over the socket, answer not yet in
  let waiting = 0;
  let networkFailed = false;    // the last attempt to reach the server failed
  let everConnected = socket.connected;
  let connectFailed = false;

  // Still connecting after the page loaded is not "offline"; a failed attempt or a drop is.
  function online() {
    if (networkFailed) return false;
    if (socket.connected) return true;
    return !everConnected && !connectFailed && navigator.onLine !== false;
  }

  function drawConnection() {
    els.count.textContent = waiting;
    els.queue.classList.toggle('has-waiting', waiting > 0);
    els.offline.textContent = fill(T.offline, {n: waiting});
    els.offline.hidden = online();
    els.root.dataset.online = online() ? '1' : '0';
  }

  function refreshCount() {
    return Queue.all().then(function (items) {
      waiting = items.length;
      drawConnection();
      return items;
    });
  }

  // ------------------------------------------------------------ sound (Web Audio, no files)

  let audio = null;
  function unlockAudio() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!audio && AC) { try { audio = new AC(); } catch (e) { audio = null; } }
    if (audio && audio.state === 'suspended') audio.resume();
  }
  document.addEventListener('pointerdown', unlockAudio, true);
  document.addEventListener('keydown', unlockAudio, true);

  function tone(freq, at, length, type, volume) {
    const t = audio.currentTime + at;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = type;
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(volume, t + 0.01);
    gain.gain.setValueAtTime(volume, t + length - 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + length);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start(t);
    osc.stop(t + length + 0.02);
  }

  function beep(kind) {
    if (!audio || audio.state !== 'running') return;
    try {
      if (kind === 'in' || kind === 'out') {
        tone(1320, 0, 0.12, 'sine', 0.3);
      } else if (kind === 'again') {
        tone(880, 0, 0.1, 'sine', 0.3);
        tone(880, 0.16, 0.1, 'sine', 0.3);
      } else if (kind === 'refused' || kind === 'error') {
        tone(150, 0, 0.45, 'square', 0.18);
      } else if (kind === 'queued') {
        tone(660, 0, 0.15, 'triangle', 0.25);
      }
    } catch (e) { /* no sound is better than no scan */ }
  }

  // ------------------------------------------------------------ the verdict box

  function initials(name) {
    const words = (name || '').trim().split(/\s+/).filter(Boolean);
    if (!words.length) return '?';
    const first = words[0].charAt(0);
    const last = words.length > 1 ? words[words.length - 1].charAt(0) : '';
    return (first + last).toUpperCase();
  }

  // A photo that does not load (the network is gone) leaves the initials.
  els.img.addEventListener('error', function () {
    els.img.hidden = true;
    els.initials.hidden = false;
  });

  function drawPerson(p) {
    els.name.textContent = p ? p.name : '';
    els.details.textContent = '';
    if (!p) { els.photo.hidden = true; return; }
    els.photo.hidden = false;
    els.initials.textContent = initials(p.name);
    if (p.photo) {
      els.img.src = p.photo;
      els.img.hidden = false;
      els.initials.hidden = true;
    } else {
      els.img.removeAttribute('src');
      els.img.hidden = true;
      els.initials.hidden = false;
    }
    const parts = [p.unit, p.code, p.group];
    parts.filter(Boolean).forEach(function (text, i) {
      if (i) els.details.appendChild(document.createTextNode(' · '));
      const span = document.createElement('span');
      span.textContent = text;
      els.details.appendChild(span);
    });
    if (p.kind === 'guest') {
      const guest = document.createElement('span');
      guest.className = 'badge guest';
      guest.dataset.personGuest = '';
      guest.textContent = T.guest;
      els.details.appendChild(document.createTextNode(' '));
      els.details.appendChild(guest);
    }
  }

  function same(a, b) {
    const norm = function (x) { return (x || '').trim().replace(/[.!]+$/, '').toLowerCase(); };
    return norm(a) === norm(b);
  }

  function showVerdict(kind, message, person) {
    const headline = T.verdicts[kind] || '';
    els.verdict.dataset.verdict = kind;
    els.headline.textContent = headline;
    // "Checked in." under "Checked in" says nothing more.
    els.message.textContent = same(message, headline) ? '' : (message || '');
    drawPerson(person || null);
    // Replay the flash, so two scans in a row with the same verdict still look new.
    els.verdict.classList.remove('pop');
    void els.verdict.offsetWidth;
    els.verdict.classList.add('pop');
    beep(kind);
  }

  function showResult(r) {
    showVerdict(r.verdict, r.message, r.person);
  }

  function showError(message) {
    showVerdict('error', message || T.failed, null);
  }

  // ------------------------------------------------------------ latest at this station

  let recent = [];
  try { recent = JSON.parse(storage('sessionStorage').getItem(RECENT_KEY) || '[]'); } catch (e) { recent = []; }

  function saveRecent() {
    try { storage('sessionStorage').setItem(RECENT_KEY, JSON.stringify(recent)); } catch (e) { /* full or off */ }
  }

  function remember(r) {
    if (!r || !r.scan_id) return;
    recent = recent.filter(function (x) { return x.scan_id !== r.scan_id; });
    recent.unshift({scan_id: r.scan_id, verdict: r.verdict, undone: !!r.undone, time: r.time,
                    name: r.person ? r.person.name : '', code: r.person ? r.person.code : '',
                    message: r.message});
    recent = recent.slice(0, RECENT_MAX);
    saveRecent();
    drawRecent();
  }

  function button(label, className, data) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = className;
    b.textContent = label;
    if (data) b.setAttribute(data, '');
    return b;
  }

  function drawRecent() {
    els.recent.textContent = '';
    if (!recent.length) {
      const li = document.createElement('li');
      li.className = 'empty muted';
      li.textContent = T.empty;
      els.recent.appendChild(li);
      return;
    }
    recent.forEach(function (r) {
      const li = document.createElement('li');
      li.dataset.scan = r.scan_id;
      li.className = 'recent-item verdict-' + r.verdict + (r.undone ? ' undone' : '');
      const head = document.createElement('div');
      const time = document.createElement('b');
      time.textContent = r.time;
      head.appendChild(time);
      head.appendChild(document.createTextNode(' ' + (r.name || r.message) + ' '));
      const what = document.createElement('small');
      what.className = 'muted';
      what.textContent = (T.verdicts[r.verdict] || '') + (r.undone ? ' · ' + T.undone : '');
      head.appendChild(what);
      li.appendChild(head);
      if (!r.undone && (r.verdict === 'in' || r.verdict === 'again' || r.verdict === 'out')) {
        const undo = button(T.undo, 'link danger', 'data-undo');
        undo.addEventListener('click', function () { askUndo(li, r); });
        head.appendChild(document.createTextNode(' '));
        head.appendChild(undo);
      }
      els.recent.appendChild(li);
    });
  }

  function askUndo(li, r) {
    if (li.querySelector('.undo-confirm')) return;
    const row = document.createElement('div');
    row.className = 'undo-confirm';
    const q = document.createElement('span');
    q.textContent = T.confirmUndo;
    const yes = button(T.yesUndo, 'danger', 'data-undo-confirm');
    const no = button(T.cancel, '', 'data-undo-cancel');
    no.addEventListener('click', function () { row.remove(); });
    yes.addEventListener('click', function () {
      yes.disabled = true;
      call('checkin:undo', {event: cfg.event, scan: r.scan_id}, function (ack) {
        row.remove();
        if (!ack.ok) { showError(ack.message); return; }
        r.undone = true;
        saveRecent();
        drawRecent();
        const res = ack.result;
        showVerdict('undone', res.person ? res.person.name + (res.person.code ? ' · ' + res.person.code : '') : '', null);
      });
    });
    row.appendChild(q);
    row.appendChild(yes);
    row.appendChild(no);
    li.appendChild(row);
  }

  // ------------------------------------------------------------ socket calls

  // Calls that need the server now (search, manual entry, undo): an answer, or an error ack.
  function call(name, payload, done) {
    if (!socket.connected) { done({ok: false, error: 'offline', message: T.needsConnection}); return; }
    socket.timeout(CALL_MS).emit(name, payload, function (err, ack) {
      if (err || !ack) { done({ok: false, error: 'timeout', message: T.needsConnection}); return; }
      done(ack);
    });
  }

  // ------------------------------------------------------------ scanning

  let direction = 'in';
  const listId = cfg.list;

  function stationName() {
    return (els.stationName.value || '').trim().slice(0, 80);
  }

  function queued() {
    networkFailed = networkFailed || !socket.connected;
    drawConnection();
    showVerdict('queued', T.queued, null);
  }

  function send(item) {
    if (!socket.connected) { inflight.delete(item.nonce); queued(); return; }
    socket.timeout(ACK_MS).emit('checkin:scan', {
      event: cfg.event, list: item.list, nonce: item.nonce, code: item.code,
      scanned_at: item.scanned_at, direction: item.direction, station: item.station
    }, function (err, ack) {
      inflight.delete(item.nonce);
      if (err || !ack) {
        networkFailed = true;
        queued();
        return;
      }
      networkFailed = false;
      // Answered either way: a refusal of the request itself would be refused again.
      Queue.remove(item.nonce).then(refreshCount);
      if (ack.ok) {
        showResult(ack.result);
        remember(ack.result);
      } else {
        showError(ack.message);
      }
    });
  }

  function scan(code) {
    code = (code || '').trim();
    if (!code) return;
    const item = {nonce: newNonce(), code: code, scanned_at: new Date().toISOString(),
                  direction: direction, station: stationName(), list: listId, event: cfg.event};
    // Saved before anything is sent: a scan is never lost to a dropped connection. Marked in
    // flight from the start, so a retry of the queue does not send it a second time meanwhile.
    inflight.add(item.nonce);
    Queue.put(item).then(function () {
      waiting += 1;
      drawConnection();
      send(item);
      return refreshCount();
    });
  }

  // ------------------------------------------------------------ the queue, sent by HTTP

  let syncing = false;

  function syncUrl(id) {
    return cfg.syncUrl.replace(/\/lists\/0\/scans$/, '/lists/' + id + '/scans');
  }

  function post(id, items, summary) {
    const controller = window.AbortController ? new AbortController() : null;
    const timer = controller ? setTimeout(function () { controller.abort(); }, 20000) : null;
    return fetch(syncUrl(id), {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'Accept': 'application/json',
                'X-CSRFToken': csrfToken()},
      body: JSON.stringify({scans: items.map(function (i) {
        return {nonce: i.nonce, code: i.code, scanned_at: i.scanned_at, direction: i.direction,
                station: i.station};
      })}),
      signal: controller ? controller.signal : undefined
    }).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (data) {
        if (timer) clearTimeout(timer);
        networkFailed = false;
        if (!resp.ok || !data || !data.ok || !Array.isArray(data.results)) {
          summary.error = (data && data.message) || String(resp.status);
          return null;
        }
        return Promise.all(data.results.map(function (res, n) {
          const item = items[n];
          if (!item) return null;
          summary.n += 1;
          if (res.ok) {
            const r = res.result;
            summary[r.verdict] = (summary[r.verdict] || 0) + 1;
            if (r.list_id === listId) remember(r);
            if ((r.verdict !== 'in' && r.verdict !== 'out') || r.conflict) {
              summary.problems.push({verdict: r.verdict, name: r.person ? r.person.name : item.code,
                                     message: r.message});
            }
          } else {
            summary.refused += 1;
            summary.problems.push({verdict: 'error', name: item.code, message: res.message});
          }
          return Queue.remove(item.nonce);
        }));
      });
    });
  }

  function drawSummary(summary) {
    if (summary.error) {
      els.sync.hidden = false;
      els.syncSummary.textContent = fill(T.syncFailed, {message: summary.error});
    } else if (!summary.n) {
      return;
    } else {
      els.sync.hidden = false;
      els.syncSummary.textContent = fill(T.synced, {
        n: summary.n, ok: (summary.in || 0) + (summary.out || 0),
        again: summary.again || 0, refused: summary.refused || 0});
      // "Saved, not sent yet" is no longer true.
      if (els.verdict.dataset.verdict === 'queued') {
        els.verdict.dataset.verdict = 'idle';
        els.headline.textContent = T.ready;
        els.message.textContent = els.syncSummary.textContent;
      }
    }
    els.conflicts.textContent = '';
    summary.problems.forEach(function (p) {
      const li = document.createElement('li');
      li.className = 'verdict-' + p.verdict;
      li.dataset.conflict = p.verdict;
      const b = document.createElement('b');
      b.textContent = p.name;
      li.appendChild(b);
      li.appendChild(document.createTextNode(' — ' + (p.message || '')));
      els.conflicts.appendChild(li);
    });
  }

  function sync() {
    if (syncing) return Promise.resolve();
    syncing = true;
    const summary = {n: 0, refused: 0, problems: [], error: null};
    return Queue.all().then(function (items) {
      items = items.filter(function (i) { return !inflight.has(i.nonce); });
      if (!items.length) return null;
      if (navigator.onLine === false) { networkFailed = true; return null; }
      const groups = new Map();
      items.forEach(function (i) {
        if (!groups.has(i.list)) groups.set(i.list, []);
        groups.get(i.list).push(i);
      });
      let chain = Promise.resolve();
      groups.forEach(function (group, id) {
        for (let at = 0; at < group.length; at += BATCH) {
          const batch = group.slice(at, at + BATCH);
          chain = chain.then(function () { return post(id, batch, summary); });
        }
      });
      return chain.then(function () { drawSummary(summary); });
    }).catch(function () {
      networkFailed = true;     // the fetch itself failed: still offline
      if (summary.n) drawSummary(summary);
    }).then(function () {
      syncing = false;
      return refreshCount();
    });
  }

  // ------------------------------------------------------------ the wedge (USB scanner)

  function otherFieldInUse() {
    const a = document.activeElement;
    return !!a && a !== els.wedge && a.matches('input, select, textarea');
  }

  function focusWedge() {
    if (document.hidden || otherFieldInUse()) return;
    try { els.wedge.focus({preventScroll: true}); } catch (e) { els.wedge.focus(); }
  }

  els.wedgeForm.addEventListener('submit', function (e) {
    e.preventDefault();
    const code = els.wedge.value;
    els.wedge.value = '';
    scan(code);
    focusWedge();
  });
  // Back to the wedge when the focus goes nowhere (a click on the page, a removed form) and
  // after a click on a button: a scanner's Enter must never press the last button clicked.
  // Tabbing through the page with the keyboard is left alone.
  document.addEventListener('focusout', function () {
    setTimeout(function () {
      if (!document.activeElement || document.activeElement === document.body) focusWedge();
    }, 0);
  });
  document.addEventListener('click', function (e) {
    if (e.target.closest && e.target.closest('a[href]')) return;
    setTimeout(focusWedge, 0);
  });

  // On a touch screen the wedge would keep the on-screen keyboard up; a scanner types anyway.
  if (window.matchMedia && window.matchMedia('(pointer: coarse)').matches) {
    els.wedge.setAttribute('inputmode', 'none');
    els.keyboard.hidden = false;
    els.keyboard.addEventListener('click', function () {
      els.wedge.setAttribute('inputmode', 'text');
      els.wedge.blur();
      els.wedge.focus();
    });
  }

  // ------------------------------------------------------------ the camera

  function setCamera(state) {
    els.camera.dataset.state = state;
    els.cameraLabel.textContent = state === 'off' ? T.startCamera : T.stopCamera;
    els.video.hidden = state === 'off';
  }

  function startCamera() {
    els.cameraError.hidden = true;
    setCamera('starting');
    window.DaiHoiCamera.start(els.video, function (text) { scan(text); return false; }, function () {
      setCamera('off');
      els.cameraError.textContent = T.cameraError;
      els.cameraError.hidden = false;
      try { storage('localStorage').removeItem(CAMERA_KEY); } catch (e) { /* ignore */ }
    }).then(function (ok) {
      if (!ok) return;
      setCamera('on');
      try { storage('localStorage').setItem(CAMERA_KEY, '1'); } catch (e) { /* ignore */ }
    });
  }

  function stopCamera() {
    window.DaiHoiCamera.stop();
    setCamera('off');
    try { storage('localStorage').removeItem(CAMERA_KEY); } catch (e) { /* ignore */ }
  }

  els.camera.addEventListener('click', function () {
    if (els.camera.dataset.state === 'off') startCamera(); else stopCamera();
  });
  window.addEventListener('pagehide', function () { window.DaiHoiCamera.stop(); });

  // Back on, without asking, if it was on last time and the browser still allows it.
  try {
    if (storage('localStorage').getItem(CAMERA_KEY) === '1' && navigator.permissions) {
      navigator.permissions.query({name: 'camera'}).then(function (status) {
        if (status.state === 'granted' && els.camera.dataset.state === 'off') startCamera();
      }, function () { /* this browser cannot tell */ });
    }
  } catch (e) { /* ignore */ }

  // ------------------------------------------------------------ session, station, direction

  els.listSelect.addEventListener('change', function () {
    const url = new URL(cfg.stationUrl, window.location.href);
    url.searchParams.set('list', els.listSelect.value);
    window.location.href = url.toString();
  });

  function drawOpen(open) {
    els.listOpen.dataset.open = open ? '1' : '0';
    els.listOpen.classList.toggle('ok', !!open);
    els.listOpen.textContent = open ? T.open : T.notOpen;
  }
  function followAttendance(att) {
    if (att && att.list_id === listId) drawOpen(att.open);
  }
  socket.on('checkin:attendance', followAttendance);
  socket.on('checkin:current', function (data) { followAttendance(data && data.attendance); });
  window.DaiHoi.onState(function (state) {
    followAttendance(state.checkin && state.checkin.attendance);
  });

  try { els.stationName.value = storage('localStorage').getItem(STATION_KEY) || ''; } catch (e) { /* ignore */ }
  els.stationName.addEventListener('input', function () {
    try { storage('localStorage').setItem(STATION_KEY, stationName()); } catch (e) { /* ignore */ }
  });

  function setDirection(d) {
    direction = d === 'out' ? 'out' : 'in';
    els.root.dataset.mode = direction;
    document.querySelectorAll('[data-direction]').forEach(function (b) {
      b.setAttribute('aria-pressed', b.dataset.direction === direction ? 'true' : 'false');
    });
  }
  document.querySelectorAll('[data-direction]').forEach(function (b) {
    b.addEventListener('click', function () { setDirection(b.dataset.direction); });
  });

  // ------------------------------------------------------------ search and manual entry

  let searchTimer = null;
  let searchSeq = 0;

  function note(text) {
    els.searchNote.textContent = text || '';
    els.searchNote.hidden = !text;
  }

  function personItem(p) {
    const li = document.createElement('li');
    li.className = 'person-item';
    li.dataset.person = p.id;
    const head = document.createElement('div');
    const name = document.createElement('b');
    name.textContent = p.name;
    head.appendChild(name);
    head.appendChild(document.createTextNode(' '));
    const code = document.createElement('small');
    code.className = 'muted';
    code.textContent = p.code;
    head.appendChild(code);
    if (p.kind === 'guest') {
      const guest = document.createElement('span');
      guest.className = 'badge guest';
      guest.textContent = T.guest;
      head.appendChild(document.createTextNode(' '));
      head.appendChild(guest);
    }
    const info = document.createElement('div');
    info.className = 'muted';
    const state = document.createElement('span');
    state.dataset.present = p.present ? '1' : '0';
    state.className = p.present ? 'present' : '';
    state.textContent = p.present ? fill(T.presentSince, {time: p.since}) : T.notPresent;
    info.textContent = (p.unit ? p.unit + ' · ' : '');
    info.appendChild(state);
    li.appendChild(head);
    li.appendChild(info);
    if (!p.present) {
      const manual = button(T.manual, 'manual-button', 'data-manual');
      manual.addEventListener('click', function () { askReason(li, p, manual); });
      li.appendChild(manual);
    }
    return li;
  }

  function askReason(li, p, manual) {
    manual.hidden = true;
    const form = document.createElement('form');
    form.className = 'manual-form';
    form.setAttribute('data-manual-form', '');
    const label = document.createElement('label');
    label.className = 'field';
    const caption = document.createElement('span');
    caption.textContent = T.reason;
    const input = document.createElement('input');
    input.type = 'text';
    input.required = true;
    input.maxLength = 500;
    input.placeholder = T.reasonPlaceholder;
    input.setAttribute('data-manual-reason', '');
    label.appendChild(caption);
    label.appendChild(input);
    const ok = document.createElement('button');
    ok.type = 'submit';
    ok.className = 'primary';
    ok.textContent = T.confirmManual;
    ok.setAttribute('data-manual-confirm', '');
    const cancel = button(T.cancel, '', 'data-manual-cancel');
    cancel.addEventListener('click', function () { form.remove(); manual.hidden = false; });
    form.appendChild(label);
    form.appendChild(ok);
    form.appendChild(cancel);
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      const reason = input.value.trim();
      if (!reason) { input.value = ''; input.reportValidity(); return; }
      ok.disabled = true;
      call('checkin:manual', {event: cfg.event, list: listId, delegate: p.id, reason: reason,
                              nonce: newNonce(), station: stationName()}, function (ack) {
        ok.disabled = false;
        if (!ack.ok) { showError(ack.message); return; }
        showResult(ack.result);
        remember(ack.result);
        if (ack.result.person) li.replaceWith(personItem(ack.result.person));
        focusWedge();
      });
    });
    li.appendChild(form);
    input.focus();
  }

  function runSearch() {
    clearTimeout(searchTimer);
    const q = els.search.value.trim();
    const seq = ++searchSeq;
    if (q.length < 2) { els.results.textContent = ''; note(''); return; }
    note(T.searching);
    call('checkin:search', {event: cfg.event, list: listId, q: q}, function (ack) {
      if (seq !== searchSeq) return;
      els.results.textContent = '';
      if (!ack.ok) { note(ack.message); return; }
      note(ack.people.length ? '' : T.nobody);
      ack.people.forEach(function (p) { els.results.appendChild(personItem(p)); });
    });
  }

  els.search.addEventListener('input', function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 250);
  });
  els.searchForm.addEventListener('submit', function (e) { e.preventDefault(); runSearch(); });

  // ------------------------------------------------------------ start

  socket.on('connect', function () {
    everConnected = true;
    networkFailed = false;
    drawConnection();
    sync();
  });
  socket.on('disconnect', drawConnection);
  socket.on('connect_error', function () { connectFailed = true; drawConnection(); });
  // Back on the network: try at once (the sync finds out whether it really is).
  window.addEventListener('online', function () { networkFailed = false; drawConnection(); sync(); });
  window.addEventListener('offline', function () { networkFailed = true; drawConnection(); });
  setInterval(function () { if (waiting > 0 && !syncing) sync(); }, RETRY_MS);

  drawRecent();
  drawConnection();
  refreshCount().then(function (items) { if (items.length) sync(); });
  focusWedge();
})();
