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
    const labels = opts.labels || {online: '', offline: ''};
    const socket = io({auth: opts.projector ? {projector: opts.projector} : {},
                       transports: ['websocket', 'polling']});
    socket.on('connect', function () {
      socket.emit('join', {event: eventRef}, function (ack) {
        if (!ack || !ack.ok) { setStatus(labels.offline, false); return; }
        setStatus(labels.online, true);
        stateHandlers.forEach(function (fn) { fn(ack.state); });
      });
    });
    socket.on('disconnect', function (reason) {
      setStatus(labels.offline, false);
      // The server ends connections whose rights changed; come back and rejoin what we may.
      if (reason === 'io server disconnect') {
        setTimeout(function () { socket.connect(); }, 1000 + Math.random() * 2000);
      }
    });
    socket.on('connect_error', function () { setStatus(labels.offline, false); });
    Object.keys(eventHandlers).forEach(function (name) {
      eventHandlers[name].forEach(function (fn) { socket.on(name, fn); });
    });
    window.DaiHoi.socket = socket;
    return socket;
  }

  function clock(el) {
    if (!el) return;
    const tick = function () {
      el.textContent = new Date().toLocaleTimeString('vi-VN', {hour: '2-digit', minute: '2-digit'});
    };
    tick();
    setInterval(tick, 10000);
  }

  window.DaiHoi = {
    live: live,
    clock: clock,
    onState: function (fn) { stateHandlers.push(fn); },
    on: function (name, fn) { (eventHandlers[name] = eventHandlers[name] || []).push(fn); }
  };
})();
