// Time on task: the server credits the time between heartbeats. A beat is sent every 30 s
// while the page is in front (visible and focused) and the reader did something in the last
// 3 minutes: scrolling counts, since a phone reader does nothing else.
(function () {
  var url = document.querySelector('[data-heartbeat]').dataset.heartbeat;
  var token = document.querySelector('meta[name=csrf]').content;
  var READING_MS = 180000;
  var lastInput = Date.now();
  ['pointermove', 'pointerdown', 'keydown', 'scroll', 'wheel', 'touchstart', 'touchmove'].forEach(function (e) {
    window.addEventListener(e, function () { lastInput = Date.now(); }, { passive: true, capture: true });
  });
  function reading() { return Date.now() - lastInput < READING_MS; }
  function label(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    var ss = (s < 10 ? '0' : '') + s;
    return h > 0 ? h + ' h ' + (m < 10 ? '0' : '') + m + ' min ' + ss + ' s' : m + ' min ' + ss + ' s';
  }
  function show(answer) {
    var credited = document.querySelector('[data-credited]');
    var remaining = document.querySelector('[data-remaining]');
    if (credited) credited.textContent = label(answer.lesson_seconds);
    if (remaining) remaining.textContent = label(answer.remaining_seconds);
  }
  function send(leaving) {
    var id = Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    fetch(url, { method: 'POST', credentials: 'same-origin', keepalive: leaving,
      headers: { 'content-type': 'application/json', 'x-csrf-token': token },
      body: JSON.stringify({ beat_id: id }) })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) { if (answer) show(answer); })
      .catch(function () {});
  }
  function beat() {
    if (document.visibilityState === 'visible' && document.hasFocus() && reading()) send(false);
  }
  beat();
  setInterval(beat, 30000);
  // Leaving the page ends a stretch of reading (its last seconds count); coming back starts one.
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'hidden') { if (reading()) send(true); }
    else { lastInput = Date.now(); beat(); }
  });
  window.addEventListener('focus', function () { lastInput = Date.now(); beat(); });
})();
