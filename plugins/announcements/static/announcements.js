/* Announcements arrive live in every list marked data-announcements and on the hall screen. */
(function () {
  'use strict';
  function add(list, a) {
    if (list.querySelector('[data-id="' + a.id + '"]')) return;
    const empty = list.querySelector('.empty');
    if (empty) empty.remove();
    const li = document.createElement('li');
    li.dataset.id = a.id;
    li.className = 'fresh';
    const strong = document.createElement('strong');
    strong.textContent = a.title;
    li.appendChild(strong);
    if (a.body) { const p = document.createElement('p'); p.textContent = a.body; li.appendChild(p); }
    list.prepend(li);
  }
  function addEverywhere(a) {
    document.querySelectorAll('[data-announcements]').forEach(function (l) { add(l, a); });
    const box = document.querySelector('[data-projector-announcement]');
    if (box && a) {
      box.querySelector('[data-title]').textContent = a.title;
      box.querySelector('[data-body]').textContent = a.body || '';
      box.hidden = false;
    }
  }
  DaiHoi.onState(function (state) {
    const items = state.announcements || [];
    items.slice().reverse().forEach(addEverywhere);
  });
  DaiHoi.on('announcements:new', addEverywhere);
  DaiHoi.on('announcements:withdrawn', function (m) {
    document.querySelectorAll('[data-announcements] [data-id="' + m.id + '"]').forEach(function (el) { el.remove(); });
  });
})();
