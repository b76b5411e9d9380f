/* Badges page: the progress bar of a badge PDF job.
   It polls GET .../badges/jobs/<id> (status, total, done, url) while the job is waiting or
   running, and redraws at once on the Socket.IO event "delegates:badge_job" sent to staff. */
(function () {
  'use strict';
  const box = document.querySelector('[data-badge-job]');
  if (!box) return;
  const me = document.currentScript;
  const labels = me && me.dataset.labels ? JSON.parse(me.dataset.labels) : {};
  const jobId = Number(box.dataset.badgeJob);
  const statusUrl = box.dataset.statusUrl;
  const bar = box.querySelector('[data-progress]');
  const text = box.querySelector('[data-progress-text]');
  const status = box.querySelector('[data-status]');
  const error = box.querySelector('[data-error]');
  const link = box.querySelector('[data-download]');
  const linkRow = box.querySelector('[data-download-row]');
  const RANK = {queued: 0, running: 1, done: 2, failed: 2};
  let shown = {status: 'queued', done: 0};
  let timer = null;

  function active(s) { return s === 'queued' || s === 'running'; }

  function draw(s) {
    // Updates can arrive out of order (a coalesced progress after the final state): never
    // step back.
    if (RANK[s.status] < RANK[shown.status] ||
        (s.status === shown.status && s.done < shown.done)) return;
    shown = s;
    bar.max = Math.max(1, s.total || 0);
    bar.value = s.done || 0;
    text.textContent = (s.done || 0) + ' / ' + (s.total || 0);
    status.textContent = labels[s.status] || s.status;
    if (s.status === 'failed') {
      error.textContent = s.error || '';
      error.hidden = false;
    }
    if (s.url) {
      link.href = s.url;
      linkRow.hidden = false;
    }
    drawRow(s);
  }

  // The job's line in the list of recent PDFs.
  function drawRow(s) {
    const row = document.querySelector('[data-job-row="' + jobId + '"]');
    if (!row) return;
    row.querySelector('[data-row-progress]').textContent = (s.done || 0) + ' / ' + (s.total || 0);
    row.querySelector('[data-row-status]').textContent = labels[s.status] || s.status;
    const cell = row.querySelector('[data-row-link]');
    if (s.url) {
      const a = document.createElement('a');
      a.href = s.url;
      a.textContent = labels.download || s.url;
      cell.replaceChildren(a);
    } else if (!active(s.status)) {
      cell.replaceChildren();
    }
  }

  function poll() {
    clearTimeout(timer);
    fetch(statusUrl, {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (s) {
        draw(s);
        if (active(s.status)) timer = setTimeout(poll, 1000);
      })
      .catch(function () { timer = setTimeout(poll, 3000); });
  }

  const socket = window.DaiHoi && window.DaiHoi.socket;
  if (socket) {
    socket.on('delegates:badge_job', function (s) {
      if (!s || s.id !== jobId) return;
      draw(s);
      // The final state names no download address: ask for it.
      if (!active(s.status)) poll();
    });
  }
  poll();
})();
