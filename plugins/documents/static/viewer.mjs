/* The document reader: pdf.js draws each page of the PDF into the page, fitted to the screen's
   width, as it scrolls into view (a 100-page report does not draw 100 canvases at once). Each
   page carries its number, and a button that points the comment form at that page. */
const box = document.querySelector('[data-pdf-viewer]');

function pageLabel(n) {
  return box.dataset.pageLabel + ' ' + n;
}

async function show() {
  const status = box.querySelector('[data-pdf-status]');
  const pdfjs = await import(box.dataset.lib);
  pdfjs.GlobalWorkerOptions.workerSrc = box.dataset.worker;
  const pdf = await pdfjs.getDocument({
    url: box.dataset.src, cMapUrl: box.dataset.cmaps, cMapPacked: true,
    standardFontDataUrl: box.dataset.fonts, isEvalSupported: false,
  }).promise;
  status.remove();
  const pages = [];
  for (let n = 1; n <= pdf.numPages; n++) {
    const page = document.createElement('figure');
    page.className = 'pdf-page';
    page.id = 'page-' + n;
    page.dataset.page = n;
    const canvas = document.createElement('canvas');
    const caption = document.createElement('figcaption');
    const label = document.createElement('span');
    label.textContent = pageLabel(n);
    caption.appendChild(label);
    if (document.querySelector('[data-comment-page]')) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'link';
      button.textContent = box.dataset.commentLabel;
      button.addEventListener('click', function () {
        document.dispatchEvent(new CustomEvent('daihoi:comment-page', {detail: {page: n}}));
      });
      caption.appendChild(button);
    }
    page.appendChild(canvas);
    page.appendChild(caption);
    box.appendChild(page);
    pages.push(page);
  }
  const drawn = new Set();
  async function draw(figure) {
    const n = Number(figure.dataset.page);
    if (drawn.has(n)) return;
    drawn.add(n);
    const page = await pdf.getPage(n);
    const canvas = figure.querySelector('canvas');
    const width = Math.max(box.clientWidth, 200);
    const base = page.getViewport({scale: 1});
    const scale = width / base.width;
    const ratio = window.devicePixelRatio || 1;
    const viewport = page.getViewport({scale: scale * ratio});
    canvas.width = Math.floor(viewport.width);
    canvas.height = Math.floor(viewport.height);
    canvas.style.width = Math.floor(viewport.width / ratio) + 'px';
    await page.render({canvasContext: canvas.getContext('2d'), viewport: viewport}).promise;
    figure.dataset.drawn = '1';
  }
  const watcher = new IntersectionObserver(function (entries) {
    entries.forEach(function (e) { if (e.isIntersecting) draw(e.target); });
  }, {rootMargin: '400px 0px'});
  pages.forEach(function (p) {
    // Reserve the page's height before it is drawn, so the scroll bar is right at once.
    p.style.minHeight = Math.round(box.clientWidth * 1.3) + 'px';
    watcher.observe(p);
  });
  box.dataset.ready = String(pdf.numPages);
  if (location.hash.startsWith('#page-')) {
    const target = document.getElementById(location.hash.slice(1));
    if (target) target.scrollIntoView();
  }
}

if (box) {
  show().catch(function (err) {
    const status = box.querySelector('[data-pdf-status]') || box.appendChild(document.createElement('p'));
    status.textContent = box.dataset.error;
    status.className = 'error';
    box.dataset.failed = '1';
    console.error(err);
  });
}
