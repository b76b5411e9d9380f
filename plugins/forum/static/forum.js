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
  // This reader's buttons on a comment pushed without them.
  function withActions(ul, li) {
    const tpl = ul.parentElement.querySelector('template[data-actions-template]');
    const bare = li.querySelector(':scope > .comment-actions');
    if (!tpl || !bare) return;
    const holder = document.createElement('div');
    holder.innerHTML = tpl.innerHTML.split(tpl.dataset.placeholder).join(li.dataset.comment);
    const mine = holder.querySelector('.comment-actions');
    if (mine) bare.replaceWith(mine);
  }

  // New comments come with the update, rendered once for every reader (forum/live.py);
  // the page fetches only when it lacks some before them (it was offline, say).
  function addPushed(ul, data) {
    const lang = document.documentElement.lang;
    const html = data.html && (data.html[lang] || data.html.vi);
    if (!html) return;
    if (lastId(ul) < data.after) { fetchNew(); return; }
    const box = document.createElement('ul');
    box.innerHTML = html;
    Array.from(box.children).forEach(function (li) {
      if (document.getElementById(li.id)) return;
      withActions(ul, li);
      place(ul, li);
    });
    const empty = document.querySelector('[data-no-comments]');
    if (empty && ul.querySelector('[data-comment]')) empty.remove();
  }

  DaiHoi.on('forum:activity', function (data) {
    const ul = list();
    if (!ul || !data || Number(ul.dataset.forumTopic) !== data.topic) return;
    addPushed(ul, data);
    if (Array.isArray(data.changed) && data.changed.length) redraw(ul, data.changed);
  });
  DaiHoi.on('forum:notices', function (data) {
    document.querySelectorAll('[data-forum-unread]').forEach(function (el) {
      el.textContent = data && data.unread ? String(data.unread) : '';
    });
  });

  // Redraw comments that changed (edited, hidden, decided on, agreed with) where they stand,
  // keeping their replies, and any reply the reader is typing under them.
  function redraw(ul, ids) {
    const here = ids.filter(function (id) { return document.getElementById('c' + id); });
    if (!here.length) return;
    fetch(ul.dataset.freshUrl + '?ids=' + here.join(','),
          {credentials: 'same-origin', headers: {Accept: 'text/html'}})
      .then(function (r) { return r.ok ? r.text() : ''; })
      .then(function (html) {
        const box = document.createElement('ul');
        box.innerHTML = html;
        Array.from(box.children).forEach(function (fresh) {
          const old = document.getElementById(fresh.id);
          if (!old) return;
          const replies = old.querySelector(':scope > ul.replies');
          const actions = old.querySelector(':scope > .comment-actions');
          const typing = actions && Array.from(actions.querySelectorAll('textarea, input[name=reason]'))
            .some(function (t) { return t.value; });
          if (fresh.querySelector(':scope > p.muted') && !fresh.querySelector('.comment-body') &&
              !(replies && replies.children.length)) {
            old.remove();  // hidden from this reader, nothing under it
            return;
          }
          const freshActions = fresh.querySelector(':scope > .comment-actions');
          if (typing && freshActions) freshActions.replaceWith(actions);
          const freshReplies = fresh.querySelector(':scope > ul.replies');
          if (replies && freshReplies) freshReplies.replaceWith(replies);
          old.replaceWith(fresh);
        });
      })
      .catch(function () { /* the next update redraws it */ });
  }

  // A comment sent is kept here until the page it leads to says it was posted, so a refused
  // one (too long, commenting just closed) comes back into its form whatever its length.
  const DRAFT = 'daihoi:forum-draft';
  document.addEventListener('submit', function (e) {
    const form = e.target;
    const text = form.querySelector && form.querySelector('textarea[name=body]');
    if (!text || !form.action.includes('/forum/')) return;
    const parent = form.querySelector('input[name=parent_id]');
    try {
      sessionStorage.setItem(DRAFT, JSON.stringify({action: form.action, body: text.value,
                                                    parent: parent ? parent.value : ''}));
    } catch (err) { /* private mode: the server keeps short drafts */ }
  });
  function restoreDraft() {
    let draft = null;
    try { draft = JSON.parse(sessionStorage.getItem(DRAFT) || 'null'); } catch (err) { return; }
    if (!draft) return;
    sessionStorage.removeItem(DRAFT);
    if (!document.querySelector('.flash-error')) return;  // it was posted
    const forms = Array.from(document.querySelectorAll('form')).filter(function (f) {
      const p = f.querySelector('input[name=parent_id]');
      return f.action === draft.action && (p ? p.value : '') === draft.parent;
    });
    const text = forms.length && forms[0].querySelector('textarea[name=body]');
    if (!text || text.value) return;
    text.value = draft.body;
    const details = text.closest('details');
    if (details) details.open = true;
  }
  restoreDraft();

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
