/* Announcements arrive live in every list marked data-announcements and on the hall screen.
   Items are drawn as the server draws them: title, text, time; a list with data-limit keeps
   only its newest items. */
(function () {
  'use strict';
  function item(a) {
    const li = document.createElement('li');
    li.dataset.id = a.id;
    const strong = document.createElement('strong');
    strong.textContent = a.title;
    li.appendChild(strong);
    if (a.body) { const p = document.createElement('p'); p.textContent = a.body; li.appendChild(p); }
    const small = document.createElement('small');
    small.className = 'muted';
    small.textContent = DaiHoi.formatDateTime(a.created_at);
    li.appendChild(small);
    return li;
  }
  function add(list, a, fresh) {
    if (list.querySelector('[data-id="' + a.id + '"]')) return;
    const empty = list.querySelector('.empty');
    if (empty) empty.remove();
    const li = item(a);
    if (fresh) li.classList.add('fresh');
    list.prepend(li);
    const limit = parseInt(list.dataset.limit || '0', 10);
    if (limit) {
      const items = list.querySelectorAll('li[data-id]');
      for (let i = limit; i < items.length; i++) items[i].remove();
    }
  }
  function showOnScreen(a) {
    const box = document.querySelector('[data-projector-announcement]');
    if (!box) return;
    if (!a) { box.hidden = true; delete box.dataset.id; return; }
    box.dataset.id = a.id;
    box.querySelector('[data-title]').textContent = a.title;
    box.querySelector('[data-body]').textContent = a.body || '';
    box.hidden = false;
  }
  DaiHoi.onState(function (state) {
    // The state is the newest announcements still standing: anything newer than its oldest
    // that is not in it was withdrawn while this page was away.
    const items = state.announcements || [];
    const ids = new Set(items.map(function (a) { return a.id; }));
    const oldest = items.length ? Math.min.apply(null, Array.from(ids)) : -Infinity;
    document.querySelectorAll('[data-announcements] li[data-id]').forEach(function (li) {
      const id = parseInt(li.dataset.id, 10);
      if (id >= oldest && !ids.has(id)) li.remove();
    });
    items.slice().reverse().forEach(function (a) {
      document.querySelectorAll('[data-announcements]').forEach(function (l) { add(l, a, false); });
    });
    showOnScreen(items[0]);
  });
  DaiHoi.on('announcements:new', function (a) {
    document.querySelectorAll('[data-announcements]').forEach(function (l) { add(l, a, true); });
    showOnScreen(a);
  });
  DaiHoi.on('announcements:withdrawn', function (m) {
    document.querySelectorAll('[data-announcements] [data-id="' + m.id + '"]').forEach(function (el) { el.remove(); });
    const box = document.querySelector('[data-projector-announcement]');
    if (box && box.dataset.id === String(m.id)) showOnScreen(null);
  });
})();
