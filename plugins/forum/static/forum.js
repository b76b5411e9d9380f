/* Forum, live: a page showing a topic's comments watches that topic and adds new comments as
   they come, without touching what the reader is typing; the notice count follows replies. */
(function () {
  'use strict';
  let eventRef = null;

  function list() { return document.querySelector('[data-forum-topic]'); }

  function lastId(ul) {
    let last = 0;
    ul.querySelectorAll('[data-comment]').forEach(function (li) {
      last = Math.max(last, Number(li.dataset.comment));
    });
    return last;
  }

  function place(ul, li) {
    if (document.getElementById(li.id)) return;  // already here (our own, after a reload)
    const parent = li.dataset.parent && document.getElementById('c' + li.dataset.parent);
    const target = parent ? parent.querySelector(':scope > ul.replies') : ul;
    (target || ul).appendChild(li);
    li.classList.add('fresh');
  }

  let fetching = false, again = false;
  function fetchNew() {
    const ul = list();
    if (!ul) return;
    if (fetching) { again = true; return; }
    fetching = true;
    const url = ul.dataset.freshUrl + '?after=' + lastId(ul);
    fetch(url, {credentials: 'same-origin', headers: {Accept: 'text/html'}})
      .then(function (r) { return r.ok ? r.text() : ''; })
      .then(function (html) {
        const box = document.createElement('ul');
        box.innerHTML = html;
        Array.from(box.children).forEach(function (li) { place(ul, li); });
        // (Not box.children.length: placing a comment moves it out of the box.)
        if (ul.querySelector('[data-comment]')) {
          const empty = document.querySelector('[data-no-comments]');
          if (empty) empty.remove();
        }
      })
      .catch(function () { /* the next update or reconnect fetches again */ })
      .finally(function () {
        fetching = false;
        if (again) { again = false; fetchNew(); }
      });
  }

  function watch() {
    const ul = list();
    if (!ul || !window.DaiHoi.socket || !eventRef) return;
    window.DaiHoi.socket.emit('forum:watch', {event: eventRef, topic: Number(ul.dataset.forumTopic)},
      function (ack) { if (ack && ack.ok) fetchNew(); });
  }

  DaiHoi.onState(function (state) {
    eventRef = state.event.ref;
    watch();  // on every (re)connect: rejoin the topic and catch up on what was missed
  });
  DaiHoi.on('forum:activity', function (data) {
    const ul = list();
    if (ul && data && Number(ul.dataset.forumTopic) === data.topic) fetchNew();
  });
  DaiHoi.on('forum:notices', function (data) {
    document.querySelectorAll('[data-forum-unread]').forEach(function (el) {
      el.textContent = data && data.unread ? String(data.unread) : '';
    });
  });

  // The document viewer's "comment on this page" button.
  document.addEventListener('daihoi:comment-page', function (e) {
    const input = document.querySelector('[data-comment-page]');
    if (!input) return;
    input.value = e.detail.page;
    const form = input.closest('form');
    form.scrollIntoView({behavior: 'smooth', block: 'start'});
    const text = form.querySelector('textarea');
    if (text) text.focus({preventScroll: true});
  });
})();
