/* The camera as a QR scanner: the rear camera into a <video>, a few frames a second drawn to an
   offscreen canvas and decoded by jsQR (loaded from /vendor/jsQR.js).

   DaiHoiCamera.start(videoEl, onText, onError) opens the camera and calls onText(text) for each
   code read; onText returning true stops the camera. A code held in front of the camera fires
   once: it fires again only after it has been out of sight for REPEAT_MS (and for a few
   decoded frames, so a busy phone that decodes nothing for a while does not count as the
   badge having gone). onError(err) is
   called when the camera cannot be opened. DaiHoiCamera.stop() stops; DaiHoiCamera.running()
   tells whether the camera is on. start() returns a promise of true (opened) or false. */
(function () {
  'use strict';
  const FRAME_MS = 200;      // about 5 decodes a second: quick enough, easy on phone batteries
  const REPEAT_MS = 2000;    // the same code is not reported twice within this time
  const MAX_SIDE = 800;      // frames are scaled down to this before decoding
  const MIN_MISSES = 3;      // decoded frames without the code before it counts as gone

  let stream = null;
  let video = null;
  let timer = null;
  let canvas = null;
  let ctx = null;
  let generation = 0;        // start() calls outlived by a later start() or stop()
  let lastText = null;
  let lastSeen = 0;
  let missed = 0;

  function stop() {
    generation += 1;
    if (timer) { clearInterval(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    if (video) {
      try { video.pause(); } catch (e) { /* already stopped */ }
      video.srcObject = null;
      video = null;
    }
  }

  function decode(onText) {
    if (!video || video.readyState < 2 || !video.videoWidth || !video.videoHeight) return;
    const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
    const w = Math.round(video.videoWidth * scale);
    const h = Math.round(video.videoHeight * scale);
    if (!canvas) {
      canvas = document.createElement('canvas');
      ctx = canvas.getContext('2d', {willReadFrequently: true});
    }
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    ctx.drawImage(video, 0, 0, w, h);
    const frame = ctx.getImageData(0, 0, w, h);
    const found = window.jsQR(frame.data, w, h, {inversionAttempts: 'dontInvert'});
    if (!found || !found.data) { missed += 1; return; }
    const now = Date.now();
    const repeat = found.data === lastText && (now - lastSeen < REPEAT_MS || missed < MIN_MISSES);
    lastText = found.data;
    lastSeen = now;
    missed = 0;
    if (repeat) return;
    let done = false;
    try { done = onText(found.data) === true; } catch (e) { window.console.error(e); }
    if (done) stop();
  }

  function start(videoEl, onText, onError) {
    stop();
    const mine = generation;
    const fail = function (err) {
      if (mine !== generation) return false;
      stop();
      if (onError) onError(err);
      return false;
    };
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return Promise.resolve(fail(new Error('This browser cannot open the camera.')));
    }
    if (typeof window.jsQR !== 'function') {
      return Promise.resolve(fail(new Error('The QR decoder did not load.')));
    }
    return navigator.mediaDevices.getUserMedia({video: {facingMode: 'environment'}, audio: false})
      .then(function (s) {
        if (mine !== generation) {          // stopped (or restarted) while the user decided
          s.getTracks().forEach(function (t) { t.stop(); });
          return false;
        }
        stream = s;
        video = videoEl;
        video.setAttribute('playsinline', '');
        video.muted = true;
        video.srcObject = s;
        const playing = video.play();
        if (playing && playing.catch) playing.catch(function () { /* autoplay rules; frames still come */ });
        lastText = null;
        missed = 0;
        timer = setInterval(function () { decode(onText); }, FRAME_MS);
        return true;
      }, fail);
  }

  window.DaiHoiCamera = {
    start: start,
    stop: stop,
    running: function () { return stream !== null; }
  };
})();
