/* DaiHoi live channel: connect, join the event, redraw from full state on every (re)connect.
   Modules subscribe with DaiHoi.onState(fn) and DaiHoi.on(socketEvent, fn) before DaiHoi.live(). */
(function () {
  'use strict';
  const stateHandlers = [];
  const eventHandlers = {};

  function setStatus(text, online) {
    document.querySelectorAll('[data-live-status]').forEach(function (el) {
      el.textContent = text;
      el.classList.toggle('offline', !online);
      el.dataset.online = online ? '1' : '0';
    });
  }

  function live(eventRef, opts) {
    opts = opts || {};
    window.DaiHoi.timeZone = opts.timeZone;
    const labels = opts.labels || {online: '', offline: ''};
    const socket = io({auth: opts.projector ? {projector: opts.projector} : {},
                       transports: ['websocket', 'polling']});
    function join() {
      const payload = {event: eventRef};
      if (opts.joinAs) payload.as = opts.joinAs;
      socket.emit('join', payload, function (ack) {
        if (!ack || !ack.ok) {
          setStatus(labels.offline, false);
          // The server too busy, or its database out of reach, for a moment: ask again.
          if (ack && ack.error === 'unavailable') {
            setTimeout(function () { if (socket.connected) join(); }, 3000);
          }
          return;
        }
        setStatus(labels.online, true);
        stateHandlers.forEach(function (fn) { fn(ack.state); });
      });
    }
    socket.on('connect', join);
    socket.on('disconnect', function (reason) {
      setStatus(labels.offline, false);
      // The server ends connections whose rights changed; come back and rejoin what we may.
      if (reason === 'io server disconnect') {
        setTimeout(function () { socket.connect(); }, 1000 + Math.random() * 2000);
      }
    });
    socket.on('connect_error', function (err) {
      setStatus(labels.offline, false);
      // A refusal by the server is final for socket.io; "unavailable" is not: try again soon.
      if (!socket.active && err && err.message === 'unavailable') {
        setTimeout(function () { socket.connect(); }, 2000 + Math.random() * 3000);
      }
    });
    Object.keys(eventHandlers).forEach(function (name) {
      eventHandlers[name].forEach(function (fn) { socket.on(name, fn); });
    });
    window.DaiHoi.socket = socket;
    return socket;
  }

  // The hall's clock in the congress's time zone, whatever the screen's computer is set to.
  function clock(el, timeZone) {
    if (!el) return;
    const tick = function () {
      el.textContent = new Date().toLocaleTimeString('vi-VN',
        {hour: '2-digit', minute: '2-digit', timeZone: timeZone || undefined});
    };
    tick();
    setInterval(tick, 10000);
  }

  // "HH:MM dd/mm/yyyy" in the congress's time zone, as the server writes times.
  function formatDateTime(iso) {
    const d = new Date(iso);
    const parts = {};
    new Intl.DateTimeFormat('en-GB', {timeZone: window.DaiHoi.timeZone, hour: '2-digit',
      minute: '2-digit', day: '2-digit', month: '2-digit', year: 'numeric', hourCycle: 'h23'})
      .formatToParts(d).forEach(function (p) { parts[p.type] = p.value; });
    return parts.hour + ':' + parts.minute + ' ' + parts.day + '/' + parts.month + '/' + parts.year;
  }

  window.DaiHoi = {
    live: live,
    clock: clock,
    formatDateTime: formatDateTime,
    timeZone: undefined,
    onState: function (fn) { stateHandlers.push(fn); },
    on: function (name, fn) { (eventHandlers[name] = eventHandlers[name] || []).push(fn); }
  };
})();
